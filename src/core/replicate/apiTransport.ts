/**
 * One logical JSON call to Replicate's API with the project's retry policy, every HTTP attempt
 * recorded (ApiCallRecord) and logged with the token redacted. GETs and cancels are retried on
 * network errors, 5xx and 429; a create only on 429, or after `onUnknownOutcome` (a lookup) found
 * that its earlier attempt did not create anything. Every attempt first passes the client's
 * rate-limit gate (rateLimitGate.ts): a 429 holds all requests of its kind, not just its own.
 */
import { ContactSheetError, isAbortError } from '../../shared/errors';
import { redact, type Logger } from '../log';
import type { Prediction } from './apiTypes';
import { TERMINAL_STATUSES } from './apiTypes';
import { errorForStatus, networkError, parseErrorBody } from './httpErrors';
import { RateLimitGate } from './rateLimitGate';
import { backoffCeilingMs, backoffDelayMs, rateLimitDelay, serverRequestedDelayMs, type RetryPolicy } from './retryPolicy';
import type { ApiCallRecord, Cost, PredictionStatus } from './types';

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Per-call context: cancellation, the image the call serves, and an extra call observer. */
export interface CallContext {
  signal?: AbortSignal;
  imageIndex?: number;
  onCall?: (c: ApiCallRecord) => void;
  /** Prices a prediction seen in a terminal state, so the call record carries its cost. */
  costOf?: (p: Prediction) => Cost;
  /**
   * Best-effort calls (cleanup after a cancel) fail at once with `rate-limited` instead of waiting
   * out a rate-limit window, so a cancel ends promptly; Replicate's Cancel-After still ends the
   * predictions they could not cancel.
   */
  failFastOnRateLimit?: boolean;
}

export type RetryMode = 'idempotent' | 'create';

export interface ExtraRequestOptions {
  headers?: Record<string, string>;
  extraTimeoutMs?: number;
}

interface Attempt {
  status: number | null;
  headers?: Headers;
  text?: string;
  error?: unknown;
}

export interface TransportOptions {
  token: string;
  baseUrl: string;
  logger: Logger;
  onCall?: (c: ApiCallRecord) => void;
  retry: RetryPolicy;
  sleep: Sleep;
  random: () => number;
  requestTimeoutMs: number;
  fetch: typeof fetch;
  now: () => number;
  gate: RateLimitGate;
}

export class ApiTransport {
  private readonly token: string;
  private readonly baseUrl: string;
  private readonly logger: Logger;
  private readonly onCall?: (c: ApiCallRecord) => void;
  private readonly retry: RetryPolicy;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly requestTimeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly gate: RateLimitGate;

  constructor(opts: TransportOptions) {
    this.token = opts.token;
    this.baseUrl = opts.baseUrl;
    this.logger = opts.logger;
    this.onCall = opts.onCall;
    this.retry = opts.retry;
    this.sleep = opts.sleep;
    this.random = opts.random;
    this.requestTimeoutMs = opts.requestTimeoutMs;
    this.fetchImpl = opts.fetch;
    this.now = opts.now;
    this.gate = opts.gate;
  }

  /**
   * One logical JSON call with the retry policy. `onUnknownOutcome` (creates only) is consulted
   * before repeating a request whose effect on the server is unknown; a prediction it returns is
   * the result.
   */
  async requestJson<T>(
    method: string,
    path: string,
    body: unknown,
    ctx: CallContext,
    mode: RetryMode,
    onUnknownOutcome?: () => Promise<T | undefined>,
    extra?: ExtraRequestOptions,
  ): Promise<T> {
    const what = `${method} ${path}`;
    const lane = RateLimitGate.laneOf(mode);
    for (let attempt = 0; ; attempt++) {
      throwIfCanceled(ctx.signal);
      const heldMs = await this.gate
        .pass(lane, { signal: ctx.signal, retry: Math.max(0, attempt - 1), failFast: ctx.failFastOnRateLimit })
        .catch(rethrowAsCanceled);
      const result = await this.attemptOnce(method, path, body, ctx, attempt, extra, heldMs);
      const lastAttempt = attempt + 1 >= this.retry.maxAttempts;
      if (result.status !== null && result.status >= 200 && result.status < 300) {
        const parsed = parseObject(result.text);
        if (parsed !== undefined) return parsed as T;
        // A 2xx we cannot read. For a create the server accepted it: find it, never send it again.
        if (mode === 'create' && onUnknownOutcome) {
          const found = await onUnknownOutcome();
          if (found !== undefined) return found;
          throw unreadableResponse(what);
        }
        if (lastAttempt) throw unreadableResponse(what);
        await this.sleep(backoffDelayMs(this.retry, attempt, this.random), ctx.signal).catch(rethrowAsCanceled);
        continue;
      }
      if (result.status === 429) {
        // The account is limited, whatever this call does next: close the lane for everyone.
        // Nothing was created, so a create is simply sent again once the gate opens.
        const asked = rateLimitDelay(result.headers, result.text, this.now());
        const wait = asked?.ms ?? backoffCeilingMs(this.retry, attempt);
        this.gate.close(lane, wait, { source: asked?.source ?? 'default-backoff', retryAfter: asked?.retryAfter ?? null, call: what, imageIndex: ctx.imageIndex });
        if (lastAttempt || wait > this.retry.maxRetryAfterMs || ctx.failFastOnRateLimit) {
          throw errorForStatus(429, parseErrorBody(result.text ?? ''), what, { retryAfterMs: asked?.ms });
        }
        this.logger.debug(`${what}: 429, sent again when the rate-limit window has passed (attempt ${attempt + 1})`);
        continue;
      }
      const unknownOutcome = result.status === null || result.status >= 500;
      if (!unknownOutcome) throw errorForStatus(result.status!, parseErrorBody(result.text ?? ''), what);
      const failure = result.status === null ? networkError(what, result.error) : errorForStatus(result.status, parseErrorBody(result.text ?? ''), what);
      if (lastAttempt) {
        // A create whose outcome is unknown may still have happened: one last look.
        if (mode === 'create' && onUnknownOutcome) {
          const found = await onUnknownOutcome();
          if (found !== undefined) return found;
        }
        throw failure;
      }
      const asked = result.headers ? serverRequestedDelayMs(result.headers, this.now()) : undefined;
      const wait = Math.min(asked ?? backoffDelayMs(this.retry, attempt, this.random), this.retry.maxRetryAfterMs);
      this.logger.warn(`${what}: ${failure.message} Retrying in ${wait} ms (attempt ${attempt + 1}).`);
      await this.sleep(wait, ctx.signal).catch(rethrowAsCanceled);
      if (mode === 'create' && onUnknownOutcome) {
        const found = await onUnknownOutcome();
        if (found !== undefined) {
          this.logger.info(`${what}: the earlier attempt did create prediction ${(found as Prediction).id}; not creating again.`);
          return found;
        }
      }
    }
  }

