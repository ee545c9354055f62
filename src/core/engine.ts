/**
 * The engine's one front door. Every face (the CLI's commands, the extension's panel) plans,
 * starts and resumes runs here and nowhere else: createEngine binds the Replicate client, the
 * generator, the price table and the scorer from plain options, so no face wires core parts.
 *
 * A run's entry sequence, in this order (nothing is spent or created before the checks pass):
 * read the prompt → resolve settings → estimate the cost → (plan ends here) → token present →
 * budget → token valid (GET /v1/account, free; recorded in the trace's api_calls) → run folder → trace → executeRun.
 *
 * The types a face needs are exported from here too, so a face imports this one module.
 */
import { join, resolve } from 'node:path';
import { ContactSheetError } from '../shared/errors';
import { registerSecret, silentLogger, type Logger } from './log';
import { defaultModelsDir } from './models/modelsDir';
import { readPromptFile, type PromptFile } from './prompt';
import { checkApiBaseUrl } from './replicate/apiBaseUrl';
import { ReplicateClient } from './replicate/client';
import { generateImages } from './replicate/generator';
import type { RetryPolicy } from './replicate/retryPolicy';
import type { ApiCallRecord } from './replicate/types';
import { checkBudget, estimateRunCost, loadPricing, type Pricing, type RunCostEstimate } from './replicate/pricing';
import { executeRun, type RunDeps, type RunHooks, type RunResult } from './run/executeRun';
import { createRunFolder, defaultRunsParent, timestampFolderName, type RunFolder } from './run/output';
import { checkResumable, checkResumeBudget, openRunForResume } from './run/resume';
import { recoverUnrecordedPredictions } from './run/resumeRecovery';
import { DEFAULT_API_BASE_URL, newTrace, resolveSettings, type RunRequestOptions } from './run/runPlan';
import { describeScoringDownloads, type ScoringDownloadPlan } from './run/scoringDownloads';
import type { CostEstimate, GenerationTrace, TraceSettings } from './run/trace';
import type { Scorer, StartScoringWorker } from './scoring/scorer';
import type { Precision, ScorerConfig, ScorerProgress, ScoreWeights } from './scoring/types';

export type { ContactSheetError, ErrorCode, SerializedError } from '../shared/errors';
export type { Logger } from './log';
export type { PromptFile } from './prompt';
export type { RankEntry, RunEvent, RunPhase } from './run/events';
export type { RunHooks, RunResult } from './run/executeRun';
export type { RunRequestOptions } from './run/runPlan';
export type { ScoringDownloadPlan } from './run/scoringDownloads';
export type { CostEstimate, GenerationTrace, TraceSettings } from './run/trace';
export type { Scorer, StartScoringWorker } from './scoring/scorer';
export type { ImageScores, MetricId, Precision, ScorerConfig, ScorerProgress, ScoreWeights } from './scoring/types';

/** Makes a scorer for a config; the default runs the models in a worker thread. */
export type ScorerFactory = (config: ScorerConfig, hooks: { logger: Logger; onProgress: (p: ScorerProgress) => void }) => Scorer;

