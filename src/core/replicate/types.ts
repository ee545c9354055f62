/**
 * The generation contract between the Replicate layer and the run pipeline.
 * The Replicate layer (client, adapters, pricing, generator) implements it; run/executeRun.ts consumes it.
 */
import type { AspectRatio } from '../../shared/aspectRatios';
import type { SerializedError } from '../../shared/errors';
import type { DecodedImage } from '../imageDecode';

export { ASPECT_RATIOS, type AspectRatio } from '../../shared/aspectRatios';

export type PredictionStatus = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled' | 'aborted';

export type CostSource = 'official price' | 'predict_time × GPU price' | 'unknown';

export interface Cost {
  /** USD, or null when unknown. */
  usd: number | null;
  source: CostSource;
  /** Date of the pricing table used (YYYY-MM-DD). */
  pricing_date: string;
  /** e.g. "black-forest-labs/flux-schnell: 0.003 USD per image" or "L40S 0.000975 USD/s × 2.31 s". */
  basis?: string;
}

/** One HTTP call to Replicate, as recorded in the trace (never with the token). */
export interface ApiCallRecord {
  method: string;
  /** Path and query only, e.g. "/v1/predictions/abc123". */
  path: string;
  /** HTTP status, or null when no response arrived (network error). */
  status: number | null;
  started_at: string;
  duration_ms: number;
  /** 0 for the first attempt of a logical call, 1.. for retries. */
  attempt: number;
  prediction_id?: string;
  /** Index of the image this call serves, when it serves one. */
  image_index?: number;
  cost?: Cost;
  error?: string;
  /** Time this attempt was held by the client's rate-limit gate (window + jitter) before it was sent, ms. */
  rate_limit_wait_ms?: number;
  /** The Cancel-After header a create was sent with (Replicate's own deadline for the prediction). */
  cancel_after?: string;
}

/**
 * Replicate limits requests per account and per kind: creating predictions (600 a minute) and every
 * other endpoint (3000 a minute); accounts without a payment method get far less. A 429 on one
 * request of a kind holds every request of that kind.
 */
export type RateLimitLane = 'create' | 'other';

/** One rate-limit window: after a 429, no request of its lane is sent before `until`. */
export interface RateLimitWait {
  /** 1, 2, … per client; a later notice with the same number extends the same window. */
  window: number;
  lane: RateLimitLane;
  /** When the 429 that opened the window arrived. */
  started_at: string;
  /** No request of the lane goes out before this time (each held request adds its own jitter). */
  until: string;
  wait_ms: number;
  /** Where the wait came from: the Retry-After header, a rate-limit reset header, the error body's "resets in ~Ns", or the client's own backoff when the response named none. */
  source: 'retry-after' | 'rate-limit-reset' | 'response-body' | 'default-backoff';
  /** The Retry-After header as sent, or null. */
  retry_after: string | null;
  /** The refused call, e.g. "POST /v1/models/black-forest-labs/flux-schnell/predictions". */
  call: string;
  image_index?: number;
}

export interface ModelRef {
  owner: string;
  name: string;
  /** Pinned version id (64 hex) or undefined for the model's latest/official endpoint. */
  version?: string;
}

export interface ImageJob {
  /** 0-based index within the run. */
  index: number;
  seed: number;
  /** For resume: a prediction already created for this image; adopt it instead of creating. */
  existingPredictionId?: string;
  /** For resume: the model the existing prediction was created on. */
  existingModel?: string;
}

export interface GenerationRequest {
  /** Primary model first, then fallbacks, as "owner/name[:version]". */
  models: string[];
  prompt: string;
  negativePrompt?: string;
  aspectRatio: AspectRatio;
  jobs: ImageJob[];
  /**
   * Predictions the run already owns (created or adopted before, e.g. by an interrupted run): a
   * lookup after a lost create never adopts one of them. Jobs' existing predictions are added too.
   */
  claimedPredictionIds?: readonly string[];
  concurrency: number;
  /**
   * Deadline of one prediction (ms): the client cancels it when it passes, and each create asks
   * Replicate to cancel it a little later (Cancel-After) in case the client is gone by then.
   * The client's default when absent.
   */
  predictionTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface GeneratedImage {
  index: number;
  seed: number;
  /** "owner/name" actually used (may be a fallback). */
  model: string;
  version: string | null;
  prediction_id: string;
  /** The raw bytes as downloaded (any format; the run converts to PNG). */
  bytes: Buffer;
  /** The bytes decoded (sRGB, 8-bit) when they were validated; absent: not decoded yet. */
  pixels?: DecodedImage;
  content_type: string;
  /** The input sent to Replicate (prompt text included; no secrets). */
  input: Record<string, unknown>;
  created_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  predict_time_s: number | null;
  cost: Cost;
  /** Models tried before this one for this image, with why they failed. */
  fallbacks: { model: string; error: SerializedError }[];
  /** False when the model takes no seed (e.g. google/imagen-4): the image is not reproducible. */
  seed_supported?: boolean;
  /** What the input adapter had to adjust, one line each (closest aspect ratio, no negative prompt, …). */
  notes?: string[];
}

export type GenerationEvent =
  | { type: 'prediction-created'; index: number; prediction_id: string; model: string; version: string | null; seed: number }
  | { type: 'prediction-status'; index: number; prediction_id: string; status: PredictionStatus }
  | { type: 'fallback'; index: number; from: string; to: string; error: SerializedError }
  | { type: 'image-generated'; image: GeneratedImage }
  | { type: 'image-failed'; index: number; seed: number; model: string; prediction_id: string | null; error: SerializedError }
  | { type: 'api-call'; call: ApiCallRecord }
  /** A rate-limit window opened (or, same `window` number, was extended): requests of its lane wait. */
  | { type: 'rate-limited'; wait: RateLimitWait };
