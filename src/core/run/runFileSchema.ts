/**
 * The schema of the run files (generation_trace.json, image_NNN_metadata.json) as data, and one
 * checker for it: every key present with the right type and within its range, no unknown keys.
 * Resume checks every trace it reads against TRACE_SPEC before using it (a trace is a file anyone
 * could have written: paths, ids and numbers are bounded here, so a hostile one is refused before
 * it can steer a request or a write); the tests check every file a run writes against both specs.
 */
import { MAX_SEED, MAX_VARIATIONS } from '../prompt';

export type Spec =
  | 'string'
  | 'number'
  | 'integer'
  | 'boolean'
  | 'null'
  | 'any'
  | { literal: unknown }
  /** An integer, or a finite number, within [min, max]. */
  | { int: [number, number] }
  | { num: [number, number] }
  /** A string matching the pattern (whole string). */
  | { str: RegExp }
  | { oneOf: Spec[] }
  | { object: Record<string, Spec>; optional?: string[] }
  | { array: Spec; max?: number }
  | { record: Spec };

const nullable = (s: Spec): Spec => ({ oneOf: [s, 'null'] });

/** Longest plain string accepted (a prompt file is at most 100 KB). */
const MAX_STRING = 200_000;
const USD: Spec = { num: [0, 1e6] };
const MS: Spec = { num: [0, 1e12] };
const SEED: Spec = { int: [0, MAX_SEED] };
const PREDICTION_ID: Spec = { str: /^[A-Za-z0-9]{1,64}$/ };
const MODEL_REF: Spec = { str: /^[\w.-]{1,100}\/[\w.-]{1,100}(:[0-9a-f]{64})?$/ };
const MODEL_NAME: Spec = { str: /^[\w.-]{1,100}\/[\w.-]{1,100}$/ };
const RANK: Spec = { int: [1, MAX_VARIATIONS] };
const PIXELS: Spec = { int: [1, 100_000] };
const SCORE_0_100: Spec = { num: [0, 100] };
const PROBABILITY: Spec = { num: [0, 1] };

const COST: Spec = {
  object: { usd: nullable(USD), source: { oneOf: [{ literal: 'official price' }, { literal: 'predict_time × GPU price' }, { literal: 'unknown' }] }, pricing_date: 'string', basis: 'string' },
  optional: ['basis'],
};
const ERROR: Spec = { object: { code: 'string', message: 'string', action: 'string', details: 'any' }, optional: ['action', 'details'] };
const METRIC: Spec = { oneOf: [{ object: { raw: { num: [-1e6, 1e6] }, value: SCORE_0_100, model: 'string' } }, { object: { value: 'null', reason: 'string' } }] };
const SCORES: Spec = { object: { pickscore: METRIC, clip_score: METRIC, vqascore: METRIC, aesthetic: METRIC } };
const WEIGHTS_PARTIAL: Spec = { record: { num: [0, 1e6] } };
const FALLBACKS: Spec = { array: { object: { model: MODEL_REF, error: ERROR } }, max: 16 };

export const METADATA_SPEC: Spec = {
  object: {
    schema_version: { literal: 1 },
    kind: { literal: 'contact-sheet.image-metadata' },
    run_id: 'string',
    demo: 'boolean',
    rank: RANK,
    file: { str: /^image_\d{3}\.png$/ },
    is_best_candidate: 'boolean',
    prompt: { object: { enhanced: 'string', original: nullable('string'), scored_text: nullable('string'), negative: nullable('string') } },
    model: { object: { name: nullable(MODEL_NAME), version: nullable('string'), fallbacks_tried: FALLBACKS } },
    seed: SEED,
    aspect_ratio: 'string',
    width: nullable(PIXELS),
    height: nullable(PIXELS),
    prediction_id: nullable(PREDICTION_ID),
    timestamps: { object: { created_at: nullable('string'), started_at: nullable('string'), completed_at: nullable('string') } },
    predict_time_s: nullable(MS),
    cost: nullable(COST),
    scores: SCORES,
    overall: { object: { value: nullable(SCORE_0_100), weights: WEIGHTS_PARTIAL } },
    preference_probability: nullable(PROBABILITY),
  },
};

