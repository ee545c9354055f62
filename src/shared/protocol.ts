/**
 * Typed messages between the extension host and the results webview: the contract both halves
 * are built against.
 *
 * Every message travels in an envelope (bottom of this file): one-way events, and requests that
 * always settle with exactly one response (a value or a SerializedError), optionally preceded by
 * progress chunks (MessageEndpoint). Discriminants are `area/verb` strings. Both sides check what
 * they receive with protocolGuards.ts and drop (and report) anything malformed.
 *
 * No message carries the Replicate token or a file-system path: images travel as webview URIs
 * (asWebviewUri), and the webview names an image by ImageRef (run id + index), so the host
 * resolves paths itself. Times are milliseconds since the epoch (Date.now()) unless named `…At`
 * with an ISO string; both sides share the machine's clock.
 *
 * This file is shared by both sides, so it imports types only, and none that need Node.
 */
import type { ErrorCode, SerializedError } from './errors';
import type { ImageScores, MetricId, MetricResult, Precision } from './scores';
import type { DiffSegment } from './wordDiff';

// The engine's types the protocol carries, re-exported so the webview names them from here only.
export type { DiffSegment, ErrorCode, ImageScores, MetricId, MetricResult, SerializedError };

// ---------------------------------------------------------------------------------------------
// Shared shapes

/**
 * Same values as core/replicate/types AspectRatio, restated because that file needs Node's
 * Buffer type, which the webview does not have (runPlanSettings.ts checks they stay equal).
 */
export type PlanAspectRatio = '1:1' | '4:3' | '3:4' | '16:9' | '9:16';
export const PLAN_ASPECT_RATIOS: readonly PlanAspectRatio[] = ['1:1', '4:3', '3:4', '16:9', '9:16'];

/** Bounds of the plan controls (the engine enforces the same: 1–16 images, 32-bit seeds). */
export const MIN_IMAGES = 1;
export const MAX_IMAGES = 16;
export const MAX_SEED = 4_294_967_295;

/** The prompt file as the panel shows it. */
export interface PromptView {
  /** `file:` URI string of the prompt (the panel's identity, also what the webview persists). */
  uri: string;
  /** Path relative to the workspace folder, for display. */
  displayPath: string;
  /** The prompt sent to the model (front matter and a markdown title removed): what the panel edits. */
  text: string;
  negative: string | null;
  /** The prompt before enhancement, when the front matter gives it. */
  original: string | null;
  /** Markdown `# Title`, when present. */
  title: string | null;
}

/** What a run would do: settings, overridden by the prompt's front matter. */
export interface RunPlanView {
  model: string;
  fallbackModels: string[];
  numVariations: number;
  aspectRatio: PlanAspectRatio;
  /** Base seed; null means a random base seed is drawn when the run starts. */
  seed: number | null;
  /** Where the run folder will be created, relative to the workspace when possible (display only). */
  outputFolder: string;
  precision: Precision;
  vqascore: boolean;
}

/** The plan controls' values a run starts with (pre-filled from RunPlanView, edited in the panel). */
export interface PlanChoice {
  /** `owner/name` or `owner/name:version`. */
  model: string;
  /** MIN_IMAGES–MAX_IMAGES. */
  numVariations: number;
  aspectRatio: PlanAspectRatio;
  /** Base seed 0–MAX_SEED (image i gets seed + i), or null for a random one. */
  seed: number | null;
}

/**
 * The Replicate token as the panel may know it: never the token itself.
 * `unknown`: not looked up yet; `set`: stored (and accepted by /v1/account when `account` is
 * given); `missing`: none stored; `invalid`: Replicate refused it.
 */
export type TokenStatus = 'unknown' | 'set' | 'missing' | 'invalid';

export interface TokenView {
  status: TokenStatus;
  /** Replicate account name from /v1/account, when checked. */
  account: string | null;
  /** Whether the labelled DEMO (local fake Replicate + tiny models) can run here. */
  demoAvailable: boolean;
}

/** Names one image of one run. `index` is the generation index (seed = base seed + index), not the rank. */
export interface ImageRef {
  runId: string;
  index: number;
}

/** Run states: the trace's statuses (`finalizing` = ranking and renaming files). */
export type RunViewStatus = 'running' | 'finalizing' | 'succeeded' | 'partial' | 'failed' | 'canceled';

