/**
 * A prediction's deadline, on both sides. The client cancels a prediction that has not finished
 * within the prediction timeout; each create also carries Replicate's `Cancel-After` header so
 * Replicate itself ends the prediction if the client is gone by then (killed, asleep, offline):
 * `aborted` (never billed) when it had not started, `canceled` when it was running.
 *
 * Cancel-After counts from the prediction's creation; the client's own deadline counts from when
 * the create returns, which with `Prefer: wait` can be up to 60 s later. Adding that minute to
 * Cancel-After keeps the client's cancel (which records why) first whenever the client is there.
 */

/** The client's default prediction timeout. */
export const DEFAULT_PREDICTION_TIMEOUT_MS = 10 * 60_000;

/** How much later than the client's deadline Replicate's own one falls (the longest `Prefer: wait`). */
export const CANCEL_AFTER_GRACE_MS = 60_000;

/** Replicate refuses Cancel-After durations shorter than this. */
export const MIN_CANCEL_AFTER_S = 5;

/** The Cancel-After header for a client timeout, e.g. 10 min → "11m". */
export function cancelAfterFor(timeoutMs: number): string {
  return formatDuration(Math.ceil((timeoutMs + CANCEL_AFTER_GRACE_MS) / 1000));
}

/** Seconds in Replicate's duration syntax ("90s" → "1m30s", "3600" → "1h"), at least the minimum. */
export function formatDuration(seconds: number): string {
  const total = Math.max(MIN_CANCEL_AFTER_S, Math.ceil(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

