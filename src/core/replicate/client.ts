/**
 * Replicate HTTP client: account, models, create/get/cancel/list predictions, polling and output
 * downloads. Retries and call records live in ApiTransport; this file adds what is specific to
 * predictions: a create whose outcome is unknown (network error, 5xx, abort mid-request) is looked
 * up in the account's recent predictions before anything is sent again, so a lost response never
 * bills twice, and a prediction that times out or is abandoned is canceled so it stops billing
 * (each create also carries Replicate's Cancel-After, for when this client is gone). One
 * rate-limit gate per client holds every request of a kind after a 429 (rateLimitGate.ts).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ContactSheetError, isAbortError } from '../../shared/errors';
import { registerSecret, silentLogger, type Logger } from '../log';
import { checkApiBaseUrl } from './apiBaseUrl';
import { ApiTransport, canceledError, throwIfCanceled, type CallContext, type Sleep } from './apiTransport';
import type { Account, CreatePredictionRequest, Prediction, PredictionsPage, ReplicateModel, ModelVersion } from './apiTypes';
import { TERMINAL_STATUSES } from './apiTypes';
import { canonicalJson, findCreatedPrediction } from './createLookup';
import { formatModelRef } from './modelRef';
import { downloadOutputBytes, type DownloadedOutput } from './outputDownload';
import { cancelAfterFor, DEFAULT_PREDICTION_TIMEOUT_MS } from './predictionDeadline';
import { timeoutError } from './predictionErrors';
import { RateLimitGate } from './rateLimitGate';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retryPolicy';
import type { ApiCallRecord, ModelRef, RateLimitWait } from './types';

export { canceledError, type CallContext, type Sleep } from './apiTransport';

/** Poll failures that leave the prediction as it was: the next poll may well get through. */
const POLL_TRANSIENT: ReadonlySet<string> = new Set(['server-error', 'network-error', 'rate-limited']);

export interface ReplicateClientOptions {
  token: string;
  /** Default https://api.replicate.com (tests and the demo point it at the fake). */
  baseUrl?: string;
  logger?: Logger;
  /** Called for every HTTP attempt, after it settles. */
  onCall?: (c: ApiCallRecord) => void;
  /** Called when a rate-limit window opens or is extended (see subscribeRateLimits). */
  onRateLimit?: (w: RateLimitWait) => void;
  retry?: Partial<RetryPolicy>;
  /** Injectable for tests; real timers by default. Must reject when `signal` aborts. */
  sleep?: Sleep;
  /** Injectable for tests; Math.random by default. */
  random?: () => number;
  /** First poll interval (ms); it grows ×1.5 up to maxPollIntervalMs. */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /**
   * Deadline for one prediction from creation to a terminal status (ms); creates send
   * Replicate's Cancel-After a minute later (predictionDeadline.ts). Default 10 min.
   */
  predictionTimeoutMs?: number;
  /** Deadline for one HTTP attempt (ms); a create holding for `Prefer: wait` gets that much longer. */
  requestTimeoutMs?: number;
  /**
   * Seconds a create may hold the connection until the prediction finishes (`Prefer: wait=N`,
   * Replicate's sync mode, 1–60); saves the polling delay on fast models. 0 turns it off.
   */
  preferWaitSeconds?: number;
  /** Largest output file accepted (bytes). */
  maxOutputBytes?: number;
  /** How far before our create attempt a found prediction's created_at may lie (clock skew), ms. */
  createLookupSkewMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface ModelInfo {
  ref: ModelRef;
  model: ReplicateModel;
  /** The version that will run: the pinned one, or the model's latest. */
  version: ModelVersion | null;
}

export interface CreateOptions {
  /** This prediction's deadline (ms), for its Cancel-After and Prefer: wait; the client's default when absent. */
  timeoutMs?: number;
  /**
   * Other creates may send exactly this input (a model without a seed input: every image of a run
   * is the same request). Input alone then cannot tell whose prediction a lookup finds, so creates
   * of one input are made one at a time, each with its lookup, and without Prefer: wait (which
   * would hold the next image's create for a whole prediction): a lost create's lookup can then
   * only find its own prediction or one nobody claimed.
   */
  sharedInput?: boolean;
}

export interface WaitOptions extends CallContext {
  onStatus?: (p: Prediction) => void;
  timeoutMs?: number;
}

const DEFAULT_BASE_URL = 'https://api.replicate.com';

export class ReplicateClient {
  readonly baseUrl: string;
  private readonly transport: ApiTransport;
  private readonly gate: RateLimitGate;
  private readonly logger: Logger;
  readonly retry: RetryPolicy;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly pollIntervalMs: number;
  private readonly maxPollIntervalMs: number;
  readonly predictionTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  readonly preferWaitSeconds: number;
  readonly maxOutputBytes: number;
  private readonly createLookupSkewMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  /** Predictions this client created or adopted: a lookup never hands the same one out twice. */
  private readonly claimed = new Set<string>();
  /** Creates in flight per shared input (see CreateOptions.sharedInput), chained one after another. */
  private readonly sharedInputCreates = new Map<string, Promise<unknown>>();

