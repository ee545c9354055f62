import type * as vscode from 'vscode';
import type { Logger } from '../core/log';
import type { ApiTokenStore } from './apiTokenStore';
import type { ScoringModelsSource } from './commands/downloadModels';
import type { EngineHost } from './engine/engineHost';
import type { Notifier } from './notifier';
import type { RunControllers } from './run/runControllers';
import type { RunStatusBar } from './run/runStatusBar';
import type { TokenStatus } from './tokenStatus';

/** What commands and panels need from the activated extension (built once in activate()). */
export interface ExtensionServices {
  context: vscode.ExtensionContext;
  logger: Logger;
  apiTokens: ApiTokenStore;
  /** What the panels may know about the token (never the token). */
  tokenStatus: TokenStatus;
  /** The long-lived engines (Replicate and DEMO), made on first use. */
  engines: EngineHost;
  /** Every toast, redacted. */
  notifier: Notifier;
  statusBar: RunStatusBar;
  /** One run controller per prompt (a run outlives its panel). */
  runs: RunControllers;
  /** Where the scoring models are described (default: the packaged manifest). */
  scoringModels: ScoringModelsSource;
  /** Reveals the "Contact Sheet" log channel. */
  showLog(): void;
}