/** Plain options a face fills from its flags or settings. Every field is optional. */
export interface EngineOptions {
  /** Replicate API token, or how to get it; start and resume need it, plan never does. Registered for redaction. */
  token?: string | TokenProvider;
  /** Replicate API base URL (default https://api.replicate.com; tests and the demo use a fake). */
  apiBaseUrl?: string;
  /** Marks runs as DEMO in the trace, summary.md and every face (fake Replicate, tiny models). */
  demo?: boolean;
  /** Scoring model cache (default: defaultModelsDir(), honouring CONTACT_SHEET_MODELS_DIR and XDG_CACHE_HOME). */
  modelsDir?: string;
  /** Hugging Face endpoint the scoring models are downloaded from (default: HF_ENDPOINT, else huggingface.co). */
  hubEndpoint?: string;
  /** Scoring model manifest (default: the packaged models/manifest.json). */
  manifestPath?: string;
  /** Default of runs that do not say (a run's own options win). */
  precision?: Precision;
  /** Compute VQAScore (default true). */
  vqascore?: boolean;
  concurrency?: number;
  weights?: ScoreWeights;
  /**
   * Refuse to start a run estimated above this many USD (null or absent: no limit). On resume it
   * replaces the run's own budget: what the run spent plus the estimate for the images still to make.
   */
  budgetUsd?: number | null;
  /** Load, run and release one scoring model at a time. */
  lowMemory?: boolean;
  executionProviders?: string[];
  intraOpNumThreads?: number;
  /** When false, a missing scoring model is an error instead of a download. */
  allowDownload?: boolean;
  /**
   * Keep one scorer, models loaded, across runs (a long-lived face such as the extension); it is
   * replaced when a run needs another precision or other metrics, and closed by dispose().
   */
  keepScorerLoaded?: boolean;
  logger?: Logger;
  /** Price table (default: the dated table shipped with Contact Sheet). */
  pricing?: Pricing;
  /** First interval between prediction polls, ms (tests shorten it). */
  pollIntervalMs?: number;
  /** Retry and backoff of Replicate calls (tests shorten the waits; Retry-After still wins). */
  retry?: Partial<RetryPolicy>;
  /** How the scoring worker thread is started (default: dist/scoringWorker.js beside the bundle; code run from source passes the sandbox's). */
  startScoringWorker?: StartScoringWorker;
  /** How scorers are made (default: createScorer with startScoringWorker). */
  createScorer?: ScorerFactory;
}

/** One run to plan or start. */
export interface RunRequest {
  /** The prompt file's path, or the prompt a face has already read (the extension reads through workspace.fs). */
  prompt: string | PromptFile;
  /** This run's choices (CLI flags, or settings below the prompt's front matter); they override the engine's options. */
  options?: RunRequestOptions;
  /** The run folder itself (default: `<prompt dir>/<prompt stem>.images/<timestamp>`). */
  outputDir?: string;
  /** A folder holding runs as `<runsDir>/<timestamp>` instead of `<prompt stem>.images`. */
  runsDir?: string;
}

/** What a run would do, computed without a token, without spending and without loading a model. */
export interface RunPlan {
  request: RunRequest;
  prompt: PromptFile;
  settings: TraceSettings;
  estimate: CostEstimate;
  budget: {
    limitUsd: number | null;
    /** null when there is no limit or the cost is unknown. */
    withinBudget: boolean | null;
    /** Said when the cost is unknown and a limit is set: the guard cannot vouch for it. */
    warning: string | null;
  };
  /** Where the run folder would be created now (the real run takes its own time, `_2`… on a clash). */
  outputDir: string;
  demo: boolean;
}

/** Something a face should tell the user before the run starts; the trace keeps it among its warnings. */
export interface RunNotice {
  /** budget-unchecked: a budget is set but the cost is unknown; prediction-adopted: resume found a prediction the trace had not recorded. */
  kind: 'budget-unchecked' | 'prediction-adopted';
  message: string;
}

/** Hooks of start and resume: the run's events, cancel, and notices said before the run starts. */
export interface EngineRunHooks extends RunHooks {
  onNotice?: (notice: RunNotice) => void;
}

/**
 * Gives the Replicate token when a run needs it (after the plan, before spending), or throws
 * token-missing with the face's own advice (an environment variable, a command to run).
 */
export type TokenProvider = () => string | Promise<string>;

/** A resume of a run that had already finished: nothing was done. */
export interface AlreadyFinishedRun {
  status: 'succeeded';
  trace: GenerationTrace;
  runDir: string;
  alreadyFinished: true;
}

export type ResumeResult = RunResult | AlreadyFinishedRun;

