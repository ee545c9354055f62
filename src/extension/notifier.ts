import * as vscode from 'vscode';
import { redact } from '../core/log';

/**
 * Every toast the extension shows goes through here, redacted: an error message that quotes a
 * request or a response can never put the token on screen. Resolves to the action chosen, or
 * undefined when dismissed (so callers that do not care must not await it).
 */
export interface Notifier {
  info(message: string, ...actions: string[]): Thenable<string | undefined>;
  warn(message: string, ...actions: string[]): Thenable<string | undefined>;
  error(message: string, ...actions: string[]): Thenable<string | undefined>;
}

export function createNotifier(): Notifier {
  return {
    info: (message, ...actions) => vscode.window.showInformationMessage(redact(message), ...actions),
    warn: (message, ...actions) => vscode.window.showWarningMessage(redact(message), ...actions),
    error: (message, ...actions) => vscode.window.showErrorMessage(redact(message), ...actions),
  };
}
