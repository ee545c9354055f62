/**
 * image_NNN_metadata.json: everything about one ranked image, self-contained (readable without
 * the trace).
 *
 * Schema (schema_version 1):
 * {
 *   schema_version: 1, kind: "contact-sheet.image-metadata", run_id, demo,
 *   rank (1 = best), file ("image_NNN.png"), is_best_candidate,
 *   prompt: { enhanced (sent to the model), original | null, scored_text | null, negative | null },
 *   model: { name ("owner/name"), version | null, fallbacks_tried: [{ model, error }] },
 *   seed, aspect_ratio, width, height, prediction_id,
 *   timestamps: { created_at, started_at, completed_at } (Replicate's, each | null),
 *   predict_time_s | null,
 *   cost: { usd | null, source: "official price" | "predict_time × GPU price" | "unknown", pricing_date, basis? } | null,
 *   scores: { pickscore, clip_score, vqascore, aesthetic: { raw, value (0–100), model } | { value: null, reason } },
 *   overall: { value (0–100) | null, weights: renormalized weights actually used },
 *   preference_probability: softmax of the set's raw PickScores | null (PickScore absent)
 * }
 */
import type { Cost } from '../replicate/types';
import type { ImageScores, MetricId } from '../scoring/types';
import type { GenerationTrace, TraceImage } from './trace';

export const METADATA_SCHEMA_VERSION = 1;
export const METADATA_KIND = 'contact-sheet.image-metadata';

export interface ImageMetadata {
  schema_version: 1;
  kind: typeof METADATA_KIND;
  run_id: string;
  demo: boolean;
  rank: number;
  file: string;
  is_best_candidate: boolean;
  prompt: { enhanced: string; original: string | null; scored_text: string | null; negative: string | null };
  model: { name: string | null; version: string | null; fallbacks_tried: TraceImage['fallbacks'] };
  seed: number;
  aspect_ratio: string;
  width: number | null;
  height: number | null;
  prediction_id: string | null;
  timestamps: { created_at: string | null; started_at: string | null; completed_at: string | null };
  predict_time_s: number | null;
  cost: Cost | null;
  scores: ImageScores;
  overall: { value: number | null; weights: Partial<Record<MetricId, number>> };
  preference_probability: number | null;
}

/** Scores of an image that has none (its scoring failed): every metric absent with the reason. */
export function absentScores(reason: string): ImageScores {
  return {
    pickscore: { value: null, reason },
    clip_score: { value: null, reason },
    vqascore: { value: null, reason },
    aesthetic: { value: null, reason },
  };
}

export function buildImageMetadata(trace: GenerationTrace, image: TraceImage): ImageMetadata {
  if (image.rank === null || image.file === null) throw new Error(`image ${image.index} has no rank yet`);
  return {
    schema_version: METADATA_SCHEMA_VERSION,
    kind: METADATA_KIND,
    run_id: trace.run_id,
    demo: trace.demo,
    rank: image.rank,
    file: image.file,
    is_best_candidate: image.is_best_candidate,
    prompt: {
      enhanced: trace.prompts.enhanced,
      original: trace.prompts.original,
      scored_text: trace.prompts.scored_text,
      negative: trace.prompts.negative,
    },
    model: { name: image.model, version: image.version, fallbacks_tried: image.fallbacks },
    seed: image.seed,
    aspect_ratio: trace.settings.aspect_ratio,
    width: image.width,
    height: image.height,
    prediction_id: image.prediction_id,
    timestamps: { created_at: image.created_at, started_at: image.started_at, completed_at: image.completed_at },
    predict_time_s: image.predict_time_s,
    cost: image.cost,
    scores: image.scores ?? absentScores(image.error?.message ?? 'not scored'),
    overall: { value: image.overall, weights: image.overall_weights ?? {} },
    preference_probability: image.preference_probability,
  };
}
