/**
 * generation_trace.json: the run's record. Rewritten (atomically) after every step, so a run killed
 * at any moment leaves a trace that says what finished; `contact-sheet resume` and the webview's
 * history read it back.
 *
 * Schema (schema_version 1; all times ISO 8601 UTC; all costs USD; scores 0–100 with their raw value):
 * {
 *   schema_version: 1, kind: "contact-sheet.generation-trace",
 *   run_id, demo (true when produced by the demo's fake Replicate + random-weight models: scores mean nothing),
 *   status: "running" | "finalizing" | "succeeded" | "partial" | "failed" | "canceled",
 *   created_at, updated_at, finished_at | null, resumed_at: string[] (one per resume),
 *   tool: { name, version, node, platform, arch, onnxruntime | null, sharp | null },
 *   prompt_file: absolute path | null,
 *   prompts: { original | null, enhanced (the text sent to the model), negative | null, title | null,
 *              scored_text | null (what the CLIP metrics saw after truncation to 77 tokens),
 *              scored_text_truncated | null, clip_token_count | null,
 *              unsaved_edits (the text came from an editor buffer with changes not saved to prompt_file) },
 *   settings: { models: ["owner/name[:version]", …] (primary first), primary_model, fallback_models,
 *               aspect_ratio, num_variations, base_seed, seed_source: "cli" | "front-matter" | "random",
 *               seeds: number[] (seed of image i = base_seed + i), concurrency, weights {pickscore, clip_score,
 *               vqascore, aesthetic}, precision, enabled_metrics {…: boolean}, budget_usd | null, api_base_url,
 *               prediction_timeout_s (the client cancels a prediction not finished by then),
 *               cancel_after (the Cancel-After header each create carries: Replicate's own deadline, a minute later) },
 *   scoring_models: { pickscore, clip_score, vqascore, aesthetic: model description | null } | null,
 *   images: TraceImage[] (one per job, by index; see below),
 *   claimed_predictions: string[] (every prediction id this run created or adopted, recorded the moment it is
 *              known, including attempts that fell back to another model: a lookup or a resume never adopts one
 *              of these for another image, so no prediction is counted twice),
 *   api_calls: ApiCallRecord[] (method, path, status, started_at, duration_ms, attempt, prediction_id?, image_index?, cost?, error?,
 *              rate_limit_wait_ms? (held by the rate-limit gate before it was sent), cancel_after? (creates)),
 *   rate_limit_waits: RateLimitWait[] (one per window in which Replicate's rate limit held requests: window, lane
 *              "create" | "other", started_at, until, wait_ms, source, retry_after | null, call, image_index?),
 *   costs: { total_usd, unknown_count, by_model: { "owner/name": { usd, images, unknown } },
 *            by_source: { "<source>": { usd, images } }, estimate: { usd | null, per_image | null, source, basis } | null },
 *   timings: { generation_ms, download_ms, scoring_ms, model_load_ms, total_ms, first_image_ms } (each number | null;
 *              download_ms sums the output downloads recorded as API calls; scoring_ms sums the scorer's busy time),
 *   ranking: { order: image indices best first, comparison: ComparisonSummary | null } | null,
 *   warnings: string[], error: { code, message, action? } | null
 * }
 * TraceImage: { index, seed, status: "pending" | "created" | "generated" | "scored" | "failed",
 *   model | null, version | null, prediction_id | null (recorded as soon as the prediction exists),
 *   pending_file: "pending/seed_<seed>_<NNN>.png" (where the image sits until ranking),
 *   file: "image_NNN.png" | null (its ranked name once moved; while status is "finalizing" the planned name),
 *   metadata_file | null, rank | null, is_best_candidate, width | null, height | null,
 *   created_at | null, started_at | null, completed_at | null, predict_time_s | null, cost: Cost | null,
 *   input (sent to Replicate) | null, fallbacks: [{ model, error }], scores: ImageScores | null,
 *   overall | null, overall_weights | null, preference_probability | null, scoring_ms | null, error | null }
 * Where an image's bytes are: its pending_file if that exists, else its file.
 */
