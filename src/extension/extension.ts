import * as vscode from 'vscode';
import { ApiTokenStore } from './apiTokenStore';
import { registerCommands } from './commands/commandHandlers';
import type { ScoringModelsSource } from './commands/downloadModels';
import { storeVerifiedToken } from './commands/setApiToken';
import { EngineHost } from './engine/engineHost';
import type { ExtensionServices } from './extensionServices';
import { createLogChannel } from './logChannel';
import { createNotifier } from './notifier';
import { ResultsPanel } from './panel/resultsPanel';
import { ResultsPanelSerializer } from './panel/resultsPanelSerializer';
import { RESULTS_VIEW_TYPE } from './panel/webviewHtml';
import { RunControllers } from './run/runControllers';
import { REVEAL_RUN_PANEL_COMMAND, RunStatusBar } from './run/runStatusBar';
import { readEngineSettings } from './settings/engineSettings';
import { TokenStatus } from './tokenStatus';

/** What the integration tests reach in the real extension host (returned only in test mode). */
export interface ContactSheetTestApi {
  services: ExtensionServices;
  panel(promptUri: vscode.Uri): ResultsPanel | undefined;
  /** Every envelope a results panel posts to its webview, as posted. */
  onDidPostToWebview: typeof ResultsPanel.onDidPostMessage;
  /** Checks a token with Replicate and stores it when accepted (the second half of Set Token). */
  storeToken(token: string): Promise<boolean>;
  /** How long activate() took, ms. */
  activationMs: number;
}

let active: ExtensionServices | undefined;

/**
 * Activated lazily (a command, a walkthrough step or a panel to restore): registers and returns
 * quickly. Nothing heavy loads here: the engine, onnxruntime and sharp load on the first run.
 */
export function activate(context: vscode.ExtensionContext): ContactSheetTestApi | undefined {
  const started = performance.now();
  const { channel, logger } = createLogChannel();
  const apiTokens = new ApiTokenStore(context.secrets);
  // The CLI's --manifest for the extension: tests of the packaged VSIX name tiny models' manifest here.
  const scoringModels: ScoringModelsSource = process.env.CONTACT_SHEET_MODELS_MANIFEST ? { manifestPath: process.env.CONTACT_SHEET_MODELS_MANIFEST } : {};
  const engines = new EngineHost({ globalStorage: context.globalStorageUri, apiTokens, logger, scoringModels });
  const tokenStatus = new TokenStatus(apiTokens, (token) => engines.checkToken(token), logger, () => readEngineSettings(context.globalStorageUri).apiBaseUrl);
  const services: ExtensionServices = {
    context,
    logger,
    apiTokens,
    tokenStatus,
    engines,
    notifier: createNotifier(),
    statusBar: new RunStatusBar(),
    runs: new RunControllers(() => services),
    scoringModels,
    showLog: () => channel.show(true),
  };
  active = services;
  context.subscriptions.push(
    channel,
    engines,
    tokenStatus,
    services.statusBar,
    services.runs,
    ...registerCommands(services),
    vscode.commands.registerCommand(REVEAL_RUN_PANEL_COMMAND, (uri: unknown) => {
      if (uri instanceof vscode.Uri) ResultsPanel.show(services, uri);
    }),
    vscode.window.registerWebviewPanelSerializer(RESULTS_VIEW_TYPE, new ResultsPanelSerializer(services)),
  );
  const activationMs = performance.now() - started;
  logger.info(`Contact Sheet activated in ${activationMs.toFixed(1)} ms.`);
  return context.extensionMode === vscode.ExtensionMode.Test ? { services, panel: (uri) => ResultsPanel.get(uri), onDidPostToWebview: ResultsPanel.onDidPostMessage, storeToken: (token) => storeVerifiedToken(services, token), activationMs } : undefined;
}

/** Closes the kept scoring sessions and the DEMO's local servers. */
export async function deactivate(): Promise<void> {
  active?.runs.dispose();
  await active?.engines.disposeAsync();
  active = undefined;
}