/** Where one planned image is. `queued` → starting → processing (Replicate) → downloading → scoring (on disk) → scored; or failed. */
export type ImageStage = 'queued' | 'starting' | 'processing' | 'downloading' | 'scoring' | 'scored' | 'failed';

export type CostSourceView = 'official price' | 'predict_time × GPU price' | 'unknown';

/** Cost of one image (core Cost, restated for the same Buffer reason as PlanAspectRatio). */
export interface CostView {
  /** USD, or null when unknown. */
  usd: number | null;
  source: CostSourceView;
  /** Date of the pricing table (YYYY-MM-DD). */
  pricingDate: string;
  /** e.g. "0.003 USD per image". */
  basis?: string;
}

/** One planned image of a run as the grid shows it. */
export interface RunImageView {
  /** 0-based generation index. */
  index: number;
  seed: number;
  stage: ImageStage;
  /** `owner/name` actually used (a fallback model when the primary failed); null before a prediction exists. */
  model: string | null;
  /** Small (WebP) thumbnail for the grid, as a webview URI; null until the image is on disk. */
  thumbnailUri: string | null;
  /** Full-size image for compare and the lightbox, as a webview URI; null until on disk. */
  imageUri: string | null;
  width: number | null;
  height: number | null;
  scores: ImageScores | null;
  /** Overall 0–100 (weights renormalized over available metrics); null while unscored or when no metric is available. */
  overall: number | null;
  /** Softmax of the set's raw PickScores (0–1); null without PickScore or before ranking. */
  preferenceProbability: number | null;
  /** 1 = best; provisional until the run's `rankingFinal`. */
  rank: number | null;
  cost: CostView | null;
  /** Why the image failed (stage `failed`). */
  error: SerializedError | null;
  /** When the image reached the disk (Date.now() on the host), for the "on disk → shown" measurement. */
  savedAt: number | null;
}

/** Cost of a run so far. */
export interface RunCostView {
  /** Sum of the known costs, USD. */
  totalUsd: number;
  /** Images whose cost is unknown (not in totalUsd). */
  unknownCount: number;
  /** Estimate made before the run started, USD, when the pricing table knows the model. */
  estimateUsd: number | null;
}

/** Why the best image won (core rank.ts ComparisonSummary, camel-cased). */
export interface ComparisonView {
  bestIndex: number;
  /** Metrics on which the best image has the highest value of the set. */
  leadsOn: MetricId[];
  /** Metrics on which another image scored higher. */
  trailsOn: MetricId[];
  /** Best overall minus the mean overall of the others, 0–100 points. */
  marginOverOthers: number | null;
  /** One or two sentences, as in summary.md. */
  text: string;
}

/** A line under the run summary: an engine warning, or a wait (rate limit, retry back-off). */
export interface RunNoticeView {
  level: 'warning' | 'wait';
  message: string;
  at: number;
  /** For waits: when the wait ends (the panel shows a countdown until then). */
  until?: number;
}

/** Coarse step of a run (core RunPhase). */
export type RunPhaseView = 'plan' | 'generate' | 'score' | 'rank' | 'write' | 'done';

/** A run, complete enough to render the grid and the summary from scratch. */
export interface RunView {
  runId: string;
  /** The prompt text this run generated from. */
  prompt: string;
  status: RunViewStatus;
  /** The run is in progress in this window: its events will follow, and it can be canceled. */
  live: boolean;
  /** Made by the DEMO (fake Replicate, random-weight models): scores mean nothing. */
  demo: boolean;
  /** Primary model of the run. */
  model: string;
  aspectRatio: PlanAspectRatio;
  baseSeed: number;
  phase: RunPhaseView;
  /** Extra words on the phase, e.g. "loading PickScore (first use)"; null for none. */
  phaseDetail: string | null;
  startedAt: number;
  finishedAt: number | null;
  /** One entry per planned prediction, by index. */
  images: RunImageView[];
  /** True once the ranks are final (files renamed to image_NNN.png). */
  rankingFinal: boolean;
  comparison: ComparisonView | null;
  cost: RunCostView;
  notices: RunNoticeView[];
  error: SerializedError | null;
}