  constructor(opts: ReplicateClientOptions) {
    if (!opts.token) {
      throw new ContactSheetError('token-missing', 'No Replicate API token is set.', {
        action: 'Set a valid token: create one at https://replicate.com/account/api-tokens and set REPLICATE_API_TOKEN or use "Contact Sheet: Set Replicate API Token".',
      });
    }
    registerSecret(opts.token);
    this.baseUrl = checkApiBaseUrl(opts.baseUrl ?? DEFAULT_BASE_URL, 'The API base URL');
    this.logger = opts.logger ?? silentLogger;
    this.retry = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    this.sleep = opts.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
    this.random = opts.random ?? Math.random;
    this.pollIntervalMs = opts.pollIntervalMs ?? 500;
    this.maxPollIntervalMs = opts.maxPollIntervalMs ?? Math.max(2000, this.pollIntervalMs);
    this.predictionTimeoutMs = opts.predictionTimeoutMs ?? DEFAULT_PREDICTION_TIMEOUT_MS;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.preferWaitSeconds = Math.max(0, Math.min(60, Math.floor(opts.preferWaitSeconds ?? 60)));
    this.maxOutputBytes = opts.maxOutputBytes ?? 50 * 1024 * 1024;
    this.createLookupSkewMs = opts.createLookupSkewMs ?? 30_000;
    this.fetchImpl = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
    this.gate = new RateLimitGate({ logger: this.logger, retry: this.retry, sleep: this.sleep, random: this.random, now: this.now });
    if (opts.onRateLimit) this.gate.subscribe(opts.onRateLimit);
    this.transport = new ApiTransport({
      token: opts.token,
      baseUrl: this.baseUrl,
      logger: this.logger,
      onCall: opts.onCall,
      retry: this.retry,
      sleep: this.sleep,
      random: this.random,
      requestTimeoutMs: this.requestTimeoutMs,
      fetch: this.fetchImpl,
      now: this.now,
      gate: this.gate,
    });
  }

  /**
   * Calls `listener` whenever a rate-limit window opens (or, same window number, is extended) on
   * this client, whichever request met the 429. Returns the unsubscribe function.
   */
  subscribeRateLimits(listener: (w: RateLimitWait) => void): () => void {
    return this.gate.subscribe(listener);
  }

  /** Checks the token: GET /v1/account. */
  account(ctx: CallContext = {}): Promise<Account> {
    return this.transport.requestJson<Account>('GET', '/v1/account', undefined, ctx, 'idempotent');
  }

  /** The model and the version that would run, with its input schema. */
  async getModel(ref: ModelRef, ctx: CallContext = {}): Promise<ModelInfo> {
    const base = `/v1/models/${encodeURIComponent(ref.owner)}/${encodeURIComponent(ref.name)}`;
    const model = await this.transport.requestJson<ReplicateModel>('GET', base, undefined, ctx, 'idempotent');
    if (!ref.version) return { ref, model, version: model.latest_version ?? null };
    const version = await this.transport.requestJson<ModelVersion>('GET', `${base}/versions/${encodeURIComponent(ref.version)}`, undefined, ctx, 'idempotent');
    return { ref, model, version };
  }