  private async attemptOnce(method: string, path: string, body: unknown, ctx: CallContext, attempt: number, extra: ExtraRequestOptions | undefined, heldMs: number): Promise<Attempt> {
    const started = this.now();
    const timeout = AbortSignal.timeout(this.requestTimeoutMs + (extra?.extraTimeoutMs ?? 0));
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: 'application/json', ...extra?.headers };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let outcome: Attempt;
    try {
      const res = await this.fetchImpl(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      const text = await res.text();
      outcome = { status: res.status, headers: res.headers, text };
    } catch (e) {
      outcome = { status: null, error: e };
    }
    const record: ApiCallRecord = {
      method,
      path,
      status: outcome.status,
      started_at: new Date(started).toISOString(),
      duration_ms: this.now() - started,
      attempt,
    };
    const parsed = outcome.status !== null && outcome.status < 300 ? safeParse(outcome.text) : undefined;
    const predictionId = predictionIdOf(path, parsed);
    if (predictionId) record.prediction_id = predictionId;
    if (ctx.imageIndex !== undefined) record.image_index = ctx.imageIndex;
    if (heldMs > 0) record.rate_limit_wait_ms = heldMs;
    if (headers['Cancel-After']) record.cancel_after = headers['Cancel-After'];
    if (parsed && ctx.costOf && isTerminalPrediction(parsed)) record.cost = ctx.costOf(parsed);
    if (outcome.status === null) record.error = redact(describeError(outcome.error));
    else if (outcome.status >= 400) record.error = redact(parseErrorBody(outcome.text ?? '').detail ?? `HTTP ${outcome.status}`);
    this.record(record, ctx);
    if (outcome.status === null && ctx.signal?.aborted) throw canceledError();
    return outcome;
  }

  record(record: ApiCallRecord, ctx: CallContext): void {
    this.logger.debug(
      redact(`${record.method} ${record.path} → ${record.status ?? 'no response'} in ${record.duration_ms} ms (attempt ${record.attempt})${record.error ? ` ${record.error}` : ''}`),
    );
    this.onCall?.(record);
    ctx.onCall?.(record);
  }
}

export function canceledError(): ContactSheetError {
  return new ContactSheetError('canceled', 'The operation was canceled.');
}

export function throwIfCanceled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw canceledError();
}

function rethrowAsCanceled(e: unknown): never {
  if (isAbortError(e)) throw canceledError();
  throw e;
}

/** The body as a JSON object, or undefined when it is not one (HTML error pages, truncation). */
function parseObject(text: string | undefined): object | undefined {
  const v = safeParse(text);
  return v !== null && typeof v === 'object' ? v : undefined;
}

function unreadableResponse(what: string): ContactSheetError {
  return new ContactSheetError('server-error', `Replicate sent a response that is not a JSON object for ${what}.`, {
    action: 'Try again in a few minutes; check https://replicatestatus.com if it persists.',
    details: { call: what },
  });
}

function safeParse(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function predictionIdOf(path: string, parsed: unknown): string | undefined {
  const m = /^\/v1\/predictions\/([^/?]+)/.exec(path);
  if (m) return decodeURIComponent(m[1]);
  if (parsed && typeof parsed === 'object' && typeof (parsed as { id?: unknown }).id === 'string' && 'status' in parsed) {
    return (parsed as unknown as { id: string }).id;
  }
  return undefined;
}

function isTerminalPrediction(v: unknown): v is Prediction {
  return !!v && typeof v === 'object' && TERMINAL_STATUSES.has((v as { status?: PredictionStatus }).status as PredictionStatus) && typeof (v as { id?: unknown }).id === 'string';
}

function describeError(e: unknown): string {
  if (e instanceof Error) {
    const inner = (e as { cause?: unknown }).cause;
    return inner instanceof Error ? `${e.message}: ${inner.message}` : e.message;
  }
  return String(e);
}
