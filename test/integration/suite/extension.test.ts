import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ContactSheetTestApi } from '../../../src/extension/extension';

const EXTENSION_ID = 'contact-sheet.contact-sheet';
const RESULTS_VIEW_TYPE = 'contactSheet.results';

function workspaceFile(relative: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test workspace is open');
  return vscode.Uri.joinPath(folder.uri, relative);
}

function resultsTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    // The workbench prefixes webview view types (e.g. "mainThreadWebview-contactSheet.results").
    .filter((tab) => tab.input instanceof vscode.TabInputWebview && tab.input.viewType.endsWith(RESULTS_VIEW_TYPE));
}

/** Polls (bounded) until a results tab with this label exists. */
async function waitForResultsTab(label: string, timeoutMs = 10_000): Promise<vscode.Tab> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const tab = resultsTabs().find((t) => t.label === label);
    if (tab) return tab;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no results tab "${label}" after ${timeoutMs} ms; tabs: ${resultsTabs().map((t) => t.label).join(', ') || 'none'}`);
}

describe('Contact Sheet extension', () => {
  before(async () => {
    // These tests open panels; the runs they start stop at the missing token (nothing to pick).
    await vscode.workspace.getConfiguration('contactSheet').update('askForOptions', false, vscode.ConfigurationTarget.Workspace);
  });

  after(async () => {
    await vscode.workspace.getConfiguration('contactSheet').update('askForOptions', undefined, vscode.ConfigurationTarget.Workspace);
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('activates and registers its commands', async () => {
    const extension = vscode.extensions.getExtension<ContactSheetTestApi>(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is installed`);
    const wasActive = extension.isActive;
    const started = performance.now();
    const api = await extension.activate();
    const wallMs = performance.now() - started;
    assert.equal(extension.isActive, true);
    // Printed for the record (no timing assertion): activate() itself, and load + activate when this call did both.
    console.log(`      activate() took ${api.activationMs.toFixed(1)} ms${wasActive ? '' : `; loading and activating took ${wallMs.toFixed(1)} ms`}`);
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('contactSheet.generate'), 'contactSheet.generate is registered');
    assert.ok(commands.includes('contactSheet.setApiToken'), 'contactSheet.setApiToken is registered');
    assert.ok(commands.includes('contactSheet.downloadModels'), 'contactSheet.downloadModels is registered');
    assert.ok(commands.includes('contactSheet.openRun'), 'contactSheet.openRun is registered');
  });

  it('exposes the manifest defaults through getConfiguration', () => {
    const config = vscode.workspace.getConfiguration('contactSheet');
    assert.equal(config.get('model'), 'black-forest-labs/flux-schnell');
    assert.deepEqual(config.get('fallbackModels'), ['stability-ai/sdxl']);
    assert.equal(config.get('numVariations'), 8);
    assert.equal(config.get('aspectRatio'), '16:9');
    assert.equal(config.get('seed'), null);
    assert.equal(config.get('outputFolder'), '');
    assert.deepEqual(config.get('weights'), { pickscore: 0.5, clipScore: 0.25, vqascore: 0.15, aesthetic: 0.1 });
    assert.equal(config.get('concurrency'), 8);
    assert.equal(config.get('budgetLimitUsd'), null);
    assert.equal(config.get('scoring.precision'), 'fp32');
    assert.equal(config.get('scoring.lowMemory'), false);
    assert.equal(config.get('scoring.vqascore'), true);
    assert.deepEqual(config.get('scoring.executionProviders'), ['cpu']);
    assert.equal(config.get('scoring.modelsDir'), '');
    assert.equal(config.get('scoring.hubEndpoint'), '');
    assert.equal(config.get('apiBaseUrl'), '');
  });

  it('opens the results panel for a prompt file passed as the explorer argument', async () => {
    await vscode.commands.executeCommand('contactSheet.generate', workspaceFile('prompts/lighthouse.txt'));
    const tab = await waitForResultsTab('Contact Sheet: lighthouse.txt');
    assert.equal(tab.isActive, true);
  });

  it('reuses the panel when the same prompt is generated twice', async () => {
    const prompt = workspaceFile('prompts/lighthouse.txt');
    await vscode.commands.executeCommand('contactSheet.generate', prompt);
    await waitForResultsTab('Contact Sheet: lighthouse.txt');
    await vscode.commands.executeCommand('contactSheet.generate', prompt);
    assert.equal(resultsTabs().filter((t) => t.label === 'Contact Sheet: lighthouse.txt').length, 1);
  });

  it('uses the active editor when run without an argument', async () => {
    await vscode.window.showTextDocument(workspaceFile('prompts/fox.md'));
    await vscode.commands.executeCommand('contactSheet.generate');
    await waitForResultsTab('Contact Sheet: fox.md');
  });

  it('opens no panel for a file that is not a prompt, and says so with what to do', async () => {
    const api = await vscode.extensions.getExtension<ContactSheetTestApi>(EXTENSION_ID)!.activate();
    const real = api.services.notifier;
    const toasts: { level: string; message: string; actions: string[] }[] = [];
    const record = (level: string) => (message: string, ...actions: string[]) => {
      toasts.push({ level, message, actions });
      return Promise.resolve(undefined);
    };
    api.services.notifier = { info: record('info'), warn: record('warn'), error: record('error') };
    try {
      await vscode.commands.executeCommand('contactSheet.generate', workspaceFile('notes.json'));
    } finally {
      api.services.notifier = real;
    }
    // The command has settled (it awaits the error message only until it is shown, not dismissed).
    assert.deepEqual(resultsTabs().map((t) => t.label), []);
    assert.deepEqual(toasts, [{ level: 'error', message: 'Contact Sheet: notes.json is not a prompt file. Choose a .txt or .md file that contains the prompt.', actions: ['Show Log'] }]);
  });
});
