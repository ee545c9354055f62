/**
 * When and how long to wait before repeating a call. Exponential backoff with full jitter
 * (a random wait in [0, min(cap, base·2^n)]) spreads retries of many clients apart; a server's
 * own Retry-After / rate-limit reset always wins over our guess.
 */
export interface RetryPolicy {
  /** Attempts in total for one logical call (first try included). */
  maxAttempts: number;
  /** Backoff base for the first retry, in ms. */
  baseDelayMs: number;
  /** Upper bound of one computed backoff wait, in ms. */
  maxDelayMs: number;
  /** A server asking us to wait longer than this is reported (rate-limited) instead of obeyed. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 120_000,
};

/** Full-jitter backoff for retry number `retry` (0 = the first retry). `random` returns [0, 1). */
export function backoffDelayMs(policy: RetryPolicy, retry: number, random: () => number): number {
  return Math.floor(random() * backoffCeilingMs(policy, retry));
}

/** The un-jittered backoff for retry number `retry`: the window assumed after a 429 that names no wait. */
export function backoffCeilingMs(policy: RetryPolicy, retry: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
}

export interface RateLimitDelay {
  ms: number;
  source: 'retry-after' | 'rate-limit-reset' | 'response-body';
  /** The Retry-After header as sent, or null. */
  retryAfter: string | null;
}

/**
 * How long a 429 asks to wait: Retry-After (seconds or an HTTP date), else a rate-limit reset
 * header, else the reset Replicate names in the error body ("Request was throttled. Your rate
 * limit resets in ~30s."; Django REST framework's "Expected available in 2 seconds." too).
 * Undefined when the response names none.
 */
export function rateLimitDelay(headers: Headers | undefined, bodyText: string | undefined, now: number = Date.now()): RateLimitDelay | undefined {
  const retryAfter = headers?.get('retry-after') ?? null;
  const fromHeaders = headers ? serverRequestedDelayMs(headers, now) : undefined;
  if (fromHeaders !== undefined) {
    const fromRetryAfter = retryAfter !== null && parseRetryAfter(retryAfter, now) !== undefined;
    return { ms: fromHeaders, source: fromRetryAfter ? 'retry-after' : 'rate-limit-reset', retryAfter };
  }
  const m = /(?:resets? in|available in)\s*~?\s*(\d+(?:\.\d+)?)\s*(?:s\b|sec|second)/i.exec(bodyText ?? '');
  if (m) return { ms: Math.ceil(Number(m[1]) * 1000), source: 'response-body', retryAfter };
  return undefined;
}

/**
 * The wait a response asks for, in ms, or undefined when it names none.
 * Retry-After is delta-seconds or an HTTP date; rate-limit reset headers are delta-seconds, or
 * epoch seconds when the number is that large.
 */
export function serverRequestedDelayMs(headers: Headers, now: number = Date.now()): number | undefined {
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null) {
    const parsed = parseRetryAfter(retryAfter, now);
    if (parsed !== undefined) return parsed;
  }
  for (const name of ['ratelimit-reset', 'x-ratelimit-reset']) {
    const value = headers.get(name);
    if (value === null) continue;
    const n = Number(value.trim());
    if (!Number.isFinite(n) || n < 0) continue;
    // Epoch seconds (e.g. 1764000000) versus a delta (e.g. 12).
    return n > 1e9 ? Math.max(0, Math.ceil(n * 1000 - now)) : Math.ceil(n * 1000);
  }
  return undefined;
}

export function parseRetryAfter(value: string, now: number = Date.now()): number | undefined {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
