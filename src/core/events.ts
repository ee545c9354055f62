/**
 * RunEvent: the one stream every face (CLI, extension, webview, trace writer) consumes.
 * The run pipeline (run.ts) owns this union; extend it, do not fork it.
 */
import type { SerializedError } from './errors';
import type { ApiCallRecord, GenerationEvent } from './replicate/types';
import type { ImageScores, ScorerProgress } from './scoring/types';

export type RunPhase = 'plan' | 'generate' | 'score' | 'rank' | 'write' | 'done';

export type RunEvent =
  | { type: 'run-started'; run_id: string; run_dir: string; num_images: number; at: string }
  | { type: 'generation'; event: Exclude<GenerationEvent, { type: 'api-call' }> }
  | { type: 'api-call'; call: ApiCallRecord }
  | { type: 'scorer-progress'; progress: ScorerProgress }
  | { type: 'image-scored'; index: number; scores: ImageScores; overall: number | null }
  | { type: 'ranked'; order: number[] }
  | { type: 'file-written'; path: string }
  | { type: 'warning'; message: string }
  | { type: 'run-finished'; status: 'succeeded' | 'partial' | 'failed' | 'canceled'; run_dir: string; at: string; error?: SerializedError };