  /**
   * Creates one prediction. Never sends a second create while an earlier one may exist: an unknown
   * outcome is resolved by a lookup first. If the caller aborts mid-create, a prediction that got
   * created anyway is found and canceled (best effort) before `canceled` is thrown; one that had
   * already succeeded is returned instead, since it is paid for.
   */
  async createPrediction(req: CreatePredictionRequest, ctx: CallContext = {}, opts: CreateOptions = {}): Promise<Prediction> {
    if (!opts.sharedInput) return this.createOnce(req, ctx, opts);
    const key = `${formatModelRef({ ...req.model, version: req.version })} ${canonicalJson(req.input)}`;
    const before = this.sharedInputCreates.get(key) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(() => this.createOnce(req, ctx, opts));
    const settled = mine.catch(() => undefined);
    this.sharedInputCreates.set(key, settled);
    void settled.then(() => {
      if (this.sharedInputCreates.get(key) === settled) this.sharedInputCreates.delete(key);
    });
    return mine;
  }

  private async createOnce(req: CreatePredictionRequest, ctx: CallContext, opts: CreateOptions): Promise<Prediction> {
    // Canceled before anything was sent: nothing can exist, so there is nothing to look up.
    throwIfCanceled(ctx.signal);
    const path = req.version ? '/v1/predictions' : `/v1/models/${encodeURIComponent(req.model.owner)}/${encodeURIComponent(req.model.name)}/predictions`;
    const body = req.version ? { version: req.version, input: req.input } : { input: req.input };
    const since = this.now() - this.createLookupSkewMs;
    const lookup = (signal?: AbortSignal, lookupCtx: CallContext = ctx) =>
      findCreatedPrediction(this, req, { since, exclude: this.claimed, signal, sleep: this.sleep, retryDelayMs: this.retry.baseDelayMs, ctx: lookupCtx });
    try {
      const timeoutMs = opts.timeoutMs ?? this.predictionTimeoutMs;
      const wait = opts.sharedInput ? 0 : Math.min(this.preferWaitSeconds, Math.floor(timeoutMs / 1000));
      const headers: Record<string, string> = { 'Cancel-After': cancelAfterFor(timeoutMs) };
      if (wait > 0) headers.Prefer = `wait=${wait}`;
      const created = await this.transport.requestJson<Prediction>('POST', path, body, ctx, 'create', () => lookup(ctx.signal), { headers, extraTimeoutMs: wait * 1000 });
      this.claimed.add(created.id);
      this.logger.info(`Created prediction ${created.id} on ${formatModelRef({ ...req.model, version: req.version })}`);
      return created;
    } catch (e) {
      const error = isAbortError(e) ? canceledError() : e;
      if (error instanceof ContactSheetError && error.code === 'canceled') {
        // A prediction that finished before the cancel reached it is paid for: hand it over.
        const finished = await this.reconcileAbortedCreate(lookup, ctx);
        if (finished) return finished;
      }
      throw error;
    }
  }

  /** Finds and cancels a prediction an interrupted create made anyway; returns it if it had already succeeded. */
  private async reconcileAbortedCreate(lookup: (s?: AbortSignal, c?: CallContext) => Promise<Prediction | undefined>, ctx: CallContext): Promise<Prediction | undefined> {
    try {
      const orphan = await lookup(AbortSignal.timeout(10_000), { ...ctx, failFastOnRateLimit: true });
      if (!orphan) return undefined;
      this.claimed.add(orphan.id);
      if (orphan.status === 'succeeded') return orphan;
      this.logger.info(`Canceling prediction ${orphan.id} created by an interrupted request`);
      const last = await this.cancelPrediction(orphan.id, { ...ctx, signal: AbortSignal.timeout(10_000), failFastOnRateLimit: true });
      return last.status === 'succeeded' ? last : undefined;
    } catch (e) {
      this.logger.warn(`Could not check for a prediction created by an interrupted request: ${(e as Error).message}`);
      return undefined;
    }
  }

  getPrediction(id: string, ctx: CallContext = {}): Promise<Prediction> {
    return this.transport.requestJson<Prediction>('GET', `/v1/predictions/${encodeURIComponent(id)}`, undefined, ctx, 'idempotent');
  }