/** An earlier run of this prompt, from its generation_trace.json (a run in progress is listed too, status `running`, so the user can get back to it). */
export interface HistoryEntry {
  runId: string;
  startedAt: number;
  status: RunViewStatus;
  demo: boolean;
  model: string;
  /** Images generated (on disk), and planned. */
  imageCount: number;
  plannedCount: number;
  bestThumbnailUri: string | null;
  bestOverall: number | null;
  totalUsd: number;
  unknownCostCount: number;
  /** The run's prompt against the prompt now (wordDiff.diffWords(runPrompt, currentPrompt)): `del` only in the run's, `add` only in today's. */
  promptDiff: DiffSegment[];
}

/** Everything the panel needs to render from scratch. */
export interface PanelState {
  prompt: PromptView;
  /** The prompt's editor buffer has unsaved edits. */
  promptDirty: boolean;
  plan: RunPlanView;
  token: TokenView;
  /** The run shown in the grid: the live one, the one the webview asked to restore, the latest, or none. */
  run: RunView | null;
  /** Earlier runs of this prompt, newest first. */
  history: HistoryEntry[];
}

/** What the webview persists with setState (and the serializer receives after a reload): identity only. */
export interface WebviewPersistedState {
  promptUri: string;
  runId: string | null;
  /** Selected image indices of that run (compare picks). */
  selection: number[];
  /** Vertical scroll offset in CSS pixels. */
  scroll: number;
}

// ---------------------------------------------------------------------------------------------
// Host → webview events

/** Replaces the panel's whole state (the host rebuilt everything, e.g. the prompt file was replaced). */
export interface PanelStateMessage {
  type: 'panel/state';
  state: PanelState;
}

/** The prompt's text or dirty state changed (an edit from the panel or an editor, a save, a revert). */
export interface PromptChangedMessage {
  type: 'prompt/changed';
  prompt: PromptView;
  dirty: boolean;
}

/** The plan changed (settings or the prompt's front matter); the panel refreshes controls the user has not edited. */
export interface PlanChangedMessage {
  type: 'plan/changed';
  plan: RunPlanView;
}

/** The token's status changed (set, removed, checked against /v1/account). */
export interface TokenChangedMessage {
  type: 'token/changed';
  token: TokenView;
}

/** Shows a run in the grid, replacing the one shown: a new run (every image `queued`), or one opened from history or the explorer. */
export interface RunShowMessage {
  type: 'run/show';
  run: RunView;
}

/** The live run entered a phase (plan, generate, score, rank, write, done), with optional detail. */
export interface RunPhaseMessage {
  type: 'run/phase';
  runId: string;
  phase: RunPhaseView;
  detail: string | null;
}

/** A prediction moved on at Replicate: created (`starting`), `processing`, or succeeded and its output is `downloading`. */
export interface RunImageStatusMessage {
  type: 'run/imageStatus';
  runId: string;
  index: number;
  stage: 'starting' | 'processing' | 'downloading';
  /** Model of the prediction (changes when a fallback takes over). */
  model: string | null;
}

/** An image is on disk: show it now (then it is `scoring`). */
export interface RunImageSavedMessage {
  type: 'run/imageSaved';
  runId: string;
  index: number;
  seed: number;
  model: string;
  thumbnailUri: string;
  imageUri: string;
  width: number;
  height: number;
  cost: CostView;
  /** When the PNG was on disk (host Date.now()). */
  savedAt: number;
}

/** An image's scores are computed (absent metrics carry their reason). */
export interface RunImageScoredMessage {
  type: 'run/imageScored';
  runId: string;
  index: number;
  scores: ImageScores;
  overall: number | null;
}

/** An image failed; `stage` says where. What finished before stays. */
export interface RunImageFailedMessage {
  type: 'run/imageFailed';
  runId: string;
  index: number;
  stage: 'generate' | 'save' | 'score';
  error: SerializedError;
}

/** One row of a ranking. */
export interface RankEntryView {
  index: number;
  /** 1 = best. */
  rank: number;
  overall: number | null;
  preferenceProbability: number | null;
  /** In a final ranking, the renamed image's new URIs (when they changed). */
  imageUri?: string;
  thumbnailUri?: string;
}

/** The ranking changed: provisional while images arrive (`final` false), then final once the files are renamed. Images not listed have no rank. */
export interface RunRankedMessage {
  type: 'run/ranked';
  runId: string;
  final: boolean;
  entries: RankEntryView[];
  comparison: ComparisonView | null;
}

/** The run's cost so far changed. */
export interface RunCostMessage {
  type: 'run/cost';
  runId: string;
  cost: RunCostView;
}

