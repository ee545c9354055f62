/**
 * A realistic results-panel state for tests: an 8-image run of the lighthouse prompt whose
 * scores, overall values, preference probabilities, order and "why it won" text come from the
 * engine's own ranking functions (core/rank.ts), so the fixture has the numbers a run would have.
 * Image 5 failed at Replicate; image 3 has no VQAScore (absent, with the reason).
 */
import { compareBest, overallScore, preferenceProbabilities, rankOrder } from '../../src/core/run/rank';
import { DEFAULT_WEIGHTS, type ImageScores } from '../../src/core/scoring/types';
import type {
  ComparisonView,
  CostView,
  HistoryEntry,
  PanelState,
  RankEntryView,
  RunImageSavedMessage,
  RunImageScoredMessage,
  RunRankedMessage,
  RunView,
} from '../../src/shared/protocol';
import { diffWords } from '../../src/shared/wordDiff';

export const FIXTURE_PROMPT = 'A lighthouse on a basalt cliff at dusk, long exposure, waves turned to mist, 35mm film grain';
export const FIXTURE_RUN_ID = '20261124_140312';
export const FIXTURE_BASE_SEED = 1000;
export const FIXTURE_MODEL = 'black-forest-labs/flux-schnell';
export const FAILED_INDEX = 5;
export const NO_VQA_INDEX = 3;
export const NO_VQA_REASON = 'VQAScore model unavailable: the SmolVLM download failed (network error).';
const STARTED_AT = Date.UTC(2026, 10, 24, 14, 3, 12);

/** Where the test serves each image (webview URIs in the real panel). */
export interface FixtureUris {
  thumbnail(index: number): string;
  full(index: number): string;
}

const COST: CostView = { usd: 0.003, source: 'official price', pricingDate: '2026-11-01', basis: '0.003 USD per image' };

/** Deterministic scores per image: PickScore raw ~20–23, CLIP 100·cos ~25–35, VQAScore 40–95, aesthetic 1–10 → 0–100. */
export function fixtureScores(index: number): ImageScores {
  const wave = (k: number) => (Math.sin(index * 12.9898 + k * 78.233) * 43758.5453) % 1;
  const u = (k: number) => Math.abs(wave(k));
  const pick = 20 + 3 * u(1);
  const clip = 25 + 10 * u(2);
  const vqa = 0.4 + 0.55 * u(3);
  const aesthetic = 4.8 + 1.8 * u(4);
  const model = (name: string) => `${name} (fp32)`;
  return {
    pickscore: { raw: pick, value: Math.min(100, Math.max(0, pick)), model: model('yuvalkirstain/PickScore_v1@a4e4367') },
    clip_score: { raw: clip, value: clip, model: model('openai/clip-vit-large-patch14@32bd642') },
    vqascore:
      index === NO_VQA_INDEX ? { value: null, reason: NO_VQA_REASON } : { raw: vqa, value: 100 * vqa, model: model('HuggingFaceTB/SmolVLM-256M-Instruct') },
    aesthetic: { raw: aesthetic, value: ((aesthetic - 1) / 9) * 100, model: model('LAION improved aesthetic predictor (sac+logos+ava1-l14-linearMSE)') },
  };
}

/** Rank entries and comparison for the scored images among `indices`, as the engine computes them. */
export function fixtureRanking(indices: number[]): { entries: RankEntryView[]; comparison: ComparisonView | null } {
  const candidates = indices.filter((i) => i !== FAILED_INDEX).map((index) => {
    const scores = fixtureScores(index);
    return { index, scores, overall: overallScore(scores, DEFAULT_WEIGHTS).value };
  });
  const raws = candidates.map((c) => ('raw' in c.scores.pickscore ? c.scores.pickscore.raw : null));
  const probabilities = preferenceProbabilities(raws);
  const preference = new Map(candidates.map((c, k) => [c.index, probabilities[k]]));
  const order = rankOrder(candidates);
  const summary = compareBest(candidates, order, preference, (i) => `image #${i + 1}`);
  const entries = order.map((index, k) => ({
    index,
    rank: k + 1,
    overall: candidates.find((c) => c.index === index)?.overall ?? null,
    preferenceProbability: preference.get(index) ?? null,
  }));
  const comparison = summary && {
    bestIndex: summary.best_index,
    leadsOn: summary.leads_on,
    trailsOn: summary.trails_on,
    marginOverOthers: summary.margin_over_others,
    text: summary.text,
  };
  return { entries, comparison };
}

/** A run that has just started: every planned image queued. */
export function startedRun(count = 8): RunView {
  return {
    runId: FIXTURE_RUN_ID,
    prompt: FIXTURE_PROMPT,
    status: 'running',
    live: true,
    demo: false,
    model: FIXTURE_MODEL,
    aspectRatio: '16:9',
    baseSeed: FIXTURE_BASE_SEED,
    phase: 'generate',
    phaseDetail: null,
    startedAt: STARTED_AT,
    finishedAt: null,
    images: Array.from({ length: count }, (_, index) => ({
      index,
      seed: FIXTURE_BASE_SEED + index,
      stage: 'queued',
      model: null,
      thumbnailUri: null,
      imageUri: null,
      width: null,
      height: null,
      scores: null,
      overall: null,
      preferenceProbability: null,
      rank: null,
      cost: null,
      error: null,
      savedAt: null,
    })),
    rankingFinal: false,
    comparison: null,
    cost: { totalUsd: 0, unknownCount: 0, estimateUsd: 0.003 * count },
    notices: [],
    error: null,
  };
}

