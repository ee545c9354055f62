/**
 * Messages between the scorer (caller's thread) and the scoring worker that owns the sessions,
 * carried by the same MessageEndpoint (src/shared/messageEndpoint.ts) as the webview's.
 */
import type { ImageScores, MetricId, Precision, PromptScoringInfo, ScorerConfig, ScorerProgress } from './types';

/** An image crossing to the worker: a file's bytes, or pixels decoded already (transferred, not copied). */
export type WorkerImage =
  | { kind: 'file'; bytes: Uint8Array }
  | { kind: 'pixels'; data: Uint8Array; width: number; height: number; channels: 1 | 2 | 3 | 4 };

export interface ScorerDescription {
  precision: Precision;
  models: Record<MetricId, string | null>;
}

/** What the scorer asks the worker, each as [request, answer]. */
export type ScoringWorkerRequests = {
  'scoring/setPrompt': [{ type: 'scoring/setPrompt'; prompt: string }, PromptScoringInfo];
  /** The image's bytes or pixels are transferred, not copied. */
  'scoring/scoreImage': [{ type: 'scoring/scoreImage'; image: WorkerImage }, ImageScores];
  'scoring/describe': [{ type: 'scoring/describe' }, ScorerDescription];
  'scoring/dispose': [{ type: 'scoring/dispose' }, null];
};

/** What the worker says unasked: model progress and its log lines. */
export type ScoringWorkerEvent =
  | { type: 'scoring/progress'; progress: ScorerProgress }
  | { type: 'scoring/log'; level: 'trace' | 'debug' | 'info' | 'warn' | 'error'; message: string };

/** The worker asks the scorer nothing. */
export type NoRequests = Record<never, never>;

export interface WorkerData {
  config: ScorerConfig;
}
