/**
 * Receipt checks for every protocol message (protocol.ts), used by both sides: the webview drops
 * a malformed host message instead of rendering it, the host drops a malformed webview message
 * instead of acting on it. Each check returns null or the problem, for the report.
 * The tables are keyed by the unions' discriminants, so a new message without a check does not compile.
 */
import type { FromWebviewEvent, FromWebviewRequests, ToWebviewEvent, ToWebviewRequests } from './protocol';
import { MAX_IMAGES, MAX_SEED, MIN_IMAGES, PLAN_ASPECT_RATIOS } from './protocol';
import { anything, arrayOf, bool, either, int, intIn, literal, nullable, num, numIn, object, optional, recordOf, str, type Check } from './shapeCheck';

// ---------------------------------------------------------------------------------------------
// Shapes

const METRIC_IDS = ['pickscore', 'clip_score', 'vqascore', 'aesthetic'] as const;
const index = intIn(0, 10_000);
const seed = intIn(0, MAX_SEED);
const time = num;
const uri = str;

const serializedError = object({ code: str, message: str, action: optional(str), details: optional(recordOf(anything)) });

const isNull: Check = (v, p) => (v === null ? null : `${p}: not null`);
/** A metric is { raw, value, model }, or { value: null, reason } when absent. */
const metricResult = either(object({ raw: num, value: num, model: str }), object({ value: isNull, reason: str }));

export const imageScores = object(Object.fromEntries(METRIC_IDS.map((id) => [id, metricResult])));

const aspectRatio = literal(...PLAN_ASPECT_RATIOS);
const runStatus = literal('running', 'finalizing', 'succeeded', 'partial', 'failed', 'canceled');
const finishedStatus = literal('succeeded', 'partial', 'failed', 'canceled');
const imageStage = literal('queued', 'starting', 'processing', 'downloading', 'scoring', 'scored', 'failed');
const phase = literal('plan', 'generate', 'score', 'rank', 'write', 'done');
const metricId = literal(...METRIC_IDS);

export const promptView = object({ uri: str, displayPath: str, text: str, negative: nullable(str), original: nullable(str), title: nullable(str) });

export const runPlanView = object({
  model: str,
  fallbackModels: arrayOf(str),
  numVariations: intIn(MIN_IMAGES, MAX_IMAGES),
  aspectRatio,
  seed: nullable(seed),
  outputFolder: str,
  precision: literal('fp32', 'int8'),
  vqascore: bool,
});

export const planChoice = object({ model: str, numVariations: intIn(MIN_IMAGES, MAX_IMAGES), aspectRatio, seed: nullable(seed) });

export const tokenView = object({ status: literal('unknown', 'set', 'missing', 'invalid'), account: nullable(str), demoAvailable: bool });

export const imageRef = object({ runId: str, index });

export const costView = object({ usd: nullable(num), source: literal('official price', 'predict_time × GPU price', 'unknown'), pricingDate: str, basis: optional(str) });

export const runImageView = object({
  index,
  seed,
  stage: imageStage,
  model: nullable(str),
  thumbnailUri: nullable(uri),
  imageUri: nullable(uri),
  width: nullable(int),
  height: nullable(int),
  scores: nullable(imageScores),
  overall: nullable(num),
  preferenceProbability: nullable(numIn(0, 1)),
  rank: nullable(intIn(1, 10_000)),
  cost: nullable(costView),
  error: nullable(serializedError),
  savedAt: nullable(time),
});

export const runCostView = object({ totalUsd: num, unknownCount: int, estimateUsd: nullable(num) });

export const comparisonView = object({ bestIndex: index, leadsOn: arrayOf(metricId), trailsOn: arrayOf(metricId), marginOverOthers: nullable(num), text: str });

export const runNoticeView = object({ level: literal('warning', 'wait'), message: str, at: time, until: optional(time) });

/** Also checks that images are listed by index (images[i].index === i), which the grid relies on. */
export const runView: Check = (v, p) =>
  object({
    runId: str,
    prompt: str,
    status: runStatus,
    live: bool,
    demo: bool,
    model: str,
    aspectRatio,
    baseSeed: seed,
    phase,
    phaseDetail: nullable(str),
    startedAt: time,
    finishedAt: nullable(time),
    images: arrayOf(runImageView, 64),
    rankingFinal: bool,
    comparison: nullable(comparisonView),
    cost: runCostView,
    notices: arrayOf(runNoticeView, 1000),
    error: nullable(serializedError),
  })(v, p) ??
  ((v as { images: { index: number }[] }).images.findIndex((img, i) => img.index !== i) >= 0 ? `${p}.images: not listed by index` : null);

const diffSegment = object({ op: literal('same', 'add', 'del'), text: str });

export const historyEntry = object({
  runId: str,
  startedAt: time,
  status: runStatus,
  demo: bool,
  model: str,
  imageCount: int,
  plannedCount: int,
  bestThumbnailUri: nullable(uri),
  bestOverall: nullable(num),
  totalUsd: num,
  unknownCostCount: int,
  promptDiff: arrayOf(diffSegment),
});

export const panelState = object({
  prompt: promptView,
  promptDirty: bool,
  plan: runPlanView,
  token: tokenView,
  run: nullable(runView),
  history: arrayOf(historyEntry),
});

const rankEntry = object({ index, rank: intIn(1, 10_000), overall: nullable(num), preferenceProbability: nullable(numIn(0, 1)), imageUri: optional(uri), thumbnailUri: optional(uri) });

