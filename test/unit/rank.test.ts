import { strict as assert } from 'node:assert';
import { compareBest, overallScore, preferenceProbabilities, rankOrder, type RankCandidate } from '../../src/core/run/rank';
import { DEFAULT_WEIGHTS, type ImageScores } from '../../src/core/scoring/types';

const m = (raw: number, value = raw) => ({ raw, value, model: 'test' });
const absent = { value: null, reason: 'disabled' } as const;

function scores(pick: number | null, clip: number | null, vqa: number | null, aes: number | null): ImageScores {
  return {
    pickscore: pick === null ? absent : m(pick),
    clip_score: clip === null ? absent : m(clip),
    vqascore: vqa === null ? absent : m(vqa / 100, vqa),
    aesthetic: aes === null ? absent : m(1 + (aes / 100) * 9, aes),
  };
}

const close = (a: number | null, b: number, eps = 1e-9) => assert.ok(a !== null && Math.abs(a - b) < eps, `${a} ≉ ${b}`);

describe('rank', () => {
  it('overall is the weighted mean over the metrics present, with renormalized weights', () => {
    // All four: (0.5·20 + 0.25·30 + 0.15·80 + 0.1·50) / 1 = 10 + 7.5 + 12 + 5 = 34.5
    const all = overallScore(scores(20, 30, 80, 50), DEFAULT_WEIGHTS);
    close(all.value, 34.5);
    assert.deepEqual(all.weights, DEFAULT_WEIGHTS);
    // VQAScore absent: (0.5·21.5 + 0.25·30 + 0.1·50) / 0.85 = 23.25 / 0.85 = 27.35294117647…
    const three = overallScore(scores(21.5, 30, null, 50), DEFAULT_WEIGHTS);
    close(three.value, 27.352941176470587);
    close(three.weights.pickscore ?? null, 0.5 / 0.85);
    close(three.weights.clip_score ?? null, 0.25 / 0.85);
    close(three.weights.aesthetic ?? null, 0.1 / 0.85);
    assert.equal(three.weights.vqascore, undefined);
    // Only one metric: its value.
    close(overallScore(scores(null, 40, null, null), DEFAULT_WEIGHTS).value, 40);
    // None present, or all weights zero: null.
    assert.deepEqual(overallScore(scores(null, null, null, null), DEFAULT_WEIGHTS), { value: null, weights: {} });
    assert.equal(overallScore(scores(20, 30, 80, 50), { pickscore: 0, clip_score: 0, vqascore: 0, aesthetic: 0 }).value, null);
  });

  it('preference probabilities are the softmax of the raw PickScores, stable, null where absent', () => {
    // exp(-2), exp(-1), exp(0) over their sum 1.5032147: 0.0900306, 0.2447285, 0.6652410
    const p = preferenceProbabilities([20, 21, null, 22]);
    close(p[0], 0.09003057317038046);
    close(p[1], 0.24472847105479764);
    assert.equal(p[2], null);
    close(p[3], 0.6652409557748219);
    // Large values do not overflow.
    assert.deepEqual(preferenceProbabilities([1000, 1000]), [0.5, 0.5]);
    const extreme = preferenceProbabilities([10000, 0]);
    close(extreme[0], 1);
    close(extreme[1], 0, 1e-300);
    assert.deepEqual(preferenceProbabilities([null, null]), [null, null]);
  });

  it('ranks by overall, then raw PickScore, then raw CLIP-Score, then index; unscored last', () => {
    const c: RankCandidate[] = [
      { index: 0, scores: scores(20, 30, null, null), overall: 50 },
      { index: 1, scores: scores(22, 30, null, null), overall: 50 }, // same overall, higher PickScore
      { index: 2, scores: scores(22, 31, null, null), overall: 50 }, // same PickScore, higher CLIP
      { index: 3, scores: scores(null, null, null, null), overall: null },
      { index: 4, scores: scores(10, 10, null, null), overall: 60 },
      { index: 5, scores: scores(20, 30, null, null), overall: 50 }, // identical to 0: index decides
    ];
    assert.deepEqual(rankOrder(c), [4, 2, 1, 0, 5, 3]);
  });

  it('explains why the best image won: leads, margin over the others, preference probability', () => {
    const c: RankCandidate[] = [
      { index: 0, scores: scores(20, 25, null, 60), overall: 40 },
      { index: 1, scores: scores(22, 24, null, 40), overall: 46 },
      { index: 2, scores: scores(21, 20, null, 50), overall: 43 },
    ];
    const order = rankOrder(c);
    assert.deepEqual(order, [1, 2, 0]);
    const pref = preferenceProbabilities([20, 22, 21]);
    const summary = compareBest(c, order, new Map(pref.map((p, i) => [i, p])), (i) => `image ${i}`);
    assert.ok(summary);
    assert.equal(summary.best_index, 1);
    assert.deepEqual(summary.leads_on, ['pickscore']);
    assert.deepEqual(summary.trails_on, ['clip_score', 'aesthetic']);
    close(summary.others_mean_overall, 41.5);
    close(summary.margin_over_others, 4.5);
    close(summary.preference_probability, pref[1] as number);
    assert.match(summary.text, /^image 1 has the best overall score \(46\.0\), 4\.5 points above the average of the other 2\./);
    assert.match(summary.text, /leads on PickScore and trails on CLIP-Score, Aesthetic/);
    assert.match(summary.text, /preference probability 66\.5% \(uniform would be 33\.3%\)/);
  });

  it('handles a single image and an empty set', () => {
    const one: RankCandidate[] = [{ index: 0, scores: scores(20, 25, null, null), overall: 30 }];
    const s = compareBest(one, [0], new Map([[0, 1]]));
    assert.ok(s);
    assert.deepEqual(s.leads_on, ['pickscore', 'clip_score']);
    assert.equal(s.margin_over_others, null);
    assert.equal(compareBest([], [], new Map()), null);
  });
});
