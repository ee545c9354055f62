import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ContactSheetTestApi } from '../../../src/extension/extension';

export const EXTENSION_ID = 'contact-sheet.contact-sheet';

/** The real, activated extension's test API (it runs in test mode under extensionTestsPath). */
export async function contactSheet(): Promise<ContactSheetTestApi> {
  const extension = vscode.extensions.getExtension<ContactSheetTestApi | undefined>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is installed`);
  const api = await extension.activate();
  assert.ok(api, 'activate() returns the test API in ExtensionMode.Test');
  return api;
}

export function workspaceRoot(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test workspace is open');
  return folder.uri;
}

export async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && (value as unknown) !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
