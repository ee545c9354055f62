/**
 * Closes the one gap a kill can leave: a prediction Replicate created whose id the run had no
 * time to write into the trace (killed between the create's answer and the trace write, a few
 * milliseconds). Before resuming, the account's recent predictions are searched for ones made by
 * this run — same model, same prompt, same seed as an image still pending, created after the run
 * started — and those are adopted instead of paid for again.
 */
import type { Prediction } from '../replicate/apiTypes';
import type { ReplicateClient } from '../replicate/client';
import { modelName, parseModelRef } from '../replicate/modelRef';
import type { GenerationTrace } from './trace';

/** Clock skew allowed between this machine and Replicate's created_at. */
const SKEW_MS = 60_000;
const MAX_PAGES = 5;

export interface RecoveredPrediction {
  index: number;
  prediction_id: string;
  model: string;
}

export async function recoverUnrecordedPredictions(client: ReplicateClient, trace: GenerationTrace, signal?: AbortSignal): Promise<RecoveredPrediction[]> {
  const pending = new Map(trace.images.filter((i) => i.status === 'pending' && !i.prediction_id).map((i) => [i.seed, i]));
  if (pending.size === 0) return [];
  const since = Date.parse(trace.created_at) - SKEW_MS;
  const models = new Set(trace.settings.models.map((m) => modelName(parseModelRef(m))));
  const known = new Set(trace.images.map((i) => i.prediction_id).filter((id): id is string => Boolean(id)));
  const recovered: RecoveredPrediction[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES && pending.size > 0; page++) {
    const result = await client.listPredictions(cursor, { signal });
    let reachedOlder = false;
    for (const p of result.results) {
      const created = Date.parse(p.created_at);
      if (Number.isFinite(created) && created < since) {
        reachedOlder = true;
        continue;
      }
      if (known.has(p.id) || !models.has(p.model) || p.status === 'failed' || p.status === 'canceled' || p.status === 'aborted') continue;
      const input = p.input ?? (await client.getPrediction(p.id, { signal })).input;
      const img = matchingImage(input, trace, pending);
      if (!img) continue;
      Object.assign(img, { status: 'created', prediction_id: p.id, model: p.model });
      pending.delete(img.seed);
      known.add(p.id);
      recovered.push({ index: img.index, prediction_id: p.id, model: p.model });
    }
    if (reachedOlder || !result.next) break;
    cursor = result.next;
  }
  return recovered;
}

function matchingImage(input: Prediction['input'] | undefined, trace: GenerationTrace, pending: Map<number, GenerationTrace['images'][number]>) {
  if (!input || input.prompt !== trace.prompts.enhanced || typeof input.seed !== 'number') return undefined;
  return pending.get(input.seed);
}
