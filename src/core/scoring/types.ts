/**
 * The scoring contract shared by the scorer (worker side), the run pipeline and the faces.
 * Values are 0–100; a metric that could not be computed is `{ value: null, reason }`, never a number.
 */
export type MetricId = 'pickscore' | 'clip_score' | 'vqascore' | 'aesthetic';

export const METRIC_IDS: readonly MetricId[] = ['pickscore', 'clip_score', 'vqascore', 'aesthetic'];

export type Precision = 'fp32' | 'int8';

export interface MetricScore {
  /** The model's own number: PickScore logit_scale·cos, 100·cos for CLIP, P(yes), aesthetic 1–10. */
  raw: number;
  /** Mapped to 0–100 (clamped). */
  value: number;
  /** Model that produced it, e.g. "yuvalkirstain/PickScore_v1@<revision> (fp32)". */
  model: string;
}

export interface MetricAbsent {
  value: null;
  reason: string;
}

export type MetricResult = MetricScore | MetricAbsent;

export type ImageScores = Record<MetricId, MetricResult>;

export type ScoreWeights = Record<MetricId, number>;

export const DEFAULT_WEIGHTS: ScoreWeights = { pickscore: 0.5, clip_score: 0.25, vqascore: 0.15, aesthetic: 0.1 };

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

export type ScorerProgress =
  | { type: 'download'; model: string; file: string; receivedBytes: number; totalBytes: number | null; bytesPerSecond: number; etaSeconds: number | null }
  | { type: 'convert'; model: string; step: string }
  | { type: 'load'; model: string; precision: Precision }
  | { type: 'ready'; model: string; loadMs: number }
  /** A model could not be made ready: the metrics that need it are reported absent with this reason. */
  | { type: 'unavailable'; model: string; metrics: MetricId[]; reason: string };
