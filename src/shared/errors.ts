/**
 * Every failure the engine reports is a ContactSheetError: a stable code a face can branch on,
 * a message saying what happened, and an action telling the user what to do about it.
 * Messages must never contain the Replicate token (see core/log.ts `redact`). Plain TypeScript
 * without Node, shared by the engine, the faces, the webview and the scoring worker's messages.
 */
export type ErrorCode =
  // usage and input
  | 'bad-usage'
  | 'prompt-missing'
  | 'prompt-empty'
  | 'prompt-binary'
  | 'prompt-too-large'
  | 'prompt-unreadable'
  | 'prompt-front-matter'
  // Replicate
  | 'token-missing'
  | 'token-invalid'
  | 'insufficient-credit'
  | 'model-not-found'
  | 'invalid-input'
  | 'rate-limited'
  | 'server-error'
  | 'network-error'
  | 'prediction-failed'
  | 'prediction-refused'
  | 'prediction-canceled'
  | 'prediction-aborted'
  | 'prediction-timeout'
  | 'output-expired'
  | 'output-invalid'
  | 'budget-exceeded'
  | 'all-models-failed'
  // models and scoring
  | 'model-download-failed'
  | 'model-checksum-mismatch'
  | 'model-missing'
  | 'model-offline'
  | 'model-format'
  | 'image-unreadable'
  | 'scoring-failed'
  // output
  | 'output-path-unsafe'
  | 'disk-full'
  | 'write-failed'
  | 'run-not-resumable'
  // generic
  | 'canceled'
  | 'internal';

export interface ContactSheetErrorOptions {
  /** What the user can do about it, one sentence. */
  action?: string;
  cause?: unknown;
  /** Structured extras for traces and tests (never secrets). */
  details?: Record<string, unknown>;
}

export class ContactSheetError extends Error {
  readonly code: ErrorCode;
  readonly action: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ContactSheetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ContactSheetError';
    this.code = code;
    this.action = options.action;
    this.details = options.details;
  }

  /** Plain JSON form for traces, metadata and the webview protocol. */
  toJSON(): SerializedError {
    return {
      code: this.code,
      message: this.message,
      ...(this.action ? { action: this.action } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export interface SerializedError {
  code: ErrorCode;
  message: string;
  action?: string;
  details?: Record<string, unknown>;
}

export function isContactSheetError(e: unknown): e is ContactSheetError {
  return e instanceof ContactSheetError;
}

/** Wraps anything thrown into a ContactSheetError, keeping typed ones as they are. */
export function toContactSheetError(e: unknown, fallbackCode: ErrorCode = 'internal'): ContactSheetError {
  if (e instanceof ContactSheetError) return e;
  if (isAbortError(e)) return new ContactSheetError('canceled', 'The operation was canceled.');
  const message = e instanceof Error ? e.message : String(e);
  return new ContactSheetError(fallbackCode, message, { cause: e });
}

export function isAbortError(e: unknown): boolean {
  return (
    typeof e === 'object' &&
    e !== null &&
    ((e as { name?: string }).name === 'AbortError' || (e as { code?: string }).code === 'ABORT_ERR')
  );
}

/** Throws a `canceled` ContactSheetError if the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ContactSheetError('canceled', 'The operation was canceled.');
}
