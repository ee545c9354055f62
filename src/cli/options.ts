/**
 * Command-line options of `generate` and `resume`, parsed with node:util's parseArgs and checked
 * into typed values. Every mistake is a 'bad-usage' error (exit code 2) saying which option.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ContactSheetError } from '../shared/errors';
import { resolveModelsDir } from '../core/models/modelsDir';
import { MAX_SEED, MAX_VARIATIONS, MIN_VARIATIONS, parseBoundedInteger } from '../core/prompt';
import { checkApiBaseUrl } from '../core/replicate/apiBaseUrl';
import { parseModelRef } from '../core/replicate/modelRef';
import { ASPECT_RATIOS, type AspectRatio } from '../core/replicate/types';
import { DEFAULT_API_BASE_URL, DEFAULT_PREDICTION_TIMEOUT_S, type RunRequestOptions } from '../core/run/runPlan';
import type { MetricId, Precision } from '../core/scoring/types';

export const MAX_CONCURRENCY = 16;
/** Replicate refuses a Cancel-After under 5 s; a day is far beyond any image model. */
export const MIN_PREDICTION_TIMEOUT_S = 5;
export const MAX_PREDICTION_TIMEOUT_S = 24 * 3600;

/** Options shared by generate and resume: where things are and how to talk. */
export interface EnvironmentOptions {
  modelsDir: string;
  hubEndpoint: string | undefined;
  manifestPath: string | undefined;
  apiBaseUrl: string;
  verbose: boolean;
  json: boolean;
}

export interface GenerateOptions extends EnvironmentOptions {
  promptFile: string;
  outputDir: string | undefined;
  dryRun: boolean;
  request: RunRequestOptions;
}

export interface ResumeOptions extends EnvironmentOptions {
  runDir: string;
  /** --budget: replaces the run's own budget for this resume. */
  budgetUsd: number | undefined;
}