/** The finished run: 7 images scored and ranked, image 5 failed. */
export function finishedRun(uris: FixtureUris): RunView {
  const run = startedRun();
  const { entries, comparison } = fixtureRanking(run.images.map((i) => i.index));
  for (const image of run.images) {
    if (image.index === FAILED_INDEX) {
      image.stage = 'failed';
      image.model = FIXTURE_MODEL;
      image.error = {
        code: 'prediction-failed',
        message: 'Replicate: the prediction failed (NSFW content detected in the output).',
        action: 'Change the prompt or the seed.',
      };
      continue;
    }
    const entry = entries.find((e) => e.index === image.index)!;
    Object.assign(image, {
      stage: 'scored',
      model: FIXTURE_MODEL,
      thumbnailUri: uris.thumbnail(image.index),
      imageUri: uris.full(image.index),
      width: 1344,
      height: 768,
      scores: fixtureScores(image.index),
      overall: entry.overall,
      preferenceProbability: entry.preferenceProbability,
      rank: entry.rank,
      cost: COST,
      savedAt: STARTED_AT + 4000 + image.index * 900,
    });
  }
  return {
    ...run,
    status: 'partial',
    live: false,
    phase: 'done',
    finishedAt: STARTED_AT + 47_600,
    rankingFinal: true,
    comparison,
    cost: { totalUsd: 0.021, unknownCount: 0, estimateUsd: 0.024 },
    notices: [
      { level: 'warning', message: 'Image #6 failed: Replicate: the prediction failed (NSFW content detected in the output).', at: STARTED_AT + 9000 },
      { level: 'wait', message: 'Replicate rate limit: waited 4 s before creating image #8.', at: STARTED_AT + 3000, until: STARTED_AT + 7000 },
    ],
    error: null,
  };
}

export function savedMessage(index: number, uris: FixtureUris, savedAt = Date.now()): RunImageSavedMessage {
  return {
    type: 'run/imageSaved',
    runId: FIXTURE_RUN_ID,
    index,
    seed: FIXTURE_BASE_SEED + index,
    model: FIXTURE_MODEL,
    thumbnailUri: uris.thumbnail(index),
    imageUri: uris.full(index),
    width: 1344,
    height: 768,
    cost: COST,
    savedAt,
  };
}

export function scoredMessage(index: number): RunImageScoredMessage {
  const scores = fixtureScores(index);
  return { type: 'run/imageScored', runId: FIXTURE_RUN_ID, index, scores, overall: overallScore(scores, DEFAULT_WEIGHTS).value };
}

export function rankedMessage(indices: number[], final: boolean): RunRankedMessage {
  const { entries, comparison } = fixtureRanking(indices);
  return { type: 'run/ranked', runId: FIXTURE_RUN_ID, final, entries, comparison };
}

/** Three earlier runs of the prompt, newest first, with their prompts diffed against today's. */
export function fixtureHistory(uris: FixtureUris): HistoryEntry[] {
  const older = [
    { runId: FIXTURE_RUN_ID, prompt: FIXTURE_PROMPT, minutesAgo: 0, status: 'partial' as const, images: 7, usd: 0.021, best: 2 },
    { runId: '20261124_131955', prompt: 'A lighthouse on a cliff at dusk, long exposure, waves turned to mist', minutesAgo: 44, status: 'succeeded' as const, images: 8, usd: 0.024, best: 6 },
    { runId: '20261123_180204', prompt: 'A lighthouse at night, stormy sea, film photo', minutesAgo: 1200, status: 'canceled' as const, images: 3, usd: 0.009, best: 1 },
  ];
  return older.map((h) => ({
    runId: h.runId,
    startedAt: STARTED_AT - h.minutesAgo * 60_000,
    status: h.status,
    demo: false,
    model: FIXTURE_MODEL,
    imageCount: h.images,
    plannedCount: 8,
    bestThumbnailUri: uris.thumbnail(h.best),
    bestOverall: 38.2 - h.minutesAgo / 100,
    totalUsd: h.usd,
    unknownCostCount: 0,
    promptDiff: diffWords(h.prompt, FIXTURE_PROMPT),
  }));
}

export function fixturePanelState(run: RunView | null, history: HistoryEntry[] = []): PanelState {
  return {
    prompt: {
      uri: 'file:///work/prompts/lighthouse.txt',
      displayPath: 'prompts/lighthouse.txt',
      text: FIXTURE_PROMPT,
      negative: null,
      original: null,
      title: null,
    },
    promptDirty: false,
    plan: {
      model: FIXTURE_MODEL,
      fallbackModels: ['stability-ai/sdxl'],
      numVariations: 8,
      aspectRatio: '16:9',
      seed: null,
      outputFolder: 'prompts/lighthouse.images/<timestamp>',
      precision: 'fp32',
      vqascore: true,
    },
    token: { status: 'set', account: 'ada', demoAvailable: true },
    run,
    history,
  };
}
