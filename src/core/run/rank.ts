/**
 * Ranking: the overall score, the PickScore preference probabilities, the order of the images and
 * the comparison summary that explains why the best one won. Pure functions, no I/O.
 */
import { METRIC_IDS, type ImageScores, type MetricId, type ScoreWeights } from '../scoring/types';

export interface OverallScore {
  /** Σ wᵢ·valueᵢ / Σ wᵢ over the metrics present; null when none is present (or all weights are 0). */
  value: number | null;
  /** The weights actually used, renormalized to sum to 1; absent metrics are left out. */
  weights: Partial<Record<MetricId, number>>;
}

export function overallScore(scores: ImageScores, weights: ScoreWeights): OverallScore {
  let sumW = 0;
  let sum = 0;
  const used: MetricId[] = [];
  for (const id of METRIC_IDS) {
    const v = scores[id]?.value;
    const w = weights[id] ?? 0;
    if (v === null || v === undefined || !Number.isFinite(v) || !(w > 0)) continue;
    sumW += w;
    sum += w * v;
    used.push(id);
  }
  if (sumW === 0) return { value: null, weights: {} };
  const renormalized: Partial<Record<MetricId, number>> = {};
  for (const id of used) renormalized[id] = weights[id] / sumW;
  return { value: sum / sumW, weights: renormalized };
}

/**
 * Softmax of the set's raw PickScores (the PickScore paper's preference probability: the chance a
 * person prefers this image over the others). Images without a PickScore get null and are left out
 * of the set. Stable: the maximum is subtracted before exponentiating.
 */
export function preferenceProbabilities(rawPickScores: (number | null)[]): (number | null)[] {
  const present = rawPickScores.filter((r): r is number => r !== null && Number.isFinite(r));
  if (present.length === 0) return rawPickScores.map(() => null);
  const max = Math.max(...present);
  const exps = rawPickScores.map((r) => (r !== null && Number.isFinite(r) ? Math.exp(r - max) : null));
  const total = exps.reduce<number>((s, e) => s + (e ?? 0), 0);
  return exps.map((e) => (e === null ? null : e / total));
}

export interface RankCandidate {
  index: number;
  scores: ImageScores;
  overall: number | null;
}

/**
 * Image indices best first: overall score (descending, missing last), ties broken by the raw
 * PickScore, then the raw CLIP-Score, then the lower index (so the order is deterministic).
 */
export function rankOrder(candidates: RankCandidate[]): number[] {
  const raw = (c: RankCandidate, id: MetricId): number | null => {
    const m = c.scores[id];
    return m && m.value !== null && 'raw' in m ? m.raw : null;
  };
  const desc = (a: number | null, b: number | null): number => {
    if (a === b) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    return b - a;
  };
  return [...candidates]
    .sort(
      (a, b) =>
        desc(a.overall, b.overall) ||
        desc(raw(a, 'pickscore'), raw(b, 'pickscore')) ||
        desc(raw(a, 'clip_score'), raw(b, 'clip_score')) ||
        a.index - b.index,
    )
    .map((c) => c.index);
}

export interface ComparisonSummary {
  best_index: number;
  /** Metrics where the best image has the highest value of the set (ties included). */
  leads_on: MetricId[];
  /** Metrics where another image scored strictly higher. */
  trails_on: MetricId[];
  best_overall: number | null;
  /** Mean overall score of the other images (those with one); null when there are none. */
  others_mean_overall: number | null;
  /** best_overall − others_mean_overall, in 0–100 points. */
  margin_over_others: number | null;
  preference_probability: number | null;
  /** One or two sentences for the console, summary.md and the webview. */
  text: string;
}

const METRIC_LABELS: Record<MetricId, string> = { pickscore: 'PickScore', clip_score: 'CLIP-Score', vqascore: 'VQAScore', aesthetic: 'Aesthetic' };

export function metricLabel(id: MetricId): string {
  return METRIC_LABELS[id];
}

/**
 * Why the best image won. `order` is rankOrder's result; `preference` is indexed like candidates'
 * `index` values (preference[index]).
 */
export function compareBest(
  candidates: RankCandidate[],
  order: number[],
  preference: Map<number, number | null>,
  label: (index: number) => string = (i) => `#${i + 1}`,
): ComparisonSummary | null {
  if (order.length === 0) return null;
  const byIndex = new Map(candidates.map((c) => [c.index, c]));
  const best = byIndex.get(order[0]);
  if (!best) return null;
  const others = candidates.filter((c) => c.index !== best.index);
  const leads: MetricId[] = [];
  const trails: MetricId[] = [];
  for (const id of METRIC_IDS) {
    const v = best.scores[id]?.value;
    if (v === null || v === undefined) continue;
    const otherValues = others.map((o) => o.scores[id]?.value).filter((x): x is number => typeof x === 'number');
    if (otherValues.length === 0 || v >= Math.max(...otherValues)) leads.push(id);
    else trails.push(id);
  }
  const otherOveralls = others.map((o) => o.overall).filter((x): x is number => x !== null);
  const othersMean = otherOveralls.length ? otherOveralls.reduce((s, x) => s + x, 0) / otherOveralls.length : null;
  const margin = best.overall !== null && othersMean !== null ? best.overall - othersMean : null;
  const pref = preference.get(best.index) ?? null;

  const parts: string[] = [];
  const name = label(best.index);
  if (best.overall === null) {
    parts.push(`${name} is first by position only: no image has a score.`);
  } else {
    parts.push(`${name} has the best overall score (${best.overall.toFixed(1)})`);
    if (margin !== null) parts[0] += `, ${Math.abs(margin).toFixed(1)} points ${margin >= 0 ? 'above' : 'below'} the average of the other ${otherOveralls.length}`;
    parts[0] += '.';
    if (leads.length) parts.push(`It leads on ${leads.map(metricLabel).join(', ')}${trails.length ? ` and trails on ${trails.map(metricLabel).join(', ')}` : ''}.`);
    else if (trails.length) parts.push(`It leads on no single metric but is the best balance (trails on ${trails.map(metricLabel).join(', ')}).`);
    if (pref !== null) parts.push(`PickScore preference probability ${(pref * 100).toFixed(1)}% (uniform would be ${(100 / Math.max(1, [...preference.values()].filter((x) => x !== null).length)).toFixed(1)}%).`);
  }
  return {
    best_index: best.index,
    leads_on: leads,
    trails_on: trails,
    best_overall: best.overall,
    others_mean_overall: othersMean,
    margin_over_others: margin,
    preference_probability: pref,
    text: parts.join(' '),
  };
}
