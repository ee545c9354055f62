import * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import { ContactSheetError, toContactSheetError } from '../../shared/errors';
import type { ScorerProgress } from '../../shared/progress';

/** Where scoring models are described, kept and fetched from. */
export interface ScoringModelsLocation {
  modelsDir: string;
  /** Default: the packaged models/manifest.json. */
  manifestPath?: string;
  hubEndpoint?: string;
}

/**
 * Fetches (resuming, verifying sha256) the scoring models `ids`, or every model a run needs when
 * absent, in a cancellable notification with per-file progress. The one download path of the
 * extension: "Download Scoring Models" and a run's first use both come here.
 * Resolves 'canceled' when the user stopped it (partial files stay and resume next time).
 */
export async function downloadScoringModels(
  location: ScoringModelsLocation,
  options: { ids?: string[]; vqascore?: boolean; logger: Logger; title?: string },
): Promise<{ outcome: 'done' | 'canceled'; ids: string[] }> {
  // Loaded on first use: the store brings hashing, HTTP and the manifest reader.
  const { loadManifest, ModelStore } = await import('../../core/models/store');
  const manifest = await loadManifest(location.manifestPath);
  const wanted = options.ids ?? Object.keys(manifest.models).filter((id) => id !== 'vqascore' || options.vqascore !== false);
  const unknown = wanted.filter((id) => !(id in manifest.models));
  if (unknown.length) {
    throw new ContactSheetError('bad-usage', `Unknown scoring model ${unknown.join(', ')}.`, { action: `Known models: ${Object.keys(manifest.models).join(', ')}.` });
  }
  const store = new ModelStore({ modelsDir: location.modelsDir, manifest, hubEndpoint: location.hubEndpoint, allowDownload: true, logger: options.logger });
  const outcome = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: options.title ?? 'Contact Sheet: scoring models', cancellable: true },
    async (progress, token): Promise<'done' | 'canceled'> => {
      const controller = new AbortController();
      const subscription = token.onCancellationRequested(() => controller.abort());
      try {
        for (const [i, id] of wanted.entries()) {
          const label = `${manifest.models[id].name} (${i + 1}/${wanted.length})`;
          progress.report({ message: label });
          const report = throttled((p: ScorerProgress) => progress.report({ message: `${label}: ${describeProgress(p)}` }));
          try {
            await store.ensure(id, { signal: controller.signal, onProgress: report });
          } catch (e) {
            if (toContactSheetError(e).code === 'canceled') return 'canceled';
            throw e;
          }
          options.logger.info(`Scoring model ${id} ready in ${store.filesFolder(id)}.`);
        }
        return 'done';
      } finally {
        subscription.dispose();
      }
    },
  );
  return { outcome, ids: wanted };
}

function describeProgress(p: ScorerProgress): string {
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