export interface Engine {
  /** Dry run: resolved settings, seeds, cost estimate, budget check and output folder. */
  plan(request: RunRequest): Promise<RunPlan>;
  /** Which scoring models a plan needs, whether they are cached, and what would be downloaded (no network). */
  describeScoringModels(settings: TraceSettings): Promise<ScoringDownloadPlan>;
  /**
   * Runs a plan (or plans the request first). Throws token-missing, budget-exceeded, token-invalid
   * and prompt-* errors before anything is created; after that, never for per-image problems.
   */
  start(run: RunPlan | RunRequest, hooks?: EngineRunHooks): Promise<RunResult>;
  /**
   * Finishes an interrupted run without paying twice (predictions created but never recorded are
   * found and adopted first); a run that already succeeded is returned as it is. Refuses
   * (run-not-resumable) a DEMO run unless this engine is the demo's, and a run made through another
   * API base URL; refuses (budget-exceeded) when the spent cost plus the images still to make would
   * exceed the budget (options.budgetUsd, else the run's own) — all before anything is created.
   */
  resume(runDir: string, hooks?: EngineRunHooks): Promise<ResumeResult>;
  /**
   * Checks the token with Replicate (GET /v1/account: free, nothing is created) and answers the
   * account's name; throws token-missing, token-invalid, or network errors.
   */
  checkToken(options?: { signal?: AbortSignal; onApiCall?: (call: ApiCallRecord) => void }): Promise<{ username: string }>;
  /** Closes the kept scorer, if any. */
  dispose(): Promise<void>;
}

export function createEngine(options: EngineOptions = {}): Engine {
  return new RunEngine(options);
}

class RunEngine implements Engine {
  private readonly logger: Logger;
  private readonly checkedApiBaseUrl: string = DEFAULT_API_BASE_URL;
  private pricingTable: Pricing | undefined;
  private kept: { key: string; scorer: Scorer } | undefined;
  private keptInUse = false;
  /** The progress listener of the run now using the kept scorer. */
  private keptProgress: ((p: ScorerProgress) => void) | undefined;

  constructor(private readonly options: EngineOptions) {
    // Every face's URL passes the one rule before any run can send the token to it.
    if (options.apiBaseUrl !== undefined) this.checkedApiBaseUrl = checkApiBaseUrl(options.apiBaseUrl, 'The API base URL');
    this.logger = options.logger ?? silentLogger;
    if (typeof options.token === 'string') registerSecret(options.token);
  }

  async plan(request: RunRequest): Promise<RunPlan> {
    const prompt = typeof request.prompt === 'string' ? await readPromptFile(request.prompt) : request.prompt;
    const settings = resolveSettings(prompt, { ...this.defaultRunOptions(), ...request.options, apiBaseUrl: this.apiBaseUrl });
    const raw = estimateRunCost(settings.models, settings.num_variations, this.pricing());
    const limit = settings.budget_usd;
    const parent = request.runsDir ? resolve(request.runsDir) : defaultRunsParent(prompt.path);
    return {
      request,
      prompt,
      settings,
      estimate: { usd: raw.usd, per_image: raw.perImage, source: raw.source, basis: raw.basis },
      budget: {
        limitUsd: limit,
        withinBudget: limit === null || raw.usd === null ? null : raw.usd <= limit,
        warning: limit !== null && raw.usd === null ? budgetWarning(raw, limit) : null,
      },
      outputDir: request.outputDir ?? join(parent, timestampFolderName(new Date())),
      demo: this.options.demo ?? false,
    };
  }

  describeScoringModels(settings: TraceSettings): Promise<ScoringDownloadPlan> {
    return describeScoringDownloads(settings, { modelsDir: this.modelsDir, manifestPath: this.options.manifestPath, hubEndpoint: this.options.hubEndpoint });
  }

  async start(run: RunPlan | RunRequest, hooks: EngineRunHooks = {}): Promise<RunResult> {
    const plan = 'settings' in run ? run : await this.plan(run);
    const client = await this.replicateClient();
    const budgetNote = checkBudget(rawEstimate(plan.estimate), plan.settings.budget_usd);
    if (budgetNote) hooks.onNotice?.({ kind: 'budget-unchecked', message: budgetNote });
    const accountCalls = await beforeRun(hooks, () => checkAccount(client, hooks), {
      message: 'The run was canceled before it started; nothing was spent.',
      action: 'Run it again when you are ready.',
    });
    const folder = await createRunFolder({ promptPath: plan.prompt.path, outputDir: plan.request.outputDir, runsDir: plan.request.runsDir });
    const trace = newTrace({ prompt: plan.prompt, settings: plan.settings, demo: plan.demo, estimate: plan.estimate });
    trace.api_calls.push(...accountCalls);
    if (budgetNote) trace.warnings.push(budgetNote);
    return this.execute(client, folder, trace, hooks);
  }