/** A warning from the engine, or a wait (rate limit / back-off) worth telling the user about. */
export interface RunNoticeMessage {
  type: 'run/notice';
  runId: string;
  notice: RunNoticeView;
}

/** The run ended (finished images and the trace stay on disk whatever the status). */
export interface RunFinishedMessage {
  type: 'run/finished';
  runId: string;
  status: 'succeeded' | 'partial' | 'failed' | 'canceled';
  finishedAt: number;
  cost: RunCostView;
  error: SerializedError | null;
}

/** The list of earlier runs changed (a run finished, a run folder appeared or went). Newest first. */
export interface HistoryChangedMessage {
  type: 'history/changed';
  entries: HistoryEntry[];
}

/** Events the host sends without being asked. */
export type ToWebviewEvent =
  | PanelStateMessage
  | PromptChangedMessage
  | PlanChangedMessage
  | TokenChangedMessage
  | RunShowMessage
  | RunPhaseMessage
  | RunImageStatusMessage
  | RunImageSavedMessage
  | RunImageScoredMessage
  | RunImageFailedMessage
  | RunRankedMessage
  | RunCostMessage
  | RunNoticeMessage
  | RunFinishedMessage
  | HistoryChangedMessage;

/** The run messages that apply to the run shown (all carry `runId`). */
export type RunUpdateMessage =
  | RunPhaseMessage
  | RunImageStatusMessage
  | RunImageSavedMessage
  | RunImageScoredMessage
  | RunImageFailedMessage
  | RunRankedMessage
  | RunCostMessage
  | RunNoticeMessage
  | RunFinishedMessage;

// ---------------------------------------------------------------------------------------------
// Webview → host events

