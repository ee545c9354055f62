/**
 * Replicate's rate limits are per account, so a 429 says nothing about the request that got it and
 * everything about the requests of its kind: after a 429 on a create every create is refused until
 * the limit resets, and parallel creates that ignore that only earn more 429s (and, on low-credit
 * accounts, longer waits). One gate per client therefore holds every request of the refused lane
 * (creates, or every other call) until the server's wait has passed; a request that was held adds
 * its own jittered backoff on top so the held ones do not all hit the reset at once. Each window is
 * logged and reported to listeners once, however many requests it holds.
 */
import { ContactSheetError } from '../../shared/errors';
import type { Logger } from '../log';
import type { Sleep } from './apiTransport';
import { backoffDelayMs, type RetryPolicy } from './retryPolicy';
import type { RateLimitLane, RateLimitWait } from './types';

export interface RateLimitGateOptions {
  logger: Logger;
  retry: RetryPolicy;
  sleep: Sleep;
  random: () => number;
  now: () => number;
}

/** What the refused request tells the gate about its 429. */
export interface RefusalInfo {
  source: RateLimitWait['source'];
  retryAfter: string | null;
  call: string;
  imageIndex?: number;
}

export interface PassOptions {
  signal?: AbortSignal;
  /** Retries this call already made (0 for its first attempt): sizes the jitter after a hold. */
  retry: number;
  /** Fail at once instead of waiting out a window (best-effort cleanup after a cancel). */
  failFast?: boolean;
}

interface LaneState {
  /** Epoch ms (by the client's clock) before which no request of the lane is sent. */
  until: number;
  /** Bumped whenever `until` moves later, so a waiter knows its sleep was not enough. */
  generation: number;
  window: RateLimitWait | null;
}

/**
 * Timers can fire a millisecond or two before the time asked for; the window is the server's, so a
 * waiter that woke that little too early sleeps the rest rather than go out inside it.
 */
const EARLY_WAKE_TOLERANCE_MS = 20;

const LANE_NAMES: Record<RateLimitLane, string> = { create: 'prediction creates', other: 'API calls other than creates' };

export class RateLimitGate {
  private readonly lanes: Record<RateLimitLane, LaneState> = {
    create: { until: 0, generation: 0, window: null },
    other: { until: 0, generation: 0, window: null },
  };
  private readonly listeners = new Set<(w: RateLimitWait) => void>();
  private windows = 0;

  constructor(private readonly opts: RateLimitGateOptions) {}

  /** Calls `listener` for every window opened (and again, same number, when one is extended). */
  subscribe(listener: (w: RateLimitWait) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The lane a call belongs to: Replicate counts prediction creates apart from everything else. */
  static laneOf(mode: 'create' | 'idempotent'): RateLimitLane {
    return mode === 'create' ? 'create' : 'other';
  }

  /**
   * Records a 429: the lane stays closed for `waitMs` from now. A 429 for a request that was
   * already in flight when the window opened joins that window (extending it if it asks for more).
   */
  close(lane: RateLimitLane, waitMs: number, info: RefusalInfo): RateLimitWait {
    const now = this.opts.now();
    const until = now + Math.max(0, waitMs);
    const state = this.lanes[lane];
    if (state.window && state.until > now) {
      if (until > state.until) {
        state.until = until;
        state.generation += 1;
        state.window = { ...state.window, until: iso(until), wait_ms: until - Date.parse(state.window.started_at) };
        this.opts.logger.debug(`Rate-limit window ${state.window.window} on ${LANE_NAMES[lane]} extended to ${state.window.until} (429 on ${info.call}).`);
        this.notify(state.window);
      }
      return state.window;
    }
    const window: RateLimitWait = {
      window: ++this.windows,
      lane,
      started_at: iso(now),
      until: iso(until),
      wait_ms: until - now,
      source: info.source,
      retry_after: info.retryAfter,
      call: info.call,
      ...(info.imageIndex !== undefined ? { image_index: info.imageIndex } : {}),
    };
    state.until = until;
    state.generation += 1;
    state.window = window;
    this.opts.logger.warn(`Replicate is rate limiting this account (429 on ${info.call}): holding all ${LANE_NAMES[lane]} for ${formatSeconds(window.wait_ms)}.`);
    this.notify(window);
    return window;
  }

  /**
   * Resolves when a request of `lane` may go out: at once when the lane is open, otherwise after
   * its window plus a jittered backoff. Returns the time held (0 when not held). Rejects with the
   * sleep's abort when `signal` aborts, and with `rate-limited` when the window is longer than the
   * retry policy accepts (or the caller cannot wait): such a request would only be refused again.
   */
  async pass(lane: RateLimitLane, opts: PassOptions): Promise<number> {
    const state = this.lanes[lane];
    let held = 0;
    for (;;) {
      const left = state.until - this.opts.now();
      if (left <= 0) break;
      if (opts.failFast || left > this.opts.retry.maxRetryAfterMs) throw heldTooLong(lane, state.window, left);
      const generation = state.generation;
      await this.opts.sleep(left, opts.signal);
      held += left;
      if (state.generation !== generation) continue; // extended while asleep: wait for the new end
      const early = state.until - this.opts.now();
      if (early > 0 && early <= EARLY_WAKE_TOLERANCE_MS) {
        await this.opts.sleep(early, opts.signal);
        held += early;
      }
      break;
    }
    if (held === 0) return 0;
    const jitter = backoffDelayMs(this.opts.retry, opts.retry, this.opts.random);
    if (jitter > 0) await this.opts.sleep(jitter, opts.signal);
    return held + jitter;
  }

  private notify(window: RateLimitWait): void {
    for (const listener of this.listeners) {
      try {
        listener(window);
      } catch (e) {
        this.opts.logger.warn(`A rate-limit listener failed: ${(e as Error).message}`);
      }
    }
  }
}

function heldTooLong(lane: RateLimitLane, window: RateLimitWait | null, leftMs: number): ContactSheetError {
  const call = window ? ` (429 on ${window.call})` : '';
  return new ContactSheetError('rate-limited', `Replicate is rate limiting this account${call}; ${LANE_NAMES[lane]} are held for another ${formatSeconds(leftMs)}.`, {
    action: 'Wait a minute and run again, or lower the concurrency setting.',
    details: { status: 429, lane, retry_after_ms: leftMs, window: window?.window ?? null },
  });
}

function formatSeconds(ms: number): string {
  return `${Math.ceil(ms / 1000)} s`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
