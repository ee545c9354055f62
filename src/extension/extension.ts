import * as vscode from 'vscode';
import { ApiTokenStore } from './apiTokenStore';
import { registerCommands } from './commands/commandHandlers';
import type { ExtensionServices } from './extensionServices';
import { createLogChannel } from './logChannel';
import { ResultsPanelSerializer } from './panel/resultsPanelSerializer';
import { RESULTS_VIEW_TYPE } from './panel/webviewHtml';

/** Activated lazily (a command or a panel to restore): registers and returns quickly. */
export function activate(context: vscode.ExtensionContext): void {
  const started = performance.now();
  const { channel, logger } = createLogChannel();
  const services: ExtensionServices = {
    context,
    logger,
    apiTokens: new ApiTokenStore(context.secrets),
    showLog: () => channel.show(true),
  };
  context.subscriptions.push(
    channel,
    ...registerCommands(services),
    vscode.window.registerWebviewPanelSerializer(RESULTS_VIEW_TYPE, new ResultsPanelSerializer(services)),
  );
  logger.info(`Contact Sheet activated in ${(performance.now() - started).toFixed(1)} ms.`);
}

export function deactivate(): void {}
