/**
 * What a failure means for the run. Token and credit errors fail on every model, so they stop the
 * run; a refusal is about the prompt, so another model is not tried; failures a different model
 * can fix (missing model, rejected input, server trouble, a failed or stuck prediction) move the
 * image to the next model.
 */
import type { ErrorCode } from '../../shared/errors';

const RUN_FATAL: ReadonlySet<ErrorCode> = new Set(['token-missing', 'token-invalid', 'insufficient-credit', 'canceled']);

const FALLBACK_WORTHY: ReadonlySet<ErrorCode> = new Set([
  'model-not-found',
  'invalid-input',
  'server-error',
  'prediction-failed',
  'prediction-aborted',
  'prediction-timeout',
]);

/** After this many fallback-worthy failures on a model, later images skip it. */
export const MODEL_FAILURES_BEFORE_SKIP = 2;

export function isRunFatal(code: ErrorCode): boolean {
  return RUN_FATAL.has(code);
}

export function isFallbackWorthy(code: ErrorCode): boolean {
  return FALLBACK_WORTHY.has(code);
}
