/**
 * RunEvent: the one stream every face (CLI, extension, webview, trace writer) consumes.
 * The run pipeline (executeRun.ts) owns this union; extend it, do not fork it.
 *
 * Each event carries what a live UI needs without reading files: image index and seed, the file
 * (relative to run_dir) once written, scores and overall, rank updates, and costs so far. Files
 * named in events are always inside run_dir; `path` fields are absolute, `file` fields relative.
 */
import type { SerializedError } from '../../shared/errors';
import type { ComparisonSummary } from './rank';
import type { ApiCallRecord, AspectRatio, Cost, GenerationEvent, RateLimitWait } from '../replicate/types';
import type { ImageScores, MetricId, ScorerProgress } from '../scoring/types';
import type { CostEstimate, RunStatus } from './trace';

export type RunPhase = 'plan' | 'generate' | 'score' | 'rank' | 'write' | 'done';

/** One row of a (provisional or final) ranking. */
export interface RankEntry {
  index: number;
  seed: number;
  /** 1 = best. */
  rank: number;
  overall: number | null;
  preference_probability: number | null;
  /** Relative to run_dir: the pending name while provisional, the ranked name once final. */
  file: string | null;
}

export interface CostSoFar {
  total_usd: number;
  /** Images whose cost is unknown (not included in total_usd). */
  unknown_count: number;
}

export type RunEvent =
  | {
      type: 'run-started';
      run_id: string;
      run_dir: string;
      num_images: number;
      at: string;
      /** True when resuming an interrupted run (some images may already be done). */
      resumed?: boolean;
      demo?: boolean;
      prompt?: string;
      models?: string[];
      aspect_ratio?: AspectRatio;
      seeds?: number[];
      estimate?: CostEstimate | null;
    }
  | { type: 'phase'; phase: RunPhase }
  /** Replicate's own events; 'image-generated' arrives with empty `bytes` (the PNG is on disk: see image-saved). */
  | { type: 'generation'; event: Exclude<GenerationEvent, { type: 'api-call' | 'rate-limited' }> }
  | { type: 'api-call'; call: ApiCallRecord }
  /**
   * Replicate rate limited the account: no request of `wait.lane` goes out before `wait.until`
   * ("rate limited, waiting N s"). One event per window; a later one with the same `wait.window`
   * number moves that window's end.
   */
  | { type: 'rate-limited'; wait: RateLimitWait }
  | { type: 'scorer-progress'; progress: ScorerProgress }
  | {
      /** The image is on disk (PNG) under its provisional name, before scoring. */
      type: 'image-saved';
      index: number;
      seed: number;
      file: string;
      path: string;
      width: number;
      height: number;
      model: string;
      prediction_id: string;
      cost: Cost;
      cost_so_far: CostSoFar;
      /** True when the image was already on disk from before a resume. */
      reused?: boolean;
    }
  | {
      type: 'image-scored';
      index: number;
      scores: ImageScores;
      overall: number | null;
      seed?: number;
      file?: string;
      overall_weights?: Partial<Record<MetricId, number>>;
      scoring_ms?: number;
    }
  | { type: 'image-failed'; index: number; seed: number; stage: 'generate' | 'save' | 'score'; error: SerializedError }
  | {
      type: 'ranked';
      /** Image indices, best first. */
      order: number[];
      /** False while images are still arriving; true for the final ranking (files renamed). */
      final?: boolean;
      entries?: RankEntry[];
      comparison?: ComparisonSummary | null;
    }
  | { type: 'file-written'; path: string; file?: string; kind?: 'image' | 'metadata' | 'best-candidate' | 'summary' | 'trace' }
  | { type: 'cost'; cost_so_far: CostSoFar }
  | { type: 'warning'; message: string }
  | {
      type: 'run-finished';
      status: 'succeeded' | 'partial' | 'failed' | 'canceled';
      run_dir: string;
      at: string;
      error?: SerializedError;
      images_ok?: number;
      images_failed?: number;
      best_file?: string | null;
      cost_so_far?: CostSoFar;
    };

export type { RunStatus };