import type { SerializedError } from '../../shared/errors';
import { ContactSheetError } from '../../shared/errors';
import { pendingImageName, TRACE_FILE, type RunFolder } from './output';
import { checkSchema, TRACE_SPEC } from './runFileSchema';
import type { ComparisonSummary } from './rank';
import { cancelAfterFor, DEFAULT_PREDICTION_TIMEOUT_MS } from '../replicate/predictionDeadline';
import type { ApiCallRecord, AspectRatio, Cost, CostSource, RateLimitWait } from '../replicate/types';
import type { ImageScores, MetricId, Precision, ScoreWeights } from '../scoring/types';

export const TRACE_SCHEMA_VERSION = 1;
export const TRACE_KIND = 'contact-sheet.generation-trace';

export type RunStatus = 'running' | 'finalizing' | 'succeeded' | 'partial' | 'failed' | 'canceled';
export type ImageStatus = 'pending' | 'created' | 'generated' | 'scored' | 'failed';
export type SeedSource = 'cli' | 'front-matter' | 'random';

export interface TraceSettings {
  models: string[];
  primary_model: string;
  fallback_models: string[];
  aspect_ratio: AspectRatio;
  num_variations: number;
  base_seed: number;
  seed_source: SeedSource;
  seeds: number[];
  concurrency: number;
  weights: ScoreWeights;
  precision: Precision;
  enabled_metrics: Record<MetricId, boolean>;
  budget_usd: number | null;
  api_base_url: string;
  prediction_timeout_s: number;
  cancel_after: string;
}

export interface TracePrompts {
  original: string | null;
  enhanced: string;
  negative: string | null;
  title: string | null;
  scored_text: string | null;
  scored_text_truncated: boolean | null;
  clip_token_count: number | null;
  /** The text came from an editor buffer with unsaved changes: prompt_file on disk says something else. */
  unsaved_edits: boolean;
}

export interface TraceImage {
  index: number;
  seed: number;
  status: ImageStatus;
  model: string | null;
  version: string | null;
  prediction_id: string | null;
  pending_file: string;
  file: string | null;
  metadata_file: string | null;
  rank: number | null;
  is_best_candidate: boolean;
  width: number | null;
  height: number | null;
  created_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  predict_time_s: number | null;
  cost: Cost | null;
  input: Record<string, unknown> | null;
  fallbacks: { model: string; error: SerializedError }[];
  scores: ImageScores | null;
  overall: number | null;
  overall_weights: Partial<Record<MetricId, number>> | null;
  preference_probability: number | null;
  scoring_ms: number | null;
  error: SerializedError | null;
}

export interface CostTotals {
  total_usd: number;
  unknown_count: number;
  by_model: Record<string, { usd: number; images: number; unknown: number }>;
  by_source: Partial<Record<CostSource, { usd: number; images: number }>>;
  estimate: CostEstimate | null;
}

export interface CostEstimate {
  usd: number | null;
  per_image: number | null;
  source: CostSource;
  basis: string;
}

export interface TraceTimings {
  generation_ms: number | null;
  download_ms: number | null;
  scoring_ms: number | null;
  model_load_ms: number | null;
  total_ms: number | null;
  first_image_ms: number | null;
}

export interface GenerationTrace {
  schema_version: 1;
  kind: typeof TRACE_KIND;
  run_id: string;
  demo: boolean;
  status: RunStatus;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  resumed_at: string[];
  tool: { name: 'contact-sheet'; version: string; node: string; platform: string; arch: string; onnxruntime: string | null; sharp: string | null };
  prompt_file: string | null;
  prompts: TracePrompts;
  settings: TraceSettings;
  scoring_models: Record<MetricId, string | null> | null;
  images: TraceImage[];
  claimed_predictions: string[];
  api_calls: ApiCallRecord[];
  rate_limit_waits: RateLimitWait[];
  costs: CostTotals;
  timings: TraceTimings;
  ranking: { order: number[]; comparison: ComparisonSummary | null } | null;
  warnings: string[];
  error: SerializedError | null;
}