  async resume(runDir: string, hooks: EngineRunHooks = {}): Promise<ResumeResult> {
    const run = await openRunForResume(runDir);
    if (run.finished) return { status: 'succeeded', trace: run.trace, runDir: run.folder.root, alreadyFinished: true };
    // Before the token is even read: a demo run, or a run made through another API, is refused.
    checkResumable(run.trace, run.folder.root, { demo: this.options.demo ?? false, apiBaseUrl: this.apiBaseUrl });
    const client = await this.replicateClient();
    const canceled = {
      message: 'The resume was canceled before it created a prediction; nothing more was spent.',
      action: 'Resume it again when you are ready; the images finished before are kept.',
    };
    run.trace.api_calls.push(...(await beforeRun(hooks, () => checkAccount(client, hooks), canceled)));
    for (const r of await beforeRun(hooks, () => recoverUnrecordedPredictions(client, run.trace, hooks.signal), canceled)) {
      const note = `Image ${r.index + 1}: adopted prediction ${r.prediction_id}, created before the interruption but not yet recorded.`;
      run.trace.warnings.push(note);
      hooks.onNotice?.({ kind: 'prediction-adopted', message: note });
    }
    // After the free lookups above (adopted predictions cost nothing more), before any create.
    const budgetNote = checkResumeBudget(run.trace, this.pricing(), this.options.budgetUsd ?? run.trace.settings.budget_usd);
    if (budgetNote) {
      run.trace.warnings.push(budgetNote);
      hooks.onNotice?.({ kind: 'budget-unchecked', message: budgetNote });
    }
    return this.execute(client, run.folder, run.trace, hooks);
  }

  async checkToken(options: { signal?: AbortSignal; onApiCall?: (call: ApiCallRecord) => void } = {}): Promise<{ username: string }> {
    const client = await this.replicateClient();
    const account = await client.account({ signal: options.signal, onCall: options.onApiCall });
    return { username: account.username };
  }

  async dispose(): Promise<void> {
    const kept = this.kept;
    this.kept = undefined;
    await kept?.scorer.dispose();
  }

  private async execute(client: ReplicateClient, folder: RunFolder, trace: GenerationTrace, hooks: RunHooks): Promise<RunResult> {
    const pricing = this.pricing();
    const config = this.scorerConfig(trace);
    // The kept scorer holds one prompt at a time: a second concurrent run gets its own scorer.
    const useKept = this.options.keepScorerLoaded === true && !this.keptInUse;
    if (useKept) this.keptInUse = true;
    const deps: RunDeps = {
      generate: (req, onEvent) => generateImages(client, req, onEvent, pricing),
      createScorer: (onProgress) => (useKept ? this.keptScorer(config, onProgress) : this.makeScorer(config, onProgress)),
      keepScorer: useKept,
      logger: this.logger,
    };
    try {
      return await executeRun(folder, trace, deps, { signal: hooks.signal, onEvent: hooks.onEvent });
    } finally {
      if (useKept) {
        this.keptInUse = false;
        this.keptProgress = undefined;
      }
    }
  }

  /** The kept scorer for this config, replacing one made for another precision or other metrics. */
  private keptScorer(config: ScorerConfig, onProgress: (p: ScorerProgress) => void): Scorer {
    const key = JSON.stringify(config);
    if (this.kept && this.kept.key !== key) {
      const old = this.kept.scorer;
      this.kept = undefined;
      old.dispose().catch((e) => this.logger.warn(`Could not close the previous scorer: ${(e as Error).message}`));
    }
    this.kept ??= { key, scorer: this.makeScorer(config, (p) => this.keptProgress?.(p)) };
    this.keptProgress = onProgress;
    return this.kept.scorer;
  }

