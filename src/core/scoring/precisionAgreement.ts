/**
 * How far int8 scoring agrees with fp32 on the same images: per metric, Kendall's τ between the
 * two rankings and the largest score difference. Random test weights cannot answer this; a user
 * with the real weights can, on their own images (`contact-sheet models check-precision`).
 */
import type { ImageScores, MetricId } from './types';

/**
 * Kendall's τ-b of two paired samples: (concordant − discordant) pairs over the geometric mean of
 * the pairs untied in each sample. 1 = same order, −1 = reversed; NaN when either sample has no
 * untied pair (fewer than two images, or all scores equal), where no order exists to compare.
 */
export function kendallTau(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`kendallTau needs paired samples (${a.length} and ${b.length} values)`);
  let score = 0;
  let untiedA = 0;
  let untiedB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i]! - a[j]!);
      const db = Math.sign(b[i]! - b[j]!);
      if (da !== 0) untiedA += 1;
      if (db !== 0) untiedB += 1;
      score += da * db;
    }
  }
  return untiedA === 0 || untiedB === 0 ? NaN : score / Math.sqrt(untiedA * untiedB);
}

export interface MetricAgreement {
  metric: MetricId;
  /** Images with the metric computed at both precisions. */
  images: number;
  tau: number;
  /** Largest |fp32 − int8| on the scale the metric is shown on (PickScore raw, others 0–100). */
  maxAbsDifference: number;
  /** The best image by this metric is the same at both precisions. */
  sameBest: boolean;
}

/** The scale each metric is shown on: PickScore's raw logit_scale·cos, the others 0–100. */
function shown(metric: MetricId, s: ImageScores): number | null {
  const m = s[metric];
  if (m.value === null) return null;
  return metric === 'pickscore' ? m.raw : m.value;
}

/** Per metric, over the images scored at both precisions (`fp32[i]` and `int8[i]` are the same image). */
export function comparePrecisions(fp32: readonly ImageScores[], int8: readonly ImageScores[], metrics: readonly MetricId[]): MetricAgreement[] {
  if (fp32.length !== int8.length) throw new RangeError('comparePrecisions needs the same images at both precisions');
  return metrics.map((metric) => {
    const pairs: [number, number][] = [];
    fp32.forEach((s, i) => {
      const a = shown(metric, s);
      const b = shown(metric, int8[i]!);
      if (a !== null && b !== null) pairs.push([a, b]);
    });
    const a = pairs.map((p) => p[0]);
    const b = pairs.map((p) => p[1]);
    const best = (xs: number[]) => xs.indexOf(Math.max(...xs));
    return {
      metric,
      images: pairs.length,
      tau: kendallTau(a, b),
      maxAbsDifference: pairs.reduce((m, [x, y]) => Math.max(m, Math.abs(x - y)), 0),
      sameBest: pairs.length > 0 && best(a) === best(b),
    };
  });
}