/** Records a prediction id as the run's own (once): see claimed_predictions. */
export function claimPrediction(trace: GenerationTrace, id: string): void {
  if (!trace.claimed_predictions.includes(id)) trace.claimed_predictions.push(id);
}

/** Every prediction id the run owns: the claimed ones and any recorded on an image. */
export function claimedPredictionIds(trace: GenerationTrace): Set<string> {
  const ids = new Set(trace.claimed_predictions);
  for (const img of trace.images) if (img.prediction_id) ids.add(img.prediction_id);
  return ids;
}

/** Sums the costs of the images generated so far (failed predictions carry no known cost). */
export function costTotals(images: TraceImage[], estimate: CostEstimate | null): CostTotals {
  const totals: CostTotals = { total_usd: 0, unknown_count: 0, by_model: {}, by_source: {}, estimate };
  for (const img of images) {
    if (!img.cost || !img.model) continue;
    const usd = img.cost.usd;
    const byModel = (totals.by_model[img.model] ??= { usd: 0, images: 0, unknown: 0 });
    const bySource = (totals.by_source[img.cost.source] ??= { usd: 0, images: 0 });
    byModel.images += 1;
    bySource.images += 1;
    if (usd === null) {
      totals.unknown_count += 1;
      byModel.unknown += 1;
    } else {
      totals.total_usd += usd;
      byModel.usd += usd;
      bySource.usd += usd;
    }
  }
  // Keep sums readable (0.003 × 3 is 0.009000000000000001 in binary floating point).
  const round = (x: number) => Math.round(x * 1e9) / 1e9;
  totals.total_usd = round(totals.total_usd);
  for (const m of Object.values(totals.by_model)) m.usd = round(m.usd);
  for (const s of Object.values(totals.by_source)) if (s) s.usd = round(s.usd);
  return totals;
}

/**
 * Owns the trace object of a run and writes it after every step. Saves are serialized and
 * coalesced: a save requested while one is writing leads to exactly one more write, with the
 * newest state.
 */
export class TraceWriter {
  private writing: Promise<void> | null = null;
  private dirty = false;
  private failure: unknown = null;

  constructor(
    private readonly folder: RunFolder,
    readonly trace: GenerationTrace,
  ) {}

  /** Resolves once the current state (or a newer one) is on disk; rejects if that write failed. */
  save(): Promise<void> {
    this.dirty = true;
    if (!this.writing) this.writing = this.drain();
    return this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        this.trace.updated_at = new Date().toISOString();
        try {
          await this.folder.writeJson(TRACE_FILE, this.trace);
        } catch (e) {
          this.failure = e;
          throw e;
        }
      }
    } finally {
      this.writing = null;
    }
  }

  /** The first write error, if any (the run reports it instead of pretending it is resumable). */
  get error(): unknown {
    return this.failure;
  }
}

/** A trace larger than this is not one Contact Sheet wrote (16 images and their API calls stay far below). */
export const MAX_TRACE_BYTES = 64 * 1024 * 1024;

/**
 * Reads and checks a run's trace (for resume and history). A trace is a file anyone could have
 * written, and resume acts on it (requests with the token, writes in the run folder), so it is
 * refused (run-not-resumable) unless it is exactly what a run writes: the schema with its ranges
 * (runFileSchema.ts), one image per seed in order, file names the run itself gives.
 */
