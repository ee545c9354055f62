import * as vscode from 'vscode';
import type { ExtensionServices } from '../extensionServices';

/** "Set Replicate API Token": asks for the token and keeps it in SecretStorage only. */
export async function setApiToken(services: ExtensionServices): Promise<void> {
  const token = await vscode.window.showInputBox({
    title: 'Replicate API Token',
    prompt: 'Paste your Replicate API token (replicate.com/account/api-tokens). It is kept in VS Code\'s secret storage.',
    placeHolder: 'r8_…',
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : 'The token cannot be empty.'),
  });
  if (token === undefined) return;
  await services.apiTokens.set(token.trim());
  services.logger.info('Replicate API token stored in secret storage.');
  void vscode.window.showInformationMessage('Contact Sheet: Replicate API token saved.');
}