  /** Marks a prediction as ours, e.g. one adopted on resume, so lookups skip it. */
  claim(id: string): void {
    this.claimed.add(id);
  }

  cancelPrediction(id: string, ctx: CallContext = {}): Promise<Prediction> {
    return this.transport.requestJson<Prediction>('POST', `/v1/predictions/${encodeURIComponent(id)}/cancel`, undefined, ctx, 'idempotent');
  }

  /** One page of the account's predictions, newest first. `cursor` is the `next` URL (or its query). */
  listPredictions(cursor?: string, ctx: CallContext = {}): Promise<PredictionsPage> {
    let path = '/v1/predictions';
    if (cursor) {
      const query = cursor.includes('?') ? cursor.slice(cursor.indexOf('?')) : `?cursor=${encodeURIComponent(cursor)}`;
      path += query;
    }
    return this.transport.requestJson<PredictionsPage>('GET', path, undefined, ctx, 'idempotent');
  }

  /**
   * Polls until the prediction is terminal (interval grows from pollIntervalMs to maxPollIntervalMs).
   * On timeout or abort it cancels the prediction on Replicate (best effort) so it stops billing.
   */
  async waitForPrediction(initial: Prediction, opts: WaitOptions = {}): Promise<Prediction> {
    const timeoutMs = opts.timeoutMs ?? this.predictionTimeoutMs;
    const deadline = this.now() + timeoutMs;
    let prediction = initial;
    let interval = this.pollIntervalMs;
    opts.onStatus?.(prediction);
    while (!TERMINAL_STATUSES.has(prediction.status)) {
      const left = deadline - this.now();
      if (left <= 0) {
        const last = await this.cancelQuietly(prediction.id, opts);
        if (last?.status === 'succeeded') return last;
        throw timeoutError(prediction.id, timeoutMs);
      }
      try {
        await this.sleep(Math.min(interval, left), opts.signal);
        const next = await this.getPrediction(prediction.id, opts);
        if (next.status !== prediction.status) opts.onStatus?.(next);
        prediction = next;
      } catch (e) {
        if (opts.signal?.aborted || isAbortError(e) || (e instanceof ContactSheetError && e.code === 'canceled')) {
          // A prediction that finished before the cancel reached it is paid for: keep it.
          const last = await this.cancelQuietly(prediction.id, opts);
          if (last?.status === 'succeeded') return last;
          throw canceledError();
        }
        // A poll that failed says nothing about the prediction, which runs (and bills) on: keep
        // asking until its deadline rather than give it up and pay for a replacement.
        const code = e instanceof ContactSheetError ? e.code : undefined;
        if (code !== undefined && POLL_TRANSIENT.has(code) && deadline - this.now() > 0) {
          this.logger.warn(`Polling prediction ${prediction.id} failed (${code}); asking again.`);
        } else {
          // Giving it up: cancel it so it stops billing, and keep it if it finished meanwhile.
          const last = await this.cancelQuietly(prediction.id, opts);
          if (last?.status === 'succeeded') return last;
          throw e;
        }
      }
      interval = Math.min(this.maxPollIntervalMs, Math.round(interval * 1.5));
    }
    return prediction;
  }

  /**
   * Best-effort cancel that ignores the caller's (possibly aborted) signal; recorded like any call.
   * Returns the prediction as the cancel left it (it may have finished first), or undefined.
   */
  async cancelQuietly(id: string, ctx: CallContext): Promise<Prediction | undefined> {
    try {
      return await this.cancelPrediction(id, { ...ctx, signal: AbortSignal.timeout(10_000), failFastOnRateLimit: true });
    } catch (e) {
      this.logger.warn(`Could not cancel prediction ${id}: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** Downloads an output file at once (Replicate deletes outputs after an hour) and validates it. */
  downloadOutput(url: string, signal?: AbortSignal, ctx: CallContext = {}): Promise<DownloadedOutput> {
    return downloadOutputBytes(url, {
      signal,
      maxBytes: this.maxOutputBytes,
      requestTimeoutMs: this.requestTimeoutMs,
      fetch: this.fetchImpl,
      retry: this.retry,
      sleep: this.sleep,
      random: this.random,
      now: this.now,
      record: (r) => this.transport.record(r, ctx),
    });
  }
}
