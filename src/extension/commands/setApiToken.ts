import * as vscode from 'vscode';
import { registerSecret } from '../../core/log';
import { toContactSheetError } from '../../shared/errors';
import type { ExtensionServices } from '../extensionServices';

/**
 * "Set Replicate API Token": asks for the token, checks it with Replicate (GET /v1/account, free)
 * and keeps it in SecretStorage only. A token Replicate refuses is not stored; one that cannot be
 * checked now (offline) is stored with a warning. Resolves true when a token was stored.
 */
export async function setApiToken(services: ExtensionServices): Promise<boolean> {
  const token = await vscode.window.showInputBox({
    title: 'Replicate API Token',
    prompt: 'Paste your Replicate API token (replicate.com/account/api-tokens). It is kept in VS Code\'s secret storage.',
    placeHolder: 'r8_…',
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : 'The token cannot be empty.'),
  });
  if (token === undefined) return false;
  return storeVerifiedToken(services, token.trim());
}

/** Checks `token` with Replicate, then stores it (the second half of Set Token). */
export async function storeVerifiedToken(services: ExtensionServices, token: string): Promise<boolean> {
  registerSecret(token);
  let account: string | null = null;
  try {
    account = (
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Contact Sheet: checking the token with Replicate' }, () =>
        services.engines.checkToken(token),
      )
    ).username;
  } catch (e) {
    const error = toContactSheetError(e);
    if (error.code === 'token-invalid') {
      services.logger.warn('Replicate refused the token that was entered; it was not stored.');
      void services.notifier.error('Contact Sheet: Replicate did not accept this token, so it was not stored.', 'Set Token').then((c) => {
        if (c) void vscode.commands.executeCommand('contactSheet.setApiToken');
      });
      return false;
    }
    services.logger.warn(`The token could not be checked now (${error.message}); it is stored anyway.`);
    void services.notifier.warn(`Contact Sheet: Replicate API token saved, but it could not be checked now: ${error.message}`);
  }
  await services.apiTokens.set(token);
  if (account) services.tokenStatus.record('set', account);
  else await services.tokenStatus.refresh();
  services.logger.info(`Replicate API token stored in secret storage${account ? ` (account ${account})` : ''}.`);
  if (account) void services.notifier.info(`Contact Sheet: Replicate API token saved (account ${account}).`);
  return true;
}