const TRACE_IMAGE: Spec = {
  object: {
    index: { int: [0, MAX_VARIATIONS - 1] },
    seed: SEED,
    status: { oneOf: ['pending', 'created', 'generated', 'scored', 'failed'].map((literal) => ({ literal })) },
    model: nullable(MODEL_NAME),
    version: nullable({ str: /^[\w.:-]{1,128}$/ }),
    prediction_id: nullable(PREDICTION_ID),
    pending_file: { str: /^pending\/seed_\d{1,10}_\d{3}\.png$/ },
    file: nullable({ str: /^image_\d{3}\.png$/ }),
    metadata_file: nullable({ str: /^image_\d{3}_metadata\.json$/ }),
    rank: nullable(RANK),
    is_best_candidate: 'boolean',
    width: nullable(PIXELS),
    height: nullable(PIXELS),
    created_at: nullable('string'),
    started_at: nullable('string'),
    completed_at: nullable('string'),
    predict_time_s: nullable(MS),
    cost: nullable(COST),
    input: nullable({ record: 'any' }),
    fallbacks: FALLBACKS,
    scores: nullable(SCORES),
    overall: nullable(SCORE_0_100),
    overall_weights: nullable(WEIGHTS_PARTIAL),
    preference_probability: nullable(PROBABILITY),
    scoring_ms: nullable(MS),
    error: nullable(ERROR),
  },
};

const API_CALL: Spec = {
  object: {
    method: 'string',
    path: 'string',
    status: nullable({ int: [100, 599] }),
    started_at: 'string',
    duration_ms: MS,
    attempt: { int: [0, 1000] },
    prediction_id: PREDICTION_ID,
    image_index: { int: [0, MAX_VARIATIONS - 1] },
    cost: COST,
    error: 'string',
    rate_limit_wait_ms: MS,
    cancel_after: 'string',
  },
  optional: ['prediction_id', 'image_index', 'cost', 'error', 'rate_limit_wait_ms', 'cancel_after'],
};

const RATE_LIMIT_WAIT: Spec = {
  object: {
    window: { int: [1, 1e9] },
    lane: { oneOf: [{ literal: 'create' }, { literal: 'other' }] },
    started_at: 'string',
    until: 'string',
    wait_ms: MS,
    source: { oneOf: ['retry-after', 'rate-limit-reset', 'response-body', 'default-backoff'].map((literal) => ({ literal })) },
    retry_after: nullable('string'),
    call: 'string',
    image_index: { int: [0, MAX_VARIATIONS - 1] },
  },
  optional: ['image_index'],
};

export const TRACE_SPEC: Spec = {
  object: {
    schema_version: { literal: 1 },
    kind: { literal: 'contact-sheet.generation-trace' },
    run_id: 'string',
    demo: 'boolean',
    status: { oneOf: ['running', 'finalizing', 'succeeded', 'partial', 'failed', 'canceled'].map((literal) => ({ literal })) },
    created_at: 'string',
    updated_at: 'string',
    finished_at: nullable('string'),
    resumed_at: { array: 'string', max: 100_000 },
    tool: { object: { name: { literal: 'contact-sheet' }, version: 'string', node: 'string', platform: 'string', arch: 'string', onnxruntime: nullable('string'), sharp: nullable('string') } },
    prompt_file: nullable('string'),
    prompts: {
      object: {
        original: nullable('string'),
        enhanced: 'string',
        negative: nullable('string'),
        title: nullable('string'),
        scored_text: nullable('string'),
        scored_text_truncated: nullable('boolean'),
        clip_token_count: nullable({ int: [0, 1e6] }),
        unsaved_edits: 'boolean',
      },
      // Traces written before the extension recorded unsaved edits lack it (read as false).
      optional: ['unsaved_edits'],
    },
    settings: {
      object: {
        models: { array: MODEL_REF, max: 16 },
        primary_model: MODEL_REF,
        fallback_models: { array: MODEL_REF, max: 15 },
        aspect_ratio: { oneOf: ['1:1', '4:3', '3:4', '16:9', '9:16'].map((literal) => ({ literal })) },
        num_variations: { int: [1, MAX_VARIATIONS] },
        base_seed: SEED,
        seed_source: { oneOf: [{ literal: 'cli' }, { literal: 'front-matter' }, { literal: 'random' }] },
        seeds: { array: SEED, max: MAX_VARIATIONS },
        concurrency: { int: [1, 16] },
        weights: { object: { pickscore: { num: [0, 1e6] }, clip_score: { num: [0, 1e6] }, vqascore: { num: [0, 1e6] }, aesthetic: { num: [0, 1e6] } } },
        precision: { oneOf: [{ literal: 'fp32' }, { literal: 'int8' }] },
        enabled_metrics: { object: { pickscore: 'boolean', clip_score: 'boolean', vqascore: 'boolean', aesthetic: 'boolean' } },
        budget_usd: nullable(USD),
        api_base_url: { str: /^https?:\/\/[^\s]{1,2000}$/ },
        prediction_timeout_s: { int: [1, 86_400] },
        cancel_after: { str: /^(\d{1,6}[hms]){1,3}$/ },
      },
    },
    scoring_models: nullable({ object: { pickscore: nullable('string'), clip_score: nullable('string'), vqascore: nullable('string'), aesthetic: nullable('string') } }),
    images: { array: TRACE_IMAGE, max: MAX_VARIATIONS },
    claimed_predictions: { array: PREDICTION_ID, max: 10_000 },
    api_calls: { array: API_CALL, max: 1_000_000 },
    rate_limit_waits: { array: RATE_LIMIT_WAIT, max: 100_000 },
    costs: {
      object: {
        total_usd: USD,
        unknown_count: { int: [0, 1e6] },
        by_model: { record: { object: { usd: USD, images: { int: [0, 1e6] }, unknown: { int: [0, 1e6] } } } },
        by_source: { record: { object: { usd: USD, images: { int: [0, 1e6] } } } },
        estimate: nullable({ object: { usd: nullable(USD), per_image: nullable(USD), source: 'string', basis: 'string' } }),
      },
    },
    timings: {
      object: {
        generation_ms: nullable(MS),
        download_ms: nullable(MS),
        scoring_ms: nullable(MS),
        model_load_ms: nullable(MS),
        total_ms: nullable(MS),
        first_image_ms: nullable(MS),
      },
    },
    ranking: nullable({
      object: {
        order: { array: { int: [0, MAX_VARIATIONS - 1] }, max: MAX_VARIATIONS },
        comparison: nullable({
          object: {
            best_index: { int: [0, MAX_VARIATIONS - 1] },
            leads_on: { array: 'string' },
            trails_on: { array: 'string' },
            best_overall: nullable('number'),
            others_mean_overall: nullable('number'),
            margin_over_others: nullable('number'),
            preference_probability: nullable('number'),
            text: 'string',
          },
        }),
      },
    }),
    warnings: { array: 'string', max: 100_000 },
    error: nullable(ERROR),
  },
};

