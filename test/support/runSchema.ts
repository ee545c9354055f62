/**
 * A small structural schema check for the run files (generation_trace.json and
 * image_NNN_metadata.json): every key present with the right type, and no unknown keys, so a
 * change to the documented schema fails a test instead of drifting silently.
 */
type Spec =
  | 'string'
  | 'number'
  | 'integer'
  | 'boolean'
  | 'null'
  | 'any'
  | { literal: unknown }
  | { oneOf: Spec[] }
  | { object: Record<string, Spec>; optional?: string[] }
  | { array: Spec }
  | { record: Spec };

const nullable = (s: Spec): Spec => ({ oneOf: [s, 'null'] });

const COST: Spec = {
  object: { usd: nullable('number'), source: { oneOf: [{ literal: 'official price' }, { literal: 'predict_time × GPU price' }, { literal: 'unknown' }] }, pricing_date: 'string', basis: 'string' },
  optional: ['basis'],
};
const ERROR: Spec = { object: { code: 'string', message: 'string', action: 'string', details: 'any' }, optional: ['action', 'details'] };
const METRIC: Spec = { oneOf: [{ object: { raw: 'number', value: 'number', model: 'string' } }, { object: { value: 'null', reason: 'string' } }] };
const SCORES: Spec = { object: { pickscore: METRIC, clip_score: METRIC, vqascore: METRIC, aesthetic: METRIC } };
const WEIGHTS_PARTIAL: Spec = { record: 'number' };
const FALLBACKS: Spec = { array: { object: { model: 'string', error: ERROR } } };

export const METADATA_SPEC: Spec = {
  object: {
    schema_version: { literal: 1 },
    kind: { literal: 'contact-sheet.image-metadata' },
    run_id: 'string',
    demo: 'boolean',
    rank: 'integer',
    file: 'string',
    is_best_candidate: 'boolean',
    prompt: { object: { enhanced: 'string', original: nullable('string'), scored_text: nullable('string'), negative: nullable('string') } },
    model: { object: { name: nullable('string'), version: nullable('string'), fallbacks_tried: FALLBACKS } },
    seed: 'integer',
    aspect_ratio: 'string',
    width: nullable('integer'),
    height: nullable('integer'),
    prediction_id: nullable('string'),
    timestamps: { object: { created_at: nullable('string'), started_at: nullable('string'), completed_at: nullable('string') } },
    predict_time_s: nullable('number'),
    cost: nullable(COST),
    scores: SCORES,
    overall: { object: { value: nullable('number'), weights: WEIGHTS_PARTIAL } },
    preference_probability: nullable('number'),
  },
};

const TRACE_IMAGE: Spec = {
  object: {
    index: 'integer',
    seed: 'integer',
    status: { oneOf: ['pending', 'created', 'generated', 'scored', 'failed'].map((literal) => ({ literal })) },
    model: nullable('string'),
    version: nullable('string'),
    prediction_id: nullable('string'),
    pending_file: 'string',
    file: nullable('string'),
    metadata_file: nullable('string'),
    rank: nullable('integer'),
    is_best_candidate: 'boolean',
    width: nullable('integer'),
    height: nullable('integer'),
    created_at: nullable('string'),
    started_at: nullable('string'),
    completed_at: nullable('string'),
    predict_time_s: nullable('number'),
    cost: nullable(COST),
    input: nullable({ record: 'any' }),
    fallbacks: FALLBACKS,
    scores: nullable(SCORES),
    overall: nullable('number'),
    overall_weights: nullable(WEIGHTS_PARTIAL),
    preference_probability: nullable('number'),
    scoring_ms: nullable('number'),
    error: nullable(ERROR),
  },
};

const API_CALL: Spec = {
  object: {
    method: 'string',
    path: 'string',
    status: nullable('integer'),
    started_at: 'string',
    duration_ms: 'number',
    attempt: 'integer',
    prediction_id: 'string',
    image_index: 'integer',
    cost: COST,
    error: 'string',
    rate_limit_wait_ms: 'number',
    cancel_after: 'string',
  },
  optional: ['prediction_id', 'image_index', 'cost', 'error', 'rate_limit_wait_ms', 'cancel_after'],
};

