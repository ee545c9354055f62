import type * as vscode from 'vscode';
import type { Logger } from '../core/log';
import type { ApiTokenStore } from './apiTokenStore';

/** What commands and panels need from the activated extension (built once in activate()). */
export interface ExtensionServices {
  context: vscode.ExtensionContext;
  logger: Logger;
  apiTokens: ApiTokenStore;
  /** Reveals the "Contact Sheet" log channel. */
  showLog(): void;
}
