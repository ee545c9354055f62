/**
 * For a plan (the CLI's --dry-run): which scoring models the run would need, whether they are
 * cached, and how much would be downloaded. Reads the manifest and the cache only (no network,
 * nothing loaded).
 */
import { toContactSheetError } from '../../shared/errors';
import { loadManifest, ModelStore } from '../models/store';
import { METRIC_IDS, type MetricId } from '../scoring/types';
import type { TraceSettings } from './trace';

/** Manifest model ids each metric needs (the aesthetic head runs on CLIP-L's image embeddings). */
export const MODELS_FOR_METRIC: Record<MetricId, string[]> = {
  pickscore: ['pickscore'],
  clip_score: ['clip'],
  vqascore: ['vqascore'],
  aesthetic: ['clip', 'aesthetic'],
};

export interface ScoringDownloadPlan {
  models: { id: string; name: string; metrics: MetricId[]; state: 'ready' | 'partial' | 'missing'; total_bytes: number | null; download_bytes: number | null }[];
  total_download_bytes: number | null;
  /** Why the cache could not be read (the plan is then empty). */
  error?: string;
}

/** Where the scoring models are looked for. */
export interface ScoringModelsLocation {
  modelsDir: string;
  manifestPath?: string;
  hubEndpoint?: string;
}

export async function describeScoringDownloads(settings: TraceSettings, env: ScoringModelsLocation): Promise<ScoringDownloadPlan> {
  const needed = new Map<string, MetricId[]>();
  for (const metric of METRIC_IDS) {
    if (!settings.enabled_metrics[metric]) continue;
    for (const id of MODELS_FOR_METRIC[metric]) needed.set(id, [...(needed.get(id) ?? []), metric]);
  }
  try {
    const manifest = await loadManifest(env.manifestPath);
    const store = new ModelStore({ modelsDir: env.modelsDir, manifest, allowDownload: false, ...(env.hubEndpoint ? { hubEndpoint: env.hubEndpoint } : {}) });
    const models: ScoringDownloadPlan['models'] = [];
    for (const [id, metrics] of needed) {
      if (!manifest.models[id]) continue;
      const s = await store.status(id);
      const onDisk = s.files.reduce((a, f) => a + (f.state === 'present' || f.state === 'partial' ? f.bytesOnDisk : 0), 0);
      const download = s.state === 'ready' ? 0 : s.totalBytes === null ? null : Math.max(0, s.totalBytes - onDisk);
      models.push({ id, name: s.name, metrics, state: s.state, total_bytes: s.totalBytes, download_bytes: download });
    }
    const total = models.some((m) => m.download_bytes === null) ? null : models.reduce((a, m) => a + (m.download_bytes ?? 0), 0);
    return { models, total_download_bytes: total };
  } catch (e) {
    return { models: [], total_download_bytes: null, error: toContactSheetError(e).message };
  }
}