/** A line for the "Contact Sheet" log (webview errors end up there, not in a devtools console). */
export interface WebviewLogMessage {
  type: 'webview/log';
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** The webview dropped a message it received (not an envelope, unknown type, malformed payload). */
export interface WebviewInvalidMessage {
  type: 'webview/invalidMessage';
  /** The dropped message's `type`, when it had one. */
  messageType: string | null;
  reason: string;
}

/** An image finished loading in the webview (img `load`): with RunImageView.savedAt this measures on disk → shown. */
export interface ImageShownMessage {
  type: 'image/shown';
  runId: string;
  index: number;
  /** Which picture loaded: the grid's thumbnail or the full image (compare, lightbox). */
  variant: 'thumbnail' | 'full';
  /** Date.now() in the webview when the load event fired. */
  at: number;
}

/** Events the webview sends without expecting an answer. */
export type FromWebviewEvent = WebviewLogMessage | WebviewInvalidMessage | ImageShownMessage;

// ---------------------------------------------------------------------------------------------
// Webview → host requests

/** The webview has loaded its script and wants its state (the ready handshake); `restore` comes from its persisted state after a reload. */
export interface ReadyRequest {
  type: 'webview/ready';
  restore: { runId: string | null } | null;
}

/** Opens the prompt file in an editor beside the panel. */
export interface OpenPromptRequest {
  type: 'prompt/open';
}

/** Replaces the prompt text (PromptView.text, not the front matter or title) with `text`, as an editor edit (undo works; nothing is saved). The host follows with prompt/changed. */
export interface EditPromptRequest {
  type: 'prompt/edit';
  text: string;
}

/** Saves the prompt's document. */
export interface SavePromptRequest {
  type: 'prompt/save';
}

/**
 * Starts a run of the prompt as it is now (unsaved edits included) with the plan controls'
 * values. Answers once the run has started (after its run/show), or rejects without spending:
 * `token-missing` / `token-invalid` (the panel offers Set token / DEMO), `budget-exceeded`, a bad plan.
 * `demo` runs the labelled DEMO instead of Replicate. `fromImage` says the run reuses that image's
 * seed and model ("Re-run from this seed"; plan.seed and plan.model already hold them).
 */
export interface StartRunRequest {
  type: 'run/start';
  plan: PlanChoice;
  demo: boolean;
  fromImage: ImageRef | null;
}

/** Cancels a live run: answers at once whether a cancel was started; the run ends later with run/finished `canceled`. */
export interface CancelRunRequest {
  type: 'run/cancel';
  runId: string;
}

/** Reveals a run's folder in the explorer. */
export interface RevealRunRequest {
  type: 'run/reveal';
  runId: string;
}

/** Asks for the token (the "Set Replicate API Token" input box); answers the new token status. */
export interface SetTokenRequest {
  type: 'token/set';
}

/** Opens an earlier run of this prompt in the grid; answers the run (the webview shows it). */
export interface OpenHistoryRequest {
  type: 'history/open';
  runId: string;
}

/** Opens the full image in an editor tab. */
export interface OpenImageRequest {
  type: 'image/open';
  image: ImageRef;
}

/** Reveals the image file in the explorer. */
export interface RevealImageRequest {
  type: 'image/reveal';
  image: ImageRef;
}

/** Copies the image's seed to the clipboard. */
export interface CopySeedRequest {
  type: 'image/copySeed';
  image: ImageRef;
}

/** Copies the image file's absolute path to the clipboard (the path never reaches the webview). */
export interface CopyPathRequest {
  type: 'image/copyPath';
  image: ImageRef;
}

/** Requests the webview may send, each mapped to [request, response] (a type, so it fits RequestMap). */
export type FromWebviewRequests = {
  'webview/ready': [ReadyRequest, PanelState];
  'prompt/open': [OpenPromptRequest, void];
  'prompt/edit': [EditPromptRequest, { applied: boolean }];
  'prompt/save': [SavePromptRequest, { saved: boolean }];
  'run/start': [StartRunRequest, { runId: string }];
  'run/cancel': [CancelRunRequest, { canceling: boolean }];
  'run/reveal': [RevealRunRequest, void];
  'token/set': [SetTokenRequest, TokenView];
  'history/open': [OpenHistoryRequest, RunView];
  'image/open': [OpenImageRequest, void];
  'image/reveal': [RevealImageRequest, void];
  'image/copySeed': [CopySeedRequest, void];
  'image/copyPath': [CopyPathRequest, void];
};

/** Host → webview request: a liveness check (the map keeps the endpoint symmetric). */
export interface PingRequest {
  type: 'webview/ping';
}

/** Requests the host may send to the webview. */
export type ToWebviewRequests = {
  'webview/ping': [PingRequest, 'pong'];
};

export type RequestMap = Record<string, [{ type: string }, unknown]>;

export type FromWebviewRequest = FromWebviewRequests[keyof FromWebviewRequests][0];
export type ToWebviewRequest = ToWebviewRequests[keyof ToWebviewRequests][0];

/** Everything the webview can receive (inside envelopes). */
export type ToWebview = ToWebviewEvent | ToWebviewRequest;
/** Everything the host can receive (inside envelopes). */
export type FromWebview = FromWebviewEvent | FromWebviewRequest;

// ---------------------------------------------------------------------------------------------
// Envelope

/** A message that expects no answer. */
export interface EventEnvelope<M> {
  kind: 'event';
  body: M;
}

/** A message that will be answered by exactly one ResponseEnvelope with the same id. */
export interface RequestEnvelope<M> {
  kind: 'request';
  id: number;
  body: M;
}

/** An intermediate chunk for a pending request; it also restarts the request's timeout. */
export interface ProgressEnvelope<M> {
  kind: 'progress';
  inReplyTo: number;
  body: M;
}

/** Asks the peer to stop working on a request (its handler's AbortSignal fires); the asker has already settled it as canceled. */
export interface CancelEnvelope {
  kind: 'cancel';
  inReplyTo: number;
}

/** The one answer to a request: a value, or the error that settled it. */
export type ResponseEnvelope =
  | { kind: 'response'; inReplyTo: number; ok: true; body: unknown }
  | { kind: 'response'; inReplyTo: number; ok: false; error: SerializedError };

export type Envelope<M> = EventEnvelope<M> | RequestEnvelope<M> | ProgressEnvelope<M> | CancelEnvelope | ResponseEnvelope;

/** Checks the envelope's shape before anything trusts its fields (messages cross a trust boundary). */
export function isEnvelope(value: unknown): value is Envelope<{ type: string }> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  switch (v.kind) {
    case 'event':
      return hasType(v.body);
    case 'request':
      return typeof v.id === 'number' && hasType(v.body);
    case 'progress':
    case 'cancel':
      return typeof v.inReplyTo === 'number';
    case 'response':
      return typeof v.inReplyTo === 'number' && typeof v.ok === 'boolean';
    default:
      return false;
  }
}

function hasType(body: unknown): body is { type: string } {
  return typeof body === 'object' && body !== null && typeof (body as { type?: unknown }).type === 'string';
}
