/**
 * Typed messages between the extension host and the results webview.
 *
 * Every message is wrapped in an envelope (below): one-way events, and requests that always settle
 * with exactly one response (a value or a SerializedError), optionally preceded by progress chunks.
 * No message carries the Replicate token or file-system paths: images travel as webview URIs.
 * This file is shared by both sides, so it imports types only, and none that need Node.
 */
import type { SerializedError } from './errors';
import type { ImageScores, Precision } from './scores';

// ---------------------------------------------------------------------------------------------
// Shared shapes

/**
 * Same values as core/replicate/types AspectRatio, restated because that file needs Node's
 * Buffer type, which the webview does not have (runPlanSettings.ts checks they stay equal).
 */
export type PlanAspectRatio = '1:1' | '4:3' | '3:4' | '16:9' | '9:16';

/** The prompt file as the panel shows it. */
export interface PromptView {
  /** `file:` URI string of the prompt (the panel's identity, also what the webview persists). */
  uri: string;
  /** Path relative to the workspace folder, for display. */
  displayPath: string;
  /** The prompt sent to the model (front matter and a markdown title removed). */
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

/** Everything the panel needs to render from scratch. */
export interface PanelState {
  prompt: PromptView;
  plan: RunPlanView;
}

/** One image of a run as the grid shows it. */
export interface RunImageView {
  /** 0-based index in generation order. */
  index: number;
  seed: number;
  model: string;
  /** Webview URI (asWebviewUri) of the image, never a file path. */
  imageUri: string;
  scores: ImageScores | null;
  /** Overall score 0–100, or null while unscored or when no metric is available. */
  overall: number | null;
}

export type RunStatus = 'succeeded' | 'partial' | 'failed' | 'canceled';

// ---------------------------------------------------------------------------------------------
// Host → webview events

/** Replaces the panel's state, e.g. after the prompt file or the settings changed. */
export interface StateChangedMessage {
  type: 'panel/state';
  state: PanelState;
}

/** A run has started for this panel's prompt. */
export interface RunStartedMessage {
  type: 'run/started';
  runId: string;
  numImages: number;
}

/** Coarse progress of the current run, for a progress line. */
export interface RunProgressMessage {
  type: 'run/progress';
  runId: string;
  phase: 'plan' | 'generate' | 'score' | 'rank' | 'write' | 'done';
  done: number;
  total: number;
  message: string;
}

/** An image arrived or its scores changed. */
export interface RunImageMessage {
  type: 'run/image';
  runId: string;
  image: RunImageView;
}

/** The final order of the images, best first (indices into the run). */
export interface RunRankedMessage {
  type: 'run/ranked';
  runId: string;
  order: number[];
}

/** The run ended. */
export interface RunFinishedMessage {
  type: 'run/finished';
  runId: string;
  status: RunStatus;
  error?: SerializedError;
}

/** Events the host sends without being asked. */
export type ToWebviewEvent =
  | StateChangedMessage
  | RunStartedMessage
  | RunProgressMessage
  | RunImageMessage
  | RunRankedMessage
  | RunFinishedMessage;

// ---------------------------------------------------------------------------------------------
// Webview → host events and requests

/** A line for the "Contact Sheet" log (webview errors end up there, not in a devtools console). */
export interface WebviewLogMessage {
  type: 'webview/log';
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** Asks to cancel the running run of this panel. */
export interface CancelRunMessage {
  type: 'run/cancel';
  runId: string;
}

/** Events the webview sends without expecting an answer. */
export type FromWebviewEvent = WebviewLogMessage | CancelRunMessage;

/** The webview has loaded its script and wants its initial state (the ready handshake). */
export interface ReadyRequest {
  type: 'webview/ready';
}

/** Opens the prompt file in an editor beside the panel. */
export interface OpenPromptRequest {
  type: 'prompt/open';
}

/** Starts a run of the panel's prompt; the host streams ToWebviewEvents, then answers. */
export interface StartRunRequest {
  type: 'run/start';
}

/** Requests the webview may send, each mapped to [request, response] (a type, so it fits RequestMap). */
export type FromWebviewRequests = {
  'webview/ready': [ReadyRequest, PanelState];
  'prompt/open': [OpenPromptRequest, void];
  'run/start': [StartRunRequest, { runId: string; status: RunStatus }];
};

/** Requests the host may send to the webview (none yet; the map keeps the endpoint symmetric). */
export type ToWebviewRequests = {
  'webview/ping': [{ type: 'webview/ping' }, 'pong'];
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
