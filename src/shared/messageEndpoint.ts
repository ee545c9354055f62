/**
 * One side of a conversation over postMessage: sends events and requests in envelopes and
 * dispatches what arrives. It joins the extension host and the results webview
 * (webview.postMessage/onDidReceiveMessage; acquireVsCodeApi().postMessage/window 'message') and
 * the scorer and its scoring worker (worker.postMessage/parentPort).
 *
 * Requests always settle: the answer, the peer's error (rejected as a ContactSheetError), a
 * timeout (restarted by each progress chunk, so a long run stays alive while it reports), the
 * asker's AbortSignal (the peer is told to stop), a failed post, or dispose() — whichever comes first.
 *
 * What arrives is untrusted: the envelope is checked first, then (with checkIncoming /
 * checkResponse, see protocolGuards.ts) the body; anything malformed is dropped and reported,
 * never dispatched.
 */
import { ContactSheetError, toContactSheetError, type ErrorCode, type SerializedError } from './errors';
import { isEnvelope, type Envelope, type RequestMap, type ResponseEnvelope } from './protocol';

/**
 * Posts one envelope; VS Code's webview.postMessage resolves false when nothing received it.
 * `transfer` lists buffers to move rather than copy (a worker's postMessage; webviews ignore it).
 */
export type PostMessage = (message: Envelope<unknown>, transfer?: ArrayBuffer[]) => unknown;

/**
 * Answers one kind of incoming request; `progress` sends chunks before the answer; `signal`
 * fires when the asker cancels (or the endpoint is disposed).
 */
export type RequestHandler<Req, Res, Chunk> = (request: Req, progress: (chunk: Chunk) => void, signal: AbortSignal) => Promise<Res> | Res;

export type RequestHandlers<In extends RequestMap, Chunk> = {
  [K in keyof In]: RequestHandler<In[K][0], In[K][1], Chunk>;
};

export interface MessageEndpointOptions<InEvent, In extends RequestMap, OutEvent> {
  post: PostMessage;
  onEvent: (event: InEvent) => void;
  requestHandlers: RequestHandlers<In, OutEvent>;
  /** Called for anything that is not a well-formed envelope or answers no pending request. */
  onStrayMessage?: (message: unknown, why: string) => void;
  /** Default timeout of outgoing requests; null: none (something else settles them, e.g. a worker's exit). */
  timeoutMs?: number | null;
  /** Code of the error a handler's untyped failure is answered with (default 'internal'). */
  handlerErrorCode?: ErrorCode;
  /**
   * Checks an incoming event, progress chunk or request body before dispatch; a problem drops it
   * (reported through onStrayMessage), and a dropped request is answered with a bad-usage error.
   */
  checkIncoming?: (body: { type: string }, kind: 'event' | 'request') => string | null;
  /** Checks the answer to an outgoing request; a problem rejects that request with an internal error. */
  checkResponse?: (requestType: string, body: unknown) => string | null;
}

export interface SendRequestOptions<Chunk> {
  /** Idle timeout: time allowed between the request (or its last progress chunk) and the answer; null: none. */
  timeoutMs?: number | null;
  /** Receives progress chunks; without it they go to onEvent like ordinary events. */
  onProgress?: (chunk: Chunk) => void;
  /** Cancels: the request settles as canceled at once and the peer's handler is told to stop. */
  signal?: AbortSignal;
  /** Buffers inside the request to move to the peer instead of copying. */
  transfer?: ArrayBuffer[];
}

