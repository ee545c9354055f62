/**
 * Fetches one output file. Output URLs live on Replicate's CDN and need no token, so none is
 * sent (the token must not travel to whatever host a response names). The body is streamed with
 * a byte cap so a huge or endless response is cut off, then validated as an image.
 */
import { ContactSheetError, isAbortError } from '../../shared/errors';
import type { DecodedImage } from '../imageDecode';
import { validateImageBytes, isAcceptableImageContentType, type ImageFormat } from './imageValidation';
import { backoffDelayMs, serverRequestedDelayMs, type RetryPolicy } from './retryPolicy';
import type { ApiCallRecord } from './types';

export interface DownloadedOutput {
  bytes: Buffer;
  /** Derived from the bytes (image/png, image/jpeg, image/webp, image/gif). */
  contentType: string;
  format: ImageFormat;
  width: number;
  height: number;
  /** Decoded once while validating (sRGB, 8-bit). */
  pixels: DecodedImage;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  maxBytes: number;
  requestTimeoutMs: number;
  fetch: typeof fetch;
  retry: RetryPolicy;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  now: () => number;
  record: (r: ApiCallRecord) => void;
}

export async function downloadOutputBytes(url: string, opts: DownloadOptions): Promise<DownloadedOutput> {
  const target = parseOutputUrl(url);
  // Only the path goes into records and messages: signed query strings are not for traces.
  const shown = target.pathname;
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw canceled();
    const started = opts.now();
    const record: ApiCallRecord = { method: 'GET', path: shown, status: null, started_at: new Date(started).toISOString(), duration_ms: 0, attempt };
    const lastAttempt = attempt + 1 >= opts.retry.maxAttempts;
    let retryWait: number | undefined;
    try {
      const timeout = AbortSignal.timeout(opts.requestTimeoutMs);
      const res = await opts.fetch(target, { signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout });
      record.status = res.status;
      // 403 too: an expired signed URL is refused rather than missing.
      if (res.status === 403 || res.status === 404 || res.status === 410) {
        await res.body?.cancel();
        throw new ContactSheetError('output-expired', `The output file ${shown} is gone or its link expired (${res.status}); Replicate keeps outputs for one hour.`, {
          action: 'Generate the image again (the same seed gives the same image on most models).',
          details: { url_path: shown, status: res.status },
        });
      }
      if (res.status === 429 || res.status >= 500) {
        await res.body?.cancel();
        if (lastAttempt) throw serverError(shown, res.status);
        retryWait = serverRequestedDelayMs(res.headers, opts.now()) ?? backoffDelayMs(opts.retry, attempt, opts.random);
      } else if (!res.ok) {
        await res.body?.cancel();
        throw new ContactSheetError('output-invalid', `The output file ${shown} could not be downloaded (${res.status}).`, {
          action: 'Run again; if it repeats, report it with the generation trace.',
          details: { url_path: shown, status: res.status },
        });
      } else {
        const contentType = res.headers.get('content-type');
        if (!isAcceptableImageContentType(contentType)) {
          await res.body?.cancel();
          throw invalid(shown, `the server sent "${contentType}", not an image`);
        }
        const declared = Number(res.headers.get('content-length') ?? NaN);
        if (Number.isFinite(declared) && declared > opts.maxBytes) {
          await res.body?.cancel();
          throw invalid(shown, `it is ${declared} bytes, over the ${opts.maxBytes}-byte limit`);
        }
        const bytes = await readCapped(res, opts.maxBytes, shown);
        const image = await validateImageBytes(bytes, shown);
        return { bytes, contentType: image.contentType, format: image.format, width: image.width, height: image.height, pixels: image.pixels };
      }
    } catch (e) {
      if (opts.signal?.aborted) throw canceled();
      if (e instanceof ContactSheetError) {
        record.error = e.message;
        throw e;
      }
      record.error = e instanceof Error ? e.message : String(e);
      if (lastAttempt) {
        throw new ContactSheetError('network-error', `Could not download the output file ${shown}: ${record.error}.`, {
          action: 'Check the internet connection, then resume the run (outputs stay available for an hour).',
          cause: e,
          details: { url_path: shown },
        });
      }
      retryWait = backoffDelayMs(opts.retry, attempt, opts.random);
    } finally {
      record.duration_ms = opts.now() - started;
      opts.record(record);
    }
    await opts.sleep(Math.min(retryWait ?? 0, opts.retry.maxRetryAfterMs), opts.signal).catch((e) => {
      throw isAbortError(e) ? canceled() : e;
    });
  }
}

function parseOutputUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('(output)', `"${url.slice(0, 200)}" is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw invalid(parsed.pathname, `the URL scheme ${parsed.protocol} is not http(s)`);
  return parsed;
}

async function readCapped(res: Response, maxBytes: number, shown: string): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw invalid(shown, `it exceeded the ${maxBytes}-byte limit while downloading`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

function invalid(shown: string, why: string): ContactSheetError {
  return new ContactSheetError('output-invalid', `The output file ${shown} is not usable: ${why}.`, {
    action: 'Run again; if it repeats, try another model or output format.',
    details: { url_path: shown },
  });
}

function serverError(shown: string, status: number): ContactSheetError {
  return new ContactSheetError('server-error', `Replicate's file server answered ${status} for ${shown}.`, {
    action: 'Resume the run in a few minutes (outputs stay available for an hour).',
    details: { url_path: shown, status },
  });
}

function canceled(): ContactSheetError {
  return new ContactSheetError('canceled', 'The operation was canceled.');
}
