/**
 * Errors for predictions that ended without an image. A refusal (the model's safety checker or
 * the provider's content policy flagged the prompt or output) is told apart from an ordinary
 * failure because another model would likely refuse too and the user must change the prompt.
 */
import { ContactSheetError } from '../../shared/errors';
import type { Prediction } from './apiTypes';

const REFUSAL = /nsfw|safety|content policy|content_policy|flagged|sensitive|moderation|prohibited/i;

export function errorText(prediction: Pick<Prediction, 'error'>): string {
  const e = prediction.error;
  if (e === null || e === undefined) return '';
  if (typeof e === 'string') return e;
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}

export function isRefusalText(text: string): boolean {
  return REFUSAL.test(text);
}

/** The error for a prediction in a terminal status other than succeeded. */
export function errorForPrediction(prediction: Prediction): ContactSheetError {
  const text = errorText(prediction).slice(0, 1000);
  const details = { prediction_id: prediction.id, model: prediction.model, status: prediction.status, error: text || null };
  const said = text ? `: ${text}` : '';
  switch (prediction.status) {
    case 'canceled':
      return new ContactSheetError('prediction-canceled', `Prediction ${prediction.id} was canceled on Replicate.`, {
        action: 'Run again if the cancellation was not intended.',
        details,
      });
    case 'aborted':
      return new ContactSheetError('prediction-aborted', `Prediction ${prediction.id} was aborted by Replicate before it finished${said}.`, {
        action: 'Run again; if it keeps happening, try another model.',
        details,
      });
    default:
      if (isRefusalText(text)) {
        return new ContactSheetError('prediction-refused', `The model refused the prompt or its output (content policy / safety filter)${said}.`, {
          action: 'Rephrase the prompt; other models apply similar policies, so no fallback was tried.',
          details,
        });
      }
      return new ContactSheetError('prediction-failed', `Prediction ${prediction.id} failed${said}.`, {
        action: 'Run again or pick another model; the model\'s logs are in the generation trace.',
        details,
      });
  }
}

export function timeoutError(predictionId: string, timeoutMs: number): ContactSheetError {
  return new ContactSheetError('prediction-timeout', `Prediction ${predictionId} did not finish within ${Math.round(timeoutMs / 1000)} s; it was canceled.`, {
    action: 'Raise the prediction timeout (--prediction-timeout on the CLI) or try a faster model.',
    details: { prediction_id: predictionId, timeout_ms: timeoutMs },
  });
}
