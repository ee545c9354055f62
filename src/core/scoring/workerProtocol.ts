/** Messages between the scorer (caller's thread) and the scoring worker that owns the sessions. */
import type { SerializedError } from '../errors';
import type { ImageScores, MetricId, Precision, PromptScoringInfo, ScorerConfig, ScorerProgress } from './types';

/** An image crossing to the worker: a file's bytes, or pixels decoded already (transferred, not copied). */
export type WorkerImage =
  | { kind: 'file'; bytes: Uint8Array }
  | { kind: 'pixels'; data: Uint8Array; width: number; height: number; channels: 1 | 2 | 3 | 4 };

export interface ScorerDescription {
  precision: Precision;
  models: Record<MetricId, string | null>;
}

export type WorkerRequest =
  | { id: number; method: 'setPrompt'; prompt: string }
  | { id: number; method: 'scoreImage'; image: WorkerImage }
  | { id: number; method: 'describe' }
  | { id: number; method: 'cancel'; target: number }
  | { id: number; method: 'dispose' };

export type WorkerReply =
  | { type: 'result'; id: number; ok: true; value: PromptScoringInfo | ImageScores | ScorerDescription | null }
  | { type: 'result'; id: number; ok: false; error: SerializedError }
  | { type: 'progress'; progress: ScorerProgress }
  | { type: 'log'; level: 'trace' | 'debug' | 'info' | 'warn' | 'error'; message: string };

export interface WorkerData {
  config: ScorerConfig;
}