const COMMON = {
  verbose: { type: 'boolean' },
  json: { type: 'boolean' },
  'models-dir': { type: 'string' },
  'api-base-url': { type: 'string' },
  'hub-endpoint': { type: 'string' },
  manifest: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const RESUME = {
  ...COMMON,
  budget: { type: 'string' },
} as const;

const GENERATE = {
  ...COMMON,
  'num-variations': { type: 'string', short: 'n' },
  'aspect-ratio': { type: 'string' },
  seed: { type: 'string' },
  'output-dir': { type: 'string', short: 'o' },
  model: { type: 'string' },
  'fallback-model': { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  budget: { type: 'string' },
  'no-vqascore': { type: 'boolean' },
  precision: { type: 'string' },
  concurrency: { type: 'string' },
  'prediction-timeout': { type: 'string' },
} as const;

export const GENERATE_USAGE = `Usage: contact-sheet generate PROMPT_FILE [options]

Generates N variations of the prompt on Replicate, scores each image locally (PickScore,
CLIP-Score, VQAScore, LAION aesthetic), ranks them and writes them next to the prompt:
<prompt dir>/<prompt stem>.images/<YYYYMMDD_HHMMSS>/ (image_001.png best first, metadata,
best_candidate.png, generation_trace.json, summary.md).

Options (flags override the prompt's front matter, which overrides the defaults):
  -n, --num-variations N   images to generate, ${MIN_VARIATIONS}–${MAX_VARIATIONS} (default 8)
      --aspect-ratio R     ${ASPECT_RATIOS.join(', ')} (default 16:9)
      --seed N             base seed: image i gets N + i (default: random, recorded in the trace)
  -o, --output-dir DIR     run folder (a suffix _2, _3… is added if DIR holds files)
      --model M            owner/name[:version] (default black-forest-labs/flux-schnell)
      --fallback-model M   fallback model, repeatable (default stability-ai/sdxl for the default model)
      --budget USD         refuse to start if the estimated cost is higher
      --dry-run            print the plan and cost estimate; spend nothing, load no model
      --no-vqascore        skip VQAScore (the overall score renormalizes the other weights)
      --precision P        fp32 (reference) or int8 (about 3× faster scoring on CPU)
      --concurrency N      predictions in flight at once, 1–${MAX_CONCURRENCY} (default 8)
      --prediction-timeout S  cancel a prediction not finished after S seconds, ${MIN_PREDICTION_TIMEOUT_S}–${MAX_PREDICTION_TIMEOUT_S}
                           (default ${DEFAULT_PREDICTION_TIMEOUT_S}); creates also ask Replicate to cancel it a
                           minute later (Cancel-After) in case this process is gone by then
      --models-dir DIR     scoring model cache (default $CONTACT_SHEET_MODELS_DIR, else $XDG_CACHE_HOME/contact-sheet/models, ~/.cache/… without it)
      --hub-endpoint URL   Hugging Face endpoint for model downloads
      --manifest FILE      scoring model manifest (default: the packaged models/manifest.json)
      --api-base-url URL   Replicate API (default $REPLICATE_API_BASE_URL or ${DEFAULT_API_BASE_URL})
      --json               print the trace (JSON) to stdout instead of the table
      --verbose            log every API call to stderr
  -h, --help               show this help

Environment: REPLICATE_API_TOKEN (required unless --dry-run), REPLICATE_API_BASE_URL,
CONTACT_SHEET_MODELS_DIR, NO_COLOR.
Exit codes: 0 all images ranked, or some (the report says which failed: a partial run);
1 no image, scoring unavailable, canceled, or an error; 2 bad usage.`;

export const RESUME_USAGE = `Usage: contact-sheet resume RUN_DIR [options]

Finishes an interrupted run: adopts the predictions the trace recorded (no new charge for them),
creates only the missing ones, scores what is not scored, then ranks and writes the folder.

Refuses, before anything is spent: a DEMO run (made by \`npm run demo\` on a local fake), a run
made through another API base URL than this one, and a resume over the budget.

Options:
      --budget USD         refuse if what the run already cost plus the estimate for the images
                           still to make exceeds USD (default: the budget the run was started with)
      --api-base-url URL   Replicate API: must be the one the run was made through
                           (default $REPLICATE_API_BASE_URL or ${DEFAULT_API_BASE_URL})
      --models-dir DIR, --hub-endpoint URL, --manifest FILE, --json, --verbose, -h/--help
Settings (models, seeds, count, weights, precision) come from the trace.
Exit codes as for generate.`;

function parse<T extends Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>>(argv: string[], options: T, command: 'generate' | 'resume') {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError((e as Error).message.split('\n')[0], command);
  }
}

export function usageError(message: string, command: 'generate' | 'resume' = 'generate'): ContactSheetError {
  return new ContactSheetError('bad-usage', message, { action: `See \`contact-sheet ${command} --help\`.` });
}

/** Returns null when --help was asked for (the caller prints the usage). */
export function parseGenerateOptions(argv: string[], env: NodeJS.ProcessEnv, cwd: string): GenerateOptions | null {
  const { values, positionals } = parse(argv, GENERATE, 'generate');
  if (values.help) return null;
  if (positionals.length !== 1) throw usageError(positionals.length ? `Expected one prompt file, got ${positionals.length}: ${positionals.join(' ')}.` : 'The prompt file is missing.');
  const request: RunRequestOptions = {};
  if (values['num-variations'] !== undefined) request.numVariations = integer(values['num-variations'], '--num-variations', MIN_VARIATIONS, MAX_VARIATIONS);
  if (values['aspect-ratio'] !== undefined) request.aspectRatio = aspectRatio(values['aspect-ratio']);
  if (values.seed !== undefined) request.seed = integer(values.seed, '--seed', 0, MAX_SEED);
  if (values.model !== undefined) request.model = modelRef(values.model);
  if (values['fallback-model'] !== undefined) request.fallbackModels = values['fallback-model'].map(modelRef);
  if (values.budget !== undefined) request.budgetUsd = usd(values.budget);
  if (values.precision !== undefined) request.precision = precision(values.precision);
  if (values.concurrency !== undefined) request.concurrency = integer(values.concurrency, '--concurrency', 1, MAX_CONCURRENCY);
  if (values['prediction-timeout'] !== undefined) {
    request.predictionTimeoutS = integer(values['prediction-timeout'], '--prediction-timeout', MIN_PREDICTION_TIMEOUT_S, MAX_PREDICTION_TIMEOUT_S);
  }
  if (values['no-vqascore']) request.disabledMetrics = ['vqascore' satisfies MetricId];
  const environment = environmentOptions(values, env, cwd);
  request.apiBaseUrl = environment.apiBaseUrl;
  return {
    ...environment,
    promptFile: resolve(cwd, positionals[0]),
    outputDir: values['output-dir'] === undefined ? undefined : resolve(cwd, values['output-dir']),
    dryRun: Boolean(values['dry-run']),
    request,
  };
}

export function parseResumeOptions(argv: string[], env: NodeJS.ProcessEnv, cwd: string): ResumeOptions | null {
  const { values, positionals } = parse(argv, RESUME, 'resume');
  if (values.help) return null;
  if (positionals.length !== 1) throw usageError(positionals.length ? `Expected one run folder, got ${positionals.length}.` : 'The run folder is missing.', 'resume');
  return {
    ...environmentOptions(values, env, cwd),
    runDir: resolve(cwd, positionals[0]),
    budgetUsd: values.budget === undefined ? undefined : usd(values.budget, 'resume'),
  };
}

function environmentOptions(
  values: { verbose?: boolean; json?: boolean; 'models-dir'?: string; 'api-base-url'?: string; 'hub-endpoint'?: string; manifest?: string },
  env: NodeJS.ProcessEnv,
  cwd: string,
): EnvironmentOptions {
  return {
    modelsDir: resolveModelsDir({ configured: values['models-dir'], env, cwd }),
    hubEndpoint: values['hub-endpoint'] === undefined ? undefined : httpUrl(values['hub-endpoint'], '--hub-endpoint'),
    manifestPath: values.manifest === undefined ? undefined : resolve(cwd, values.manifest),
    apiBaseUrl: apiBaseUrl(values['api-base-url'], env.REPLICATE_API_BASE_URL),
    verbose: Boolean(values.verbose),
    json: Boolean(values.json),
  };
}

/** The flag, else the environment variable, else Replicate; checked by the core's one rule (https, or http to loopback only). */
function apiBaseUrl(flag: string | undefined, fromEnv: string | undefined): string {
  if (flag !== undefined) return checkApiBaseUrl(flag, '--api-base-url');
  if (fromEnv !== undefined && fromEnv.trim() !== '') return checkApiBaseUrl(fromEnv, 'REPLICATE_API_BASE_URL');
  return DEFAULT_API_BASE_URL;
}

function integer(value: string, flag: string, min: number, max: number): number {
  const n = parseBoundedInteger(value, min, max);
  if (n === null) throw usageError(`${flag} must be a whole number from ${min} to ${max}, got "${value}".`);
  return n;
}

function aspectRatio(value: string): AspectRatio {
  if (!(ASPECT_RATIOS as readonly string[]).includes(value)) throw usageError(`--aspect-ratio must be one of ${ASPECT_RATIOS.join(', ')}, got "${value}".`);
  return value as AspectRatio;
}

function modelRef(value: string): string {
  parseModelRef(value); // throws bad-usage with an example
  return value.trim();
}

function usd(value: string, command: 'generate' | 'resume' = 'generate'): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(n) || n <= 0) throw usageError(`--budget must be a positive amount in USD, e.g. 0.50, got "${value}".`, command);
  return n;
}

function precision(value: string): Precision {
  if (value !== 'fp32' && value !== 'int8') throw usageError(`--precision must be fp32 or int8, got "${value}".`);
  return value;
}

function httpUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usageError(`${what} must be a URL, got "${value}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`${what} must be an http(s) URL, got "${value}".`);
  return value.replace(/\/+$/, '');
}