interface PendingRequest {
  type: string;
  resolve(value: unknown): void;
  reject(error: ContactSheetError): void;
  restartTimer(): void;
  clearTimer(): void;
  onProgress?: (chunk: unknown) => void;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export class MessageEndpoint<OutEvent, Out extends RequestMap, InEvent extends { type: string }, In extends RequestMap> {
  private nextId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  /** Incoming requests still being answered, to abort their handlers on cancel or dispose. */
  private readonly answering = new Map<number, AbortController>();
  private disposed = false;

  constructor(private readonly options: MessageEndpointOptions<InEvent, In, OutEvent>) {}

  sendEvent(event: OutEvent): void {
    if (this.disposed) return;
    this.options.post({ kind: 'event', body: event });
  }

  sendRequest<K extends keyof Out & string>(
    request: Out[K][0] & { type: K },
    options: SendRequestOptions<InEvent> = {},
  ): Promise<Out[K][1]> {
    if (this.disposed) return Promise.reject(this.closedError);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(canceledError());
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs !== undefined ? options.timeoutMs : this.options.timeoutMs !== undefined ? this.options.timeoutMs : DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<Out[K][1]>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        if (!this.pending.has(id)) return;
        this.settle(id, { ok: false, error: canceledError().toJSON() });
        void Promise.resolve()
          .then(() => this.options.post({ kind: 'cancel', inReplyTo: id }))
          .catch(() => undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const entry: PendingRequest = {
        type: request.type,
        resolve: (v) => resolve(v as Out[K][1]),
        reject,
        clearTimer: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
        restartTimer: () => {
          clearTimeout(timer);
          if (timeoutMs === null) return;
          timer = setTimeout(() => {
            this.pending.delete(id);
            reject(new ContactSheetError('internal', `No answer to "${request.type}" within ${timeoutMs} ms.`, {
              action: 'Close and reopen the Contact Sheet panel.',
            }));
          }, timeoutMs);
        },
        onProgress: options.onProgress as ((chunk: unknown) => void) | undefined,
      };
      this.pending.set(id, entry);
      entry.restartTimer();
      const fail = (e: unknown) => this.settle(id, { ok: false, error: toContactSheetError(e).toJSON() });
      try {
        void Promise.resolve(this.options.post({ kind: 'request', id, body: request }, options.transfer)).then((delivered) => {
          if (delivered === false) fail(new ContactSheetError('internal', `"${request.type}" could not be delivered: the panel is not live.`));
        }, fail);
      } catch (e) {
        fail(e);
      }
    });
  }

  /** Feed every raw incoming message here. */
  handleMessage(raw: unknown): void {
    if (this.disposed) return;
    if (!isEnvelope(raw)) {
      this.options.onStrayMessage?.(raw, 'not an envelope');
      return;
    }
    switch (raw.kind) {
      case 'event':
        if (this.rejects(raw, raw.body, 'event')) return;
        this.options.onEvent(raw.body as InEvent);
        return;
      case 'request': {
        const problem = this.options.checkIncoming?.(raw.body, 'request');
        if (problem) {
          this.options.onStrayMessage?.(raw, `invalid request: ${problem}`);
          void this.reply({ kind: 'response', inReplyTo: raw.id, ok: false, error: new ContactSheetError('bad-usage', `Invalid request: ${problem}.`).toJSON() });
          return;
        }
        void this.answer(raw.id, raw.body);
        return;
      }
      case 'progress': {
        const entry = this.pending.get(raw.inReplyTo);
        if (!entry) {
          this.options.onStrayMessage?.(raw, 'progress for no pending request');
          return;
        }
        entry.restartTimer();
        if (!hasType(raw.body)) {
          this.options.onStrayMessage?.(raw, 'invalid progress: no type');
          return;
        }
        if (this.rejects(raw, raw.body, 'event')) return;
        if (entry.onProgress) entry.onProgress(raw.body);
        else this.options.onEvent(raw.body as InEvent);
        return;
      }
      case 'cancel':
        this.answering.get(raw.inReplyTo)?.abort();
        return;
      case 'response':
        if (!this.pending.has(raw.inReplyTo)) {
          this.options.onStrayMessage?.(raw, 'response to no pending request');
          return;
        }
        this.settle(raw.inReplyTo, this.checkedResponse(raw));
        return;
    }
  }

  /** True (and reported) when checkIncoming finds a problem with an event or chunk body. */
  private rejects(raw: unknown, body: { type: string }, kind: 'event'): boolean {
    const problem = this.options.checkIncoming?.(body, kind);
    if (!problem) return false;
    this.options.onStrayMessage?.(raw, `invalid ${kind}: ${problem}`);
    return true;
  }