const RATE_LIMIT_WAIT: Spec = {
  object: {
    window: 'integer',
    lane: { oneOf: [{ literal: 'create' }, { literal: 'other' }] },
    started_at: 'string',
    until: 'string',
    wait_ms: 'number',
    source: { oneOf: ['retry-after', 'rate-limit-reset', 'response-body', 'default-backoff'].map((literal) => ({ literal })) },
    retry_after: nullable('string'),
    call: 'string',
    image_index: 'integer',
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
    resumed_at: { array: 'string' },
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
        clip_token_count: nullable('integer'),
        unsaved_edits: 'boolean',
      },
    },
    settings: {
      object: {
        models: { array: 'string' },
        primary_model: 'string',
        fallback_models: { array: 'string' },
        aspect_ratio: 'string',
        num_variations: 'integer',
        base_seed: 'integer',
        seed_source: { oneOf: [{ literal: 'cli' }, { literal: 'front-matter' }, { literal: 'random' }] },
        seeds: { array: 'integer' },
        concurrency: 'integer',
        weights: { object: { pickscore: 'number', clip_score: 'number', vqascore: 'number', aesthetic: 'number' } },
        precision: { oneOf: [{ literal: 'fp32' }, { literal: 'int8' }] },
        enabled_metrics: { object: { pickscore: 'boolean', clip_score: 'boolean', vqascore: 'boolean', aesthetic: 'boolean' } },
        budget_usd: nullable('number'),
        api_base_url: 'string',
        prediction_timeout_s: 'integer',
        cancel_after: 'string',
      },
    },
    scoring_models: nullable({ object: { pickscore: nullable('string'), clip_score: nullable('string'), vqascore: nullable('string'), aesthetic: nullable('string') } }),
    images: { array: TRACE_IMAGE },
    api_calls: { array: API_CALL },
    rate_limit_waits: { array: RATE_LIMIT_WAIT },
    costs: {
      object: {
        total_usd: 'number',
        unknown_count: 'integer',
        by_model: { record: { object: { usd: 'number', images: 'integer', unknown: 'integer' } } },
        by_source: { record: { object: { usd: 'number', images: 'integer' } } },
        estimate: nullable({ object: { usd: nullable('number'), per_image: nullable('number'), source: 'string', basis: 'string' } }),
      },
    },
    timings: {
      object: {
        generation_ms: nullable('number'),
        download_ms: nullable('number'),
        scoring_ms: nullable('number'),
        model_load_ms: nullable('number'),
        total_ms: nullable('number'),
        first_image_ms: nullable('number'),
      },
    },
    ranking: nullable({
      object: {
        order: { array: 'integer' },
        comparison: nullable({
          object: {
            best_index: 'integer',
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
    warnings: { array: 'string' },
    error: nullable(ERROR),
  },
};

/** Returns every violation as "path: problem"; empty when the value matches. */
export function checkSchema(value: unknown, spec: Spec, path = '$'): string[] {
  if (typeof spec === 'string') {
    const ok =
      spec === 'any' ||
      (spec === 'null' && value === null) ||
      (spec === 'string' && typeof value === 'string') ||
      (spec === 'boolean' && typeof value === 'boolean') ||
      (spec === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
      (spec === 'integer' && Number.isInteger(value));
    return ok ? [] : [`${path}: expected ${spec}, got ${JSON.stringify(value)?.slice(0, 60)}`];
  }
  if ('literal' in spec) return value === spec.literal ? [] : [`${path}: expected ${JSON.stringify(spec.literal)}, got ${JSON.stringify(value)}`];
  if ('oneOf' in spec) {
    const attempts = spec.oneOf.map((s) => checkSchema(value, s, path));
    return attempts.some((a) => a.length === 0) ? [] : [`${path}: matches none of ${spec.oneOf.length} alternatives (${attempts.map((a) => a[0]).join(' | ')})`];
  }
  if ('array' in spec) {
    if (!Array.isArray(value)) return [`${path}: expected an array`];
    return value.flatMap((v, i) => checkSchema(v, spec.array, `${path}[${i}]`));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: expected an object`];
  const obj = value as Record<string, unknown>;
  if ('record' in spec) return Object.entries(obj).flatMap(([k, v]) => checkSchema(v, spec.record, `${path}.${k}`));
  const errors: string[] = [];
  for (const [k, s] of Object.entries(spec.object)) {
    if (!(k in obj)) {
      if (!spec.optional?.includes(k)) errors.push(`${path}.${k}: missing`);
      continue;
    }
    errors.push(...checkSchema(obj[k], s, `${path}.${k}`));
  }
  for (const k of Object.keys(obj)) if (!(k in spec.object)) errors.push(`${path}.${k}: not in the schema`);
  return errors;
}
