/**
 * Closes the one gap a kill can leave: a prediction Replicate created whose id the run had no
 * time to write into the trace (killed between the create's answer and the trace write, a few
 * milliseconds). Before resuming, the account's recent predictions are searched for ones made by
 * this run — created after the run started, on one of its models, with exactly the input the run
 * sends for an image still waiting for one — and those are adopted instead of paid for again.
 *
 * The expected input is rebuilt the way the generator builds it (the model's schema through the
 * input adapter), so a seeded model's prediction matches only the image with its seed. A model
 * without a seed input sends the same input for every image: any unrecorded prediction of that
 * input is as good as another, so each is adopted for one waiting image, in order. A prediction the
 * run already claimed (trace.claimed_predictions, or recorded on an image) is never adopted again,
 * so no prediction is ever counted for two images.
 */
import type { Prediction } from '../replicate/apiTypes';
import type { ReplicateClient } from '../replicate/client';
import { canonicalJson } from '../replicate/createLookup';
import { adaptInput, inputSchemaOf } from '../replicate/inputAdapter';
import { modelName, parseModelRef } from '../replicate/modelRef';
import { claimedPredictionIds, claimPrediction, type GenerationTrace, type TraceImage } from './trace';

/** Clock skew allowed between this machine and Replicate's created_at. */
const SKEW_MS = 60_000;
const MAX_PAGES = 5;

export interface RecoveredPrediction {
  index: number;
  prediction_id: string;
  model: string;
}

export async function recoverUnrecordedPredictions(client: ReplicateClient, trace: GenerationTrace, signal?: AbortSignal): Promise<RecoveredPrediction[]> {
  const waiting = trace.images.filter((i) => i.status === 'pending' && !i.prediction_id);
  if (waiting.length === 0) return [];
  const expected = await expectedInputs(client, trace, waiting, signal);
  if (expected.size === 0) return [];
  const since = Date.parse(trace.created_at) - SKEW_MS;
  const known = claimedPredictionIds(trace);
  const recovered: RecoveredPrediction[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES && expected.size > 0; page++) {
    const result = await client.listPredictions(cursor, { signal });
    let reachedOlder = false;
    for (const p of result.results) {
      const created = Date.parse(p.created_at);
      if (!Number.isFinite(created) || created < since) {
        reachedOlder ||= Number.isFinite(created);
        continue;
      }
      if (known.has(p.id) || p.status === 'failed' || p.status === 'canceled' || p.status === 'aborted') continue;
      const prefix = `${p.model} `;
      if (![...expected.keys()].some((k) => k.startsWith(prefix))) continue;
      const input: Prediction['input'] | undefined = p.input ?? (await client.getPrediction(p.id, { signal })).input;
      const key = `${prefix}${canonicalJson(input)}`;
      const img = expected.get(key)?.shift();
      if (!img) continue;
      if (expected.get(key)?.length === 0) expected.delete(key);
      Object.assign(img, { status: 'created', prediction_id: p.id, model: p.model });
      known.add(p.id);
      claimPrediction(trace, p.id);
      recovered.push({ index: img.index, prediction_id: p.id, model: p.model });
    }
    if (reachedOlder || !result.next) break;
    cursor = result.next;
  }
  return recovered;
}

/**
 * "owner/name <canonical input>" → the waiting images that input would be sent for, in index order
 * (one image per key for a seeded model; every waiting image under one key without a seed).
 * A model whose schema cannot be read is skipped: nothing of it is adopted.
 */
async function expectedInputs(client: ReplicateClient, trace: GenerationTrace, waiting: TraceImage[], signal?: AbortSignal): Promise<Map<string, TraceImage[]>> {
  const expected = new Map<string, TraceImage[]>();
  for (const model of trace.settings.models) {
    const ref = parseModelRef(model);
    let schema;
    try {
      schema = inputSchemaOf((await client.getModel(ref, { signal })).version, model);
    } catch (e) {
      if (signal?.aborted) throw e;
      continue;
    }
    for (const img of waiting) {
      let input: Record<string, unknown>;
      try {
        input = adaptInput(
          schema,
          { prompt: trace.prompts.enhanced, negativePrompt: trace.prompts.negative ?? undefined, aspectRatio: trace.settings.aspect_ratio, seed: img.seed },
          model,
        ).input;
      } catch {
        break; // the model cannot take this run's input: nothing of it to adopt
      }
      const key = `${modelName(ref)} ${canonicalJson(input)}`;
      expected.set(key, [...(expected.get(key) ?? []), img]);
    }
  }
  return expected;
}
