/**
 * Maps Replicate's HTTP failures to ContactSheetErrors with an action the user can take.
 * Replicate's error bodies are `{title, detail, status, invalid_fields?}` (RFC 7807 style); anything
 * else is reported by status alone.
 */
import { ContactSheetError } from '../../shared/errors';

export interface ReplicateErrorBody {
  title?: string;
  detail?: string;
  status?: number;
  invalid_fields?: unknown[];
}

export function parseErrorBody(text: string): ReplicateErrorBody {
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object') return v as ReplicateErrorBody;
  } catch {
    // not JSON: fall through
  }
  return text.trim() ? { detail: text.trim().slice(0, 500) } : {};
}

/** `what` names the call for the message, e.g. "POST /v1/predictions". */
export function errorForStatus(status: number, body: ReplicateErrorBody, what: string, extra?: { retryAfterMs?: number }): ContactSheetError {
  const detail = body.detail ?? body.title ?? '';
  const said = detail ? `: ${detail}` : '';
  const details: Record<string, unknown> = { status, call: what };
  const predictionPath = /\/v1\/predictions\/[^/\s]+/.test(what);
  if (status === 403 && !what.endsWith('/v1/account')) {
    return new ContactSheetError('model-not-found', `Replicate does not let this account use it (403) for ${what}${said}.`, {
      action: 'Check that your account can run this model (private models need access), or pick another model.',
      details,
    });
  }
  if (status === 404 && predictionPath) {
    return new ContactSheetError('output-expired', `Replicate no longer has this prediction (404) for ${what}${said}.`, {
      action: 'Generate the image again; predictions from another account or deleted ones cannot be resumed.',
      details,
    });
  }
  if (status === 401 || status === 403) {
    return new ContactSheetError('token-invalid', `Replicate rejected the API token (${status})${said}.`, {
      action: 'Set a valid token: create one at https://replicate.com/account/api-tokens and store it with "Contact Sheet: Set Replicate API Token" or REPLICATE_API_TOKEN.',
      details,
    });
  }
  if (status === 402) {
    return new ContactSheetError('insufficient-credit', `Replicate refused to run the prediction: not enough credit (402)${said}.`, {
      action: 'Add credit or a payment method at https://replicate.com/account/billing, then run again.',
      details,
    });
  }
  if (status === 404) {
    return new ContactSheetError('model-not-found', `Replicate has no such model or version (404) for ${what}${said}.`, {
      action: 'Check the model name (owner/name[:version]) on https://replicate.com/explore or pick another model.',
      details,
    });
  }
  if (status === 422) {
    const fields = Array.isArray(body.invalid_fields) ? body.invalid_fields : [];
    return new ContactSheetError('invalid-input', `Replicate rejected the input (422)${said}.`, {
      action: 'Check the model settings (aspect ratio, seed, negative prompt) against the model page, or choose another model.',
      details: { ...details, invalid_fields: fields },
    });
  }
  if (status === 429) {
    const wait = extra?.retryAfterMs !== undefined ? ` The server asked to wait ${Math.ceil(extra.retryAfterMs / 1000)} s.` : '';
    return new ContactSheetError('rate-limited', `Replicate is rate limiting requests (429) and retries did not get through.${wait}`, {
      action: 'Wait a minute and run again, or lower the concurrency setting.',
      details: { ...details, retry_after_ms: extra?.retryAfterMs ?? null },
    });
  }
  if (status >= 500) {
    return new ContactSheetError('server-error', `Replicate had a server error (${status}) on ${what}${said}.`, {
      action: 'Try again in a few minutes; check https://replicatestatus.com if it persists.',
      details,
    });
  }
  return new ContactSheetError('internal', `Replicate answered ${status} to ${what}${said}.`, {
    action: 'Report this with the generation trace attached.',
    details,
  });
}

export function networkError(what: string, cause: unknown): ContactSheetError {
  const reason = describeNetworkCause(cause);
  return new ContactSheetError('network-error', `Could not reach Replicate for ${what}: ${reason}.`, {
    action: 'Check the internet connection (and proxy / --api-base-url), then run again.',
    cause,
    details: { call: what },
  });
}

function describeNetworkCause(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause;
    if (inner instanceof Error) return `${cause.message} (${inner.message})`;
    return cause.message;
  }
  return String(cause);
}