/** Returns every violation as "path: problem"; empty when the value matches. */
export function checkSchema(value: unknown, spec: Spec, path = '$'): string[] {
  const got = () => JSON.stringify(value)?.slice(0, 60);
  if (typeof spec === 'string') {
    const ok =
      spec === 'any' ||
      (spec === 'null' && value === null) ||
      (spec === 'string' && typeof value === 'string' && value.length <= MAX_STRING) ||
      (spec === 'boolean' && typeof value === 'boolean') ||
      (spec === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
      (spec === 'integer' && Number.isInteger(value));
    return ok ? [] : [`${path}: expected ${spec}, got ${got()}`];
  }
  if ('literal' in spec) return value === spec.literal ? [] : [`${path}: expected ${JSON.stringify(spec.literal)}, got ${got()}`];
  if ('int' in spec || 'num' in spec) {
    const [min, max] = 'int' in spec ? spec.int : spec.num;
    const ok = typeof value === 'number' && ('int' in spec ? Number.isInteger(value) : Number.isFinite(value)) && value >= min && value <= max;
    return ok ? [] : [`${path}: expected ${'int' in spec ? 'an integer' : 'a number'} from ${min} to ${max}, got ${got()}`];
  }
  if ('str' in spec) {
    return typeof value === 'string' && value.length <= MAX_STRING && spec.str.test(value) ? [] : [`${path}: expected a string matching ${spec.str}, got ${got()}`];
  }
  if ('oneOf' in spec) {
    const attempts = spec.oneOf.map((s) => checkSchema(value, s, path));
    return attempts.some((a) => a.length === 0) ? [] : [`${path}: matches none of ${spec.oneOf.length} alternatives (${attempts.map((a) => a[0]).join(' | ')})`];
  }
  if ('array' in spec) {
    if (!Array.isArray(value)) return [`${path}: expected an array`];
    if (spec.max !== undefined && value.length > spec.max) return [`${path}: at most ${spec.max} items, got ${value.length}`];
    return value.flatMap((v, i) => checkSchema(v, spec.array, `${path}[${i}]`));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: expected an object`];
  const obj = value as Record<string, unknown>;
  if ('record' in spec) return Object.entries(obj).flatMap(([k, v]) => checkSchema(v, spec.record, `${path}.${k}`));
  const errors: string[] = [];
  for (const [k, s] of Object.entries(spec.object)) {
    if (!Object.prototype.hasOwnProperty.call(obj, k)) {
      if (!spec.optional?.includes(k)) errors.push(`${path}.${k}: missing`);
      continue;
    }
    errors.push(...checkSchema(obj[k], s, `${path}.${k}`));
  }
  for (const k of Object.keys(obj)) if (!Object.prototype.hasOwnProperty.call(spec.object, k)) errors.push(`${path}.${k}: not in the schema`);
  return errors;
}
