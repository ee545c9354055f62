/** Messages between the scorer (caller's thread) and the scoring worker that owns the sessions. */
import type { SerializedError } from '../../shared/errors';
import type { ImageScores, MetricId, Precision, PromptScoringInfo, ScorerConfig, ScorerProgress } from './types';

export interface ScorerDescription {
  precision: Precision;
  models: Record<MetricId, string | null>;
}

export type WorkerRequest =
  | { id: number; method: 'setPrompt'; prompt: string }
  | { id: number; method: 'scoreImage'; bytes: Uint8Array }
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