export async function readTrace(folder: RunFolder): Promise<GenerationTrace> {
  const damaged = (why: string) =>
    new ContactSheetError('run-not-resumable', `${TRACE_FILE} in ${folder.root} was not written by Contact Sheet or is damaged: ${why}.`, {
      action: 'Start a new run with contact-sheet generate; do not resume a run folder from a source you do not trust.',
    });
  let size: number;
  try {
    size = await folder.sizeOf(TRACE_FILE);
  } catch (e) {
    // A trace that is a symbolic link (or under one) is not read: it could point anywhere.
    throw e instanceof ContactSheetError && e.code === 'output-path-unsafe' ? damaged('it is a symbolic link') : e;
  }
  if (size > MAX_TRACE_BYTES) throw damaged(`it is larger than ${MAX_TRACE_BYTES / 1024 / 1024} MB`);
  let text: string;
  try {
    text = (await folder.readFile(TRACE_FILE)).toString('utf8');
  } catch (e) {
    if (e instanceof ContactSheetError) throw e;
    throw new ContactSheetError('run-not-resumable', `${folder.root} has no ${TRACE_FILE}.`, { action: 'Pass the folder of a run started by contact-sheet generate.' });
  }
  let trace: GenerationTrace;
  try {
    trace = JSON.parse(text) as GenerationTrace;
  } catch {
    throw new ContactSheetError('run-not-resumable', `${TRACE_FILE} in ${folder.root} is not valid JSON.`, { action: 'The trace is damaged; start a new run.' });
  }
  if (trace?.kind !== TRACE_KIND || trace.schema_version !== TRACE_SCHEMA_VERSION || !Array.isArray(trace.images) || !trace.settings || typeof trace.settings !== 'object') {
    throw new ContactSheetError('run-not-resumable', `${TRACE_FILE} in ${folder.root} is not a Contact Sheet trace of schema version ${TRACE_SCHEMA_VERSION}.`, {
      action: 'Resume it with the version of Contact Sheet that made it, or start a new run.',
    });
  }
  // Fields added within schema version 1: traces written before them get what a run uses now.
  trace.rate_limit_waits ??= [];
  trace.prompts.unsaved_edits ??= false;
  trace.settings.prediction_timeout_s ??= DEFAULT_PREDICTION_TIMEOUT_MS / 1000;
  if (typeof trace.settings.prediction_timeout_s === 'number') trace.settings.cancel_after ??= cancelAfterFor(trace.settings.prediction_timeout_s * 1000);
  trace.claimed_predictions ??= trace.images.map((i) => i?.prediction_id).filter((id): id is string => typeof id === 'string');
  const schemaProblems = checkSchema(trace, TRACE_SPEC);
  const problems = schemaProblems.length ? schemaProblems : consistencyProblems(trace);
  if (problems.length) throw damaged(problems.slice(0, 3).join('; ') + (problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''));
  return trace;
}

/** What the schema cannot say: the images are the run's seeds in order, under the names the run gives them. */
function consistencyProblems(trace: GenerationTrace): string[] {
  const { settings, images } = trace;
  const problems: string[] = [];
  if (images.length !== settings.num_variations || settings.seeds.length !== settings.num_variations) {
    problems.push(`$.images: ${images.length} images and ${settings.seeds.length} seeds for num_variations ${settings.num_variations}`);
  }
  if (settings.models[0] !== settings.primary_model) problems.push('$.settings.primary_model is not the first of settings.models');
  images.forEach((img, i) => {
    if (img.index !== i) problems.push(`$.images[${i}].index is ${img.index}`);
    if (img.seed !== settings.seeds[i]) problems.push(`$.images[${i}].seed is not settings.seeds[${i}]`);
    if (img.pending_file !== pendingImageName(i, img.seed)) problems.push(`$.images[${i}].pending_file must be ${pendingImageName(i, img.seed)}`);
  });
  for (const key of ['file', 'metadata_file'] as const) {
    const names = images.map((i) => i[key]).filter((n) => n !== null);
    if (new Set(names).size !== names.length) problems.push(`$.images: two images share one ${key}`);
  }
  return problems;
}
