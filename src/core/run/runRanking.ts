/**
 * Ranking of a run's trace: the candidates are the images on disk (generated or scored); images
 * without scores rank after every scored one. Used for the provisional ranking while images
 * arrive and for the final one.
 */
import type { RankEntry } from './events';
import { compareBest, preferenceProbabilities, rankOrder, type ComparisonSummary, type RankCandidate } from './rank';
import { absentScores } from './metadata';
import type { GenerationTrace, TraceImage } from './trace';

export interface RunRanking {
  order: number[];
  /** Preference probability by image index. */
  preference: Map<number, number | null>;
  comparison: ComparisonSummary | null;
}

export function rankedCandidates(trace: GenerationTrace): TraceImage[] {
  return trace.images.filter((img) => img.status === 'generated' || img.status === 'scored');
}

export function rankRun(trace: GenerationTrace): RunRanking {
  const images = rankedCandidates(trace);
  const candidates: RankCandidate[] = images.map((img) => ({
    index: img.index,
    scores: img.scores ?? absentScores('not scored'),
    overall: img.status === 'scored' ? img.overall : null,
  }));
  const order = rankOrder(candidates);
  const raws = images.map((img) => {
    const p = img.scores?.pickscore;
    return p && p.value !== null ? p.raw : null;
  });
  const probs = preferenceProbabilities(raws);
  const preference = new Map(images.map((img, i) => [img.index, probs[i]]));
  const seedOf = new Map(images.map((img) => [img.index, img.seed]));
  const comparison = compareBest(candidates, order, preference, (i) => `Image ${order.indexOf(i) + 1} (seed ${seedOf.get(i)})`);
  return { order, preference, comparison };
}

/** The ranking so far, with provisional file names, for live UIs. */
export function provisionalRanking(trace: GenerationTrace): RankEntry[] {
  const { order, preference } = rankRun(trace);
  return order.map((index, i) => {
    const img = trace.images[index];
    return { index, seed: img.seed, rank: i + 1, overall: img.overall, preference_probability: preference.get(index) ?? null, file: img.pending_file };
  });
}
