import * as vscode from 'vscode';
import { downloadScoringModels } from '../engine/scoringModelsDownload';
import type { ExtensionServices } from '../extensionServices';
import { scoringModelsDir } from '../settings/engineSettings';

/** Optional command argument: which of the packaged manifest's models (default: all a run needs). */
export interface DownloadModelsOptions {
  ids?: string[];
}

/**
 * Where the models are described. Not part of the command's argument: any extension can run a
 * command, and none may point downloads at another manifest. Tests pass their tiny models' one.
 */
export interface ScoringModelsSource {
  /** Default: the packaged models/manifest.json. */
  manifestPath?: string;
}

/**
 * "Download Scoring Models": fetches (resuming, verifying sha256) every scoring model a run will
 * need, with progress and cancel, so the first run does not wait on several GB of downloads.
 * The VS Code face of `contact-sheet models pull`.
 */
export async function downloadModels(services: ExtensionServices, argument?: unknown, source: ScoringModelsSource = services.scoringModels): Promise<void> {
  const config = vscode.workspace.getConfiguration('contactSheet');
  const { outcome, ids } = await downloadScoringModels(
    {
      modelsDir: scoringModelsDir(services.context.globalStorageUri, config),
      hubEndpoint: config.get<string>('scoring.hubEndpoint')?.trim() || undefined,
      ...(source.manifestPath ? { manifestPath: source.manifestPath } : {}),
    },
    { ids: parseOptions(argument).ids, vqascore: config.get<boolean>('scoring.vqascore', true), logger: services.logger },
  );
  if (outcome === 'canceled') {
    void services.notifier.info('Contact Sheet: download canceled. Partial files are kept and resume next time.');
    return;
  }
  void services.notifier.info(`Contact Sheet: scoring models ready (${ids.join(', ')}).`);
}

function parseOptions(argument: unknown): DownloadModelsOptions {
  if (argument === undefined || argument === null) return {};
  if (typeof argument !== 'object' || argument instanceof vscode.Uri) return {};
  const a = argument as Record<string, unknown>;
  const ids = Array.isArray(a.ids) && a.ids.every((x) => typeof x === 'string') ? (a.ids as string[]) : undefined;
  return { ids };
}