// ---------------------------------------------------------------------------------------------
// Messages, one check per discriminant

type ChecksOf<T extends { type: string }> = { [K in T['type']]: Check };
type RequestChecksOf<M extends Record<string, [unknown, unknown]>> = { [K in keyof M]: Check };

const toWebviewEventChecks: ChecksOf<ToWebviewEvent> = {
  'panel/state': object({ state: panelState }),
  'prompt/changed': object({ prompt: promptView, dirty: bool }),
  'plan/changed': object({ plan: runPlanView }),
  'token/changed': object({ token: tokenView }),
  'run/show': object({ run: runView }),
  'run/phase': object({ runId: str, phase, detail: nullable(str) }),
  'run/imageStatus': object({ runId: str, index, stage: literal('starting', 'processing', 'downloading'), model: nullable(str) }),
  'run/imageSaved': object({ runId: str, index, seed, model: str, thumbnailUri: uri, imageUri: uri, width: int, height: int, cost: costView, savedAt: time }),
  'run/imageScored': object({ runId: str, index, scores: imageScores, overall: nullable(num) }),
  'run/imageFailed': object({ runId: str, index, stage: literal('generate', 'save', 'score'), error: serializedError }),
  'run/ranked': object({ runId: str, final: bool, entries: arrayOf(rankEntry, 64), comparison: nullable(comparisonView) }),
  'run/cost': object({ runId: str, cost: runCostView }),
  'run/notice': object({ runId: str, notice: runNoticeView }),
  'run/finished': object({ runId: str, status: finishedStatus, finishedAt: time, cost: runCostView, error: nullable(serializedError) }),
  'history/changed': object({ entries: arrayOf(historyEntry) }),
};

const toWebviewRequestChecks: RequestChecksOf<ToWebviewRequests> = {
  'webview/ping': anything,
};

const fromWebviewEventChecks: ChecksOf<FromWebviewEvent> = {
  'webview/log': object({ level: literal('info', 'warn', 'error'), message: str }),
  'webview/invalidMessage': object({ messageType: nullable(str), reason: str }),
  'image/shown': object({ runId: str, index, variant: literal('thumbnail', 'full'), at: time }),
};

const fromWebviewRequestChecks: RequestChecksOf<FromWebviewRequests> = {
  'webview/ready': object({ restore: nullable(object({ runId: nullable(str) })) }),
  'prompt/open': anything,
  // 100 KB prompt limit, in UTF-16 units with room for multi-byte characters.
  'prompt/edit': object({ text: (v, p) => str(v, p) ?? ((v as string).length > 100 * 1024 ? `${p}: longer than the 100 KB prompt limit` : null) }),
  'prompt/save': anything,
  'run/start': object({ plan: planChoice, demo: bool, fromImage: nullable(imageRef) }),
  'run/cancel': object({ runId: str }),
  'run/reveal': object({ runId: str }),
  'token/set': anything,
  'history/open': object({ runId: str }),
  'image/open': object({ image: imageRef }),
  'image/reveal': object({ image: imageRef }),
  'image/copySeed': object({ image: imageRef }),
  'image/copyPath': object({ image: imageRef }),
};

/** Answers the webview receives, by the type of the request they answer. */
const fromWebviewResponseChecks: RequestChecksOf<FromWebviewRequests> = {
  'webview/ready': panelState,
  'prompt/open': anything,
  'prompt/edit': object({ applied: bool }),
  'prompt/save': object({ saved: bool }),
  'run/start': object({ runId: str }),
  'run/cancel': object({ canceling: bool }),
  'run/reveal': anything,
  'token/set': tokenView,
  'history/open': runView,
  'image/open': anything,
  'image/reveal': anything,
  'image/copySeed': anything,
  'image/copyPath': anything,
};

const toWebviewResponseChecks: RequestChecksOf<ToWebviewRequests> = {
  'webview/ping': literal('pong'),
};

function checkByType(table: Record<string, Check>, body: { type: string }): string | null {
  const check = Object.prototype.hasOwnProperty.call(table, body.type) ? table[body.type] : undefined;
  if (!check) return `unknown message type "${body.type}"`;
  return check(body, body.type);
}

/** Webview side: checks an event or request body from the host. */
export function checkToWebview(body: { type: string }, kind: 'event' | 'request'): string | null {
  return checkByType(kind === 'event' ? toWebviewEventChecks : toWebviewRequestChecks, body);
}

/** Webview side: checks the host's answer to a webview request. */
export function checkResponseToWebview(requestType: string, body: unknown): string | null {
  return checkAnswer(fromWebviewResponseChecks, requestType, body);
}

/** Host side: checks an event or request body from the webview. */
export function checkFromWebview(body: { type: string }, kind: 'event' | 'request'): string | null {
  return checkByType(kind === 'event' ? fromWebviewEventChecks : fromWebviewRequestChecks, body);
}

/** Host side: checks the webview's answer to a host request. */
export function checkResponseFromWebview(requestType: string, body: unknown): string | null {
  return checkAnswer(toWebviewResponseChecks, requestType, body);
}

function checkAnswer(table: Record<string, Check>, requestType: string, body: unknown): string | null {
  const check = Object.prototype.hasOwnProperty.call(table, requestType) ? table[requestType] : undefined;
  return check ? check(body, `answer to ${requestType}`) : `unknown request type "${requestType}"`;
}
