/**
 * Scores as every layer sees them. Values are 0–100; a metric that could not be computed is
 * `{ value: null, reason }`, never a number.
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
