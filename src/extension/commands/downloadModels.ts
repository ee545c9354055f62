import { join } from 'node:path';
import * as vscode from 'vscode';
import { ContactSheetError, toContactSheetError } from '../../shared/errors';
import { resolveModelsDir } from '../../core/models/modelsDir';
import { loadManifest, ModelStore } from '../../core/models/store';
import type { ScorerProgress } from '../../core/scoring/types';
import type { ExtensionServices } from '../extensionServices';

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

/** The scoring models' folder: the setting, else $CONTACT_SHEET_MODELS_DIR, else the extension's global storage. */
export function scoringModelsDir(services: ExtensionServices, config = vscode.workspace.getConfiguration('contactSheet')): string {
  const configured = config.get<string>('scoring.modelsDir');
  // Only when needed: a configured folder makes the global storage irrelevant.
  if (configured?.trim()) return resolveModelsDir({ configured });
  return resolveModelsDir({ faceDefault: join(services.context.globalStorageUri.fsPath, 'models') });
}

/**
 * "Download Scoring Models": fetches (resuming, verifying sha256) every scoring model a run will
 * need, with progress and cancel, so the first run does not wait on several GB of downloads.
 * The VS Code face of `contact-sheet models pull`.
 */
export async function downloadModels(services: ExtensionServices, argument?: unknown, source: ScoringModelsSource = {}): Promise<void> {
  const options = parseOptions(argument);
  const config = vscode.workspace.getConfiguration('contactSheet');
  const modelsDir = scoringModelsDir(services, config);
  const manifest = await loadManifest(source.manifestPath);
  const wanted = options.ids ?? Object.keys(manifest.models).filter((id) => id !== 'vqascore' || config.get<boolean>('scoring.vqascore', true));
  const unknown = wanted.filter((id) => !(id in manifest.models));
  if (unknown.length) {
    throw new ContactSheetError('bad-usage', `Unknown scoring model ${unknown.join(', ')}.`, { action: `Known models: ${Object.keys(manifest.models).join(', ')}.` });
  }
  const store = new ModelStore({
    modelsDir,
    manifest,
    hubEndpoint: config.get<string>('scoring.hubEndpoint')?.trim() || undefined,
    allowDownload: true,
    logger: services.logger,
  });

  const canceled = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Contact Sheet: scoring models', cancellable: true },
    async (progress, token) => {
      const controller = new AbortController();
      token.onCancellationRequested(() => controller.abort());
      for (const [i, id] of wanted.entries()) {
        const label = `${manifest.models[id].name} (${i + 1}/${wanted.length})`;
        progress.report({ message: label });
        const report = throttled((p: ScorerProgress) => progress.report({ message: `${label}: ${describe(p)}` }));
        try {
          await store.ensure(id, { signal: controller.signal, onProgress: report });
        } catch (e) {
          if (toContactSheetError(e).code === 'canceled') return true;
          throw e;
        }
        services.logger.info(`Scoring model ${id} ready in ${store.filesFolder(id)}.`);
      }
      return false;
    },
  );
  if (canceled) {
    void vscode.window.showInformationMessage('Contact Sheet: download canceled. Partial files are kept and resume next time.');
    return;
  }
  void vscode.window.showInformationMessage(`Contact Sheet: scoring models ready (${wanted.join(', ')}).`);
}

function parseOptions(argument: unknown): DownloadModelsOptions {
  if (argument === undefined || argument === null) return {};
  if (typeof argument !== 'object' || argument instanceof vscode.Uri) return {};
  const a = argument as Record<string, unknown>;
  const ids = Array.isArray(a.ids) && a.ids.every((x) => typeof x === 'string') ? (a.ids as string[]) : undefined;
  return { ids };
}

function describe(p: ScorerProgress): string {
  if (p.type !== 'download') return p.type;
  const mb = (n: number) => `${(n / 1e6).toFixed(n >= 1e9 ? 0 : 1)} MB`;
  const of = p.totalBytes ? ` of ${mb(p.totalBytes)}` : '';
  const eta = p.etaSeconds !== null ? `, ${Math.ceil(p.etaSeconds)} s left` : '';
  return `${p.file} ${mb(p.receivedBytes)}${of} at ${mb(p.bytesPerSecond)}/s${eta}`;
}

/** Progress events arrive per chunk; the notification needs a few updates a second at most. */
function throttled<T>(fn: (v: T) => void, everyMs = 250): (v: T) => void {
  let last = 0;
  return (v) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    fn(v);
  };
}
