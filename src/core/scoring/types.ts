/**
 * The scoring contract shared by the scorer (worker side), the run pipeline and the faces. The
 * plain value types (scores, metric ids, precision, progress) live in src/shared.
 */
import type { Precision, MetricId } from '../../shared/scores';

export { DEFAULT_WEIGHTS, METRIC_IDS } from '../../shared/scores';
export type { ImageScores, MetricAbsent, MetricId, MetricResult, MetricScore, Precision, ScoreWeights } from '../../shared/scores';
export type { ScorerProgress } from '../../shared/progress';

/** What the scorer tells the run about the prompt it scores against. */
export interface PromptScoringInfo {
  /** The text the CLIP-based metrics actually saw (after truncation to 77 tokens). */
  scoredText: string;
  truncated: boolean;
  /** Number of CLIP tokens of the full prompt, BOS/EOS included. */
  tokenCount: number;
}

export interface ScorerConfig {
  /** Folder holding the model cache (downloads + converted ONNX). */
  modelsDir: string;
  precision: Precision;
  /** Metrics to compute; a disabled metric is reported absent with reason "disabled". */
  enabled: Record<MetricId, boolean>;
  /** Load, run and release one tower at a time (lower peak memory, slower). */
  lowMemory: boolean;
  /** onnxruntime execution providers in order of preference, e.g. ["cuda", "cpu"]. */
  executionProviders: string[];
  /** Threads for onnxruntime's intra-op pool (0 = onnxruntime default). */
  intraOpNumThreads: number;
  /** When false, a missing model is an error instead of a download. */
  allowDownload: boolean;
  /** Hub endpoint (tests point it at a local server). */
  hubEndpoint?: string;
  /** Path of the manifest (defaults to the packaged models/manifest.json). */
  manifestPath?: string;
}
