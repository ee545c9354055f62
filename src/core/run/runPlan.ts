/**
 * The plan of a run: settings resolved from CLI flags > prompt front matter > defaults, the seeds,
 * and the initial trace. Pure except for the random base seed (injectable).
 */
import { randomInt } from 'node:crypto';
import { ContactSheetError } from '../../shared/errors';
import { MAX_SEED, type PromptFile } from '../prompt';
import { pendingImageName } from './output';
import { cancelAfterFor, DEFAULT_PREDICTION_TIMEOUT_MS } from '../replicate/predictionDeadline';
import type { AspectRatio } from '../replicate/types';
import { DEFAULT_WEIGHTS, METRIC_IDS, type MetricId, type Precision, type ScoreWeights } from '../scoring/types';
import { TRACE_KIND, TRACE_SCHEMA_VERSION, type CostEstimate, type GenerationTrace, type SeedSource, type TraceImage, type TraceSettings } from './trace';
import { VERSION } from '../version';

export const DEFAULT_MODEL = 'black-forest-labs/flux-schnell';
export const DEFAULT_FALLBACK_MODEL = 'stability-ai/sdxl';
export const DEFAULT_NUM_VARIATIONS = 8;
export const DEFAULT_ASPECT_RATIO: AspectRatio = '16:9';
export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_API_BASE_URL = 'https://api.replicate.com';
export const DEFAULT_PREDICTION_TIMEOUT_S = DEFAULT_PREDICTION_TIMEOUT_MS / 1000;

/** What the user asked for on the command line (or in the extension's settings). */
export interface RunRequestOptions {
  numVariations?: number;
  aspectRatio?: AspectRatio;
  seed?: number;
  model?: string;
  /** Explicit fallbacks; when absent, the default fallback applies only to the default model. */
  fallbackModels?: string[];
  concurrency?: number;
  precision?: Precision;
  disabledMetrics?: MetricId[];
  weights?: ScoreWeights;
  budgetUsd?: number;
  apiBaseUrl?: string;
  /** Seconds a prediction may take before it is canceled (and Replicate's Cancel-After, a minute later). */
  predictionTimeoutS?: number;
}

export function resolveSettings(prompt: PromptFile, opts: RunRequestOptions, randomBaseSeed: () => number = defaultRandomSeed): TraceSettings {
  const primary = opts.model ?? prompt.overrides.model ?? DEFAULT_MODEL;
  const fallbacks = (opts.fallbackModels ?? (primary === DEFAULT_MODEL ? [DEFAULT_FALLBACK_MODEL] : [])).filter((m) => m !== primary);
  const count = opts.numVariations ?? prompt.overrides.numVariations ?? DEFAULT_NUM_VARIATIONS;
  let seedSource: SeedSource = 'random';
  let base: number;
  if (opts.seed !== undefined) {
    seedSource = 'cli';
    base = opts.seed;
  } else if (prompt.overrides.seed !== undefined) {
    seedSource = 'front-matter';
    base = prompt.overrides.seed;
  } else {
    base = randomBaseSeed();
  }
  const timeoutS = opts.predictionTimeoutS ?? DEFAULT_PREDICTION_TIMEOUT_S;
  const enabled = Object.fromEntries(METRIC_IDS.map((id) => [id, !(opts.disabledMetrics ?? []).includes(id)])) as Record<MetricId, boolean>;
  return {
    models: [primary, ...fallbacks],
    primary_model: primary,
    fallback_models: fallbacks,
    aspect_ratio: opts.aspectRatio ?? prompt.overrides.aspectRatio ?? DEFAULT_ASPECT_RATIO,
    num_variations: count,
    base_seed: base,
    seed_source: seedSource,
    seeds: seedsFrom(base, count),
    concurrency: opts.concurrency ?? DEFAULT_CONCURRENCY,
    weights: opts.weights ?? DEFAULT_WEIGHTS,
    precision: opts.precision ?? 'fp32',
    enabled_metrics: enabled,
    budget_usd: opts.budgetUsd ?? null,
    api_base_url: opts.apiBaseUrl ?? DEFAULT_API_BASE_URL,
    prediction_timeout_s: timeoutS,
    cancel_after: cancelAfterFor(timeoutS * 1000),
  };
}

/** Seed of image i = base + i, wrapping within Replicate's 32-bit seed range. */
export function seedsFrom(base: number, count: number): number[] {
  if (!Number.isSafeInteger(base) || base < 0 || base > MAX_SEED) {
    throw new ContactSheetError('bad-usage', `Seed ${base} is outside 0–${MAX_SEED}.`, { action: 'Pass a whole number seed from 0 to 4294967295.' });
  }
  return Array.from({ length: count }, (_, i) => (base + i) % (MAX_SEED + 1));
}

/** A random base seed, small enough that base + 15 never wraps. */
function defaultRandomSeed(): number {
  return randomInt(0, 2 ** 31);
}

export function newRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '_');
  return `run_${stamp}_${randomInt(0, 0xffffff).toString(16).padStart(6, '0')}`;
}

export function emptyTraceImage(index: number, seed: number): TraceImage {
  return {
    index,
    seed,
    status: 'pending',
    model: null,
    version: null,
    prediction_id: null,
    pending_file: pendingImageName(index, seed),
    file: null,
    metadata_file: null,
    rank: null,
    is_best_candidate: false,
    width: null,
    height: null,
    created_at: null,
    started_at: null,
    completed_at: null,
    predict_time_s: null,
    cost: null,
    input: null,
    fallbacks: [],
    scores: null,
    overall: null,
    overall_weights: null,
    preference_probability: null,
    scoring_ms: null,
    error: null,
  };
}

export function newTrace(opts: { prompt: PromptFile; settings: TraceSettings; demo: boolean; estimate: CostEstimate | null; now?: Date }): GenerationTrace {
  const now = opts.now ?? new Date();
  const at = now.toISOString();
  return {
    schema_version: TRACE_SCHEMA_VERSION,
    kind: TRACE_KIND,
    run_id: newRunId(now),
    demo: opts.demo,
    status: 'running',
    created_at: at,
    updated_at: at,
    finished_at: null,
    resumed_at: [],
    tool: toolVersions(),
    prompt_file: opts.prompt.path,
    prompts: {
      original: opts.prompt.original,
      enhanced: opts.prompt.text,
      negative: opts.prompt.negative,
      title: opts.prompt.title,
      scored_text: null,
      scored_text_truncated: null,
      clip_token_count: null,
      unsaved_edits: opts.prompt.unsavedEdits === true,
    },
    settings: opts.settings,
    scoring_models: null,
    images: opts.settings.seeds.map((seed, i) => emptyTraceImage(i, seed)),
    claimed_predictions: [],
    api_calls: [],
    rate_limit_waits: [],
    costs: { total_usd: 0, unknown_count: 0, by_model: {}, by_source: {}, estimate: opts.estimate },
    timings: { generation_ms: null, download_ms: null, scoring_ms: null, model_load_ms: null, total_ms: null, first_image_ms: null },
    ranking: null,
    warnings: [],
    error: null,
  };
}

export function toolVersions(): GenerationTrace['tool'] {
  return {
    name: 'contact-sheet',
    version: VERSION,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    onnxruntime: packageVersion('onnxruntime-node'),
    sharp: packageVersion('sharp'),
  };
}

function packageVersion(name: string): string | null {
  try {
    // Both stay external to the bundles, so their package.json is resolvable at run time.
    return (require(`${name}/package.json`) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}
