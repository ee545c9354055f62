/**
 * Wire shapes of Replicate's HTTP API, as far as this project reads them. Fields are optional
 * where the API omits them for some models or states; unknown fields are ignored.
 */
import type { PredictionStatus } from './types';

export interface Prediction {
  id: string;
  /** "owner/name". */
  model: string;
  version: string;
  input: Record<string, unknown>;
  status: PredictionStatus;
  /** Image models return an array of URLs or a single URL; null until succeeded. */
  output?: unknown;
  error?: unknown;
  logs?: string | null;
  /** True once Replicate deleted the outputs (they expire after an hour). */
  data_removed?: boolean;
  metrics?: { predict_time?: number; [k: string]: unknown };
  created_at: string;
  started_at?: string | null;
  completed_at?: string | null;
  urls?: { get?: string; cancel?: string; [k: string]: unknown };
}

export interface PredictionsPage {
  results: Prediction[];
  /** Full URL of the next (older) page, or null. */
  next: string | null;
  previous?: string | null;
}

export interface OpenApiSchema {
  components?: { schemas?: Record<string, JsonSchema> };
  [k: string]: unknown;
}

export interface JsonSchema {
  type?: string;
  enum?: unknown[];
  allOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  $ref?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  multipleOf?: number;
  description?: string;
  title?: string;
  format?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  [k: string]: unknown;
}

export interface ModelVersion {
  id: string;
  created_at?: string;
  cog_version?: string;
  openapi_schema?: OpenApiSchema;
}

export interface ReplicateModel {
  owner: string;
  name: string;
  description?: string | null;
  visibility?: string;
  latest_version?: ModelVersion | null;
  /** Present on some API responses; used for community-model pricing when it is. */
  default_hardware?: string | { sku?: string; name?: string } | null;
  [k: string]: unknown;
}

export interface Account {
  type: string;
  username: string;
  name?: string;
  github_url?: string;
}

/** What a create call sends: either an official model's endpoint or a pinned version. */
export interface CreatePredictionRequest {
  model: { owner: string; name: string };
  /** When set, POST /v1/predictions with this version; otherwise the model's own endpoint. */
  version?: string;
  input: Record<string, unknown>;
}

export const TERMINAL_STATUSES: ReadonlySet<PredictionStatus> = new Set(['succeeded', 'failed', 'canceled', 'aborted']);