  private makeScorer(config: ScorerConfig, onProgress: (p: ScorerProgress) => void): Scorer {
    if (this.options.createScorer) return this.options.createScorer(config, { logger: this.logger, onProgress });
    // Loaded on first use: the scorer module is not needed to plan (and faces activate faster).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createScorer } = require('./scoring/scorer') as typeof import('./scoring/scorer');
    return createScorer(config, { logger: this.logger, onProgress, startWorker: this.options.startScoringWorker });
  }

  private scorerConfig(trace: GenerationTrace): ScorerConfig {
    const o = this.options;
    return {
      modelsDir: this.modelsDir,
      precision: trace.settings.precision,
      enabled: trace.settings.enabled_metrics,
      lowMemory: o.lowMemory ?? false,
      executionProviders: o.executionProviders ?? ['cpu'],
      intraOpNumThreads: o.intraOpNumThreads ?? 0,
      allowDownload: o.allowDownload ?? true,
      ...(o.hubEndpoint ? { hubEndpoint: o.hubEndpoint } : {}),
      ...(o.manifestPath ? { manifestPath: o.manifestPath } : {}),
    };
  }

  private defaultRunOptions(): RunRequestOptions {
    const o = this.options;
    return {
      ...(o.precision ? { precision: o.precision } : {}),
      ...(o.vqascore === false ? { disabledMetrics: ['vqascore'] } : {}),
      ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
      ...(o.weights ? { weights: o.weights } : {}),
      ...(o.budgetUsd !== undefined && o.budgetUsd !== null ? { budgetUsd: o.budgetUsd } : {}),
    };
  }

  /** A client per run: a long-lived face's token may change between runs. */
  private async replicateClient(): Promise<ReplicateClient> {
    const given = this.options.token;
    const token = typeof given === 'function' ? await given() : given;
    if (!token) {
      throw new ContactSheetError('token-missing', 'No Replicate API token is set.', {
        action: 'Create one at https://replicate.com/account/api-tokens, then set REPLICATE_API_TOKEN or use "Contact Sheet: Set Replicate API Token".',
      });
    }
    registerSecret(token);
    return new ReplicateClient({
      token,
      baseUrl: this.apiBaseUrl,
      logger: this.logger,
      ...(this.options.pollIntervalMs !== undefined ? { pollIntervalMs: this.options.pollIntervalMs } : {}),
      ...(this.options.retry ? { retry: this.options.retry } : {}),
    });
  }

  private pricing(): Pricing {
    this.pricingTable ??= this.options.pricing ?? loadPricing();
    return this.pricingTable;
  }

  private get apiBaseUrl(): string {
    return this.checkedApiBaseUrl;
  }

  private get modelsDir(): string {
    return this.options.modelsDir ?? defaultModelsDir();
  }
}

/** The token check before a run (GET /v1/account), told as an api-call event and kept for the trace. */
async function checkAccount(client: ReplicateClient, hooks: EngineRunHooks): Promise<ApiCallRecord[]> {
  const calls: ApiCallRecord[] = [];
  await client.account({
    signal: hooks.signal,
    onCall: (call) => {
      calls.push(call);
      hooks.onEvent?.({ type: 'api-call', call });
    },
  });
  return calls;
}

/**
 * A step before the run folder's run begins (the token check, resume's lookups): a cancel there
 * ends with what was spent (nothing) and what to do, not with the transport's bare abort.
 */
async function beforeRun<T>(hooks: EngineRunHooks, step: () => Promise<T>, canceled: { message: string; action: string }): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (!hooks.signal?.aborted || (e instanceof ContactSheetError && e.code !== 'canceled')) throw e;
    throw new ContactSheetError('canceled', canceled.message, { action: canceled.action });
  }
}

function rawEstimate(e: CostEstimate): RunCostEstimate {
  return { usd: e.usd, perImage: e.per_image, source: e.source, basis: e.basis };
}

/** checkBudget's warning for an unknown cost (it never throws then). */
function budgetWarning(estimate: RunCostEstimate, limitUsd: number): string | null {
  return checkBudget(estimate, limitUsd) ?? null;
}