  /** A successful response whose body fails checkResponse becomes an internal error. */
  private checkedResponse(raw: ResponseEnvelope): ResponseEnvelope {
    const entry = this.pending.get(raw.inReplyTo);
    if (!raw.ok || !entry || !this.options.checkResponse) return raw;
    const problem = this.options.checkResponse(entry.type, raw.body);
    if (!problem) return raw;
    this.options.onStrayMessage?.(raw, `invalid response: ${problem}`);
    const error = new ContactSheetError('internal', `The answer to "${entry.type}" was malformed (${problem}).`, {
      action: 'Close and reopen the Contact Sheet panel.',
    });
    return { kind: 'response', inReplyTo: raw.inReplyTo, ok: false, error: error.toJSON() };
  }

  /**
   * Rejects every pending request (with `reason`, e.g. the worker crashed, else "closed"), aborts
   * the handlers still answering; later sends are refused with the same error.
   */
  dispose(reason?: ContactSheetError): void {
    if (this.disposed) return;
    this.disposed = true;
    if (reason) this.closedError = reason;
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      entry.clearTimer();
      entry.reject(this.closedError);
    }
    for (const controller of this.answering.values()) controller.abort();
    this.answering.clear();
  }

  private closedError: ContactSheetError = endpointClosed();

  get pendingCount(): number {
    return this.pending.size;
  }

  private settle(id: number, response: { ok: true; body: unknown } | { ok: false; error: SerializedError }): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    entry.clearTimer();
    if (response.ok) entry.resolve(response.body);
    else entry.reject(fromSerialized(response.error));
  }

  private async answer(id: number, body: { type: string }): Promise<void> {
    const handlers = this.options.requestHandlers as Record<string, RequestHandler<unknown, unknown, OutEvent> | undefined>;
    const handler = Object.prototype.hasOwnProperty.call(handlers, body.type) ? handlers[body.type] : undefined;
    let response: ResponseEnvelope;
    const controller = new AbortController();
    this.answering.set(id, controller);
    try {
      if (!handler) throw new ContactSheetError('bad-usage', `Unknown request "${body.type}".`);
      const progress = (chunk: OutEvent) => {
        if (!this.disposed) this.options.post({ kind: 'progress', inReplyTo: id, body: chunk });
      };
      const value = await handler(body, progress, controller.signal);
      response = { kind: 'response', inReplyTo: id, ok: true, body: value };
    } catch (e) {
      response = { kind: 'response', inReplyTo: id, ok: false, error: toContactSheetError(e, this.options.handlerErrorCode).toJSON() };
    } finally {
      this.answering.delete(id);
    }
    // A canceled request was already settled by the asker: no answer is expected.
    if (controller.signal.aborted) return;
    await this.reply(response);
  }

  private async reply(response: ResponseEnvelope): Promise<void> {
    if (this.disposed) return;
    try {
      await this.options.post(response);
    } catch (e) {
      // The peer is gone (panel closed); its side rejects on its own dispose.
      this.options.onStrayMessage?.(response, `could not post response: ${toContactSheetError(e).message}`);
    }
  }
}

function canceledError(): ContactSheetError {
  return new ContactSheetError('canceled', 'The operation was canceled.');
}

function hasType(body: unknown): body is { type: string } {
  return typeof body === 'object' && body !== null && typeof (body as { type?: unknown }).type === 'string';
}

function endpointClosed(): ContactSheetError {
  return new ContactSheetError('canceled', 'The Contact Sheet panel was closed before the request finished.');
}

function fromSerialized(error: SerializedError): ContactSheetError {
  const code: ErrorCode = typeof error?.code === 'string' ? error.code : 'internal';
  const message = typeof error?.message === 'string' ? error.message : 'Unknown error.';
  return new ContactSheetError(code, message, { action: error?.action, details: error?.details });
}
