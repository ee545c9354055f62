import * as assert from 'node:assert/strict';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { ContactSheetError } from '../../src/shared/errors';
import { MessageEndpoint, type RequestHandlers } from '../../src/shared/messageEndpoint';
import { isEnvelope } from '../../src/shared/protocol';

// Two endpoints joined by a real MessageChannel (structured clone, asynchronous delivery), the
// way the host and the webview are joined by postMessage.
type HostEvent = { type: 'run/progress'; done: number };
type WebviewEvent = { type: 'webview/log'; message: string };
type HostRequests = {
  'webview/ready': [{ type: 'webview/ready' }, { prompt: string }];
  'run/start': [{ type: 'run/start' }, { status: string }];
  'prompt/open': [{ type: 'prompt/open' }, void];
};
type WebviewRequests = { 'webview/ping': [{ type: 'webview/ping' }, 'pong'] };

interface Pair {
  host: MessageEndpoint<HostEvent, WebviewRequests, WebviewEvent, HostRequests>;
  webview: MessageEndpoint<WebviewEvent, HostRequests, HostEvent, WebviewRequests>;
  webviewEvents: HostEvent[];
  hostEvents: WebviewEvent[];
  stray: string[];
  close(): void;
}

function connect(hostHandlers: RequestHandlers<HostRequests, HostEvent>, ports = new MessageChannel()): Pair {
  const webviewEvents: HostEvent[] = [];
  const hostEvents: WebviewEvent[] = [];
  const stray: string[] = [];
  const host = new MessageEndpoint<HostEvent, WebviewRequests, WebviewEvent, HostRequests>({
    post: (m) => ports.port1.postMessage(m),
    onEvent: (e) => hostEvents.push(e),
    requestHandlers: hostHandlers,
    onStrayMessage: (_m, why) => stray.push(`host: ${why}`),
  });
  const webview = new MessageEndpoint<WebviewEvent, HostRequests, HostEvent, WebviewRequests>({
    post: (m) => ports.port2.postMessage(m),
    onEvent: (e) => webviewEvents.push(e),
    requestHandlers: { 'webview/ping': () => 'pong' as const },
    onStrayMessage: (_m, why) => stray.push(`webview: ${why}`),
  });
  listen(ports.port1, (m) => host.handleMessage(m));
  listen(ports.port2, (m) => webview.handleMessage(m));
  return {
    host,
    webview,
    webviewEvents,
    hostEvents,
    stray,
    close: () => {
      host.dispose();
      webview.dispose();
      ports.port1.close();
      ports.port2.close();
    },
  };
}

function listen(port: MessagePort, handle: (m: unknown) => void): void {
  port.on('message', handle);
}

const never = () => new Promise<never>(() => {});
const defaultHandlers: RequestHandlers<HostRequests, HostEvent> = {
  'webview/ready': () => ({ prompt: 'a lighthouse' }),
  'run/start': never,
  'prompt/open': () => undefined,
};

async function rejection(promise: Promise<unknown>): Promise<ContactSheetError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ContactSheetError, `rejected with a ContactSheetError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the promise to reject');
}

describe('MessageEndpoint (host ⇄ webview requests)', () => {
  let pair: Pair | undefined;
  afterEach(() => {
    pair?.close();
    pair = undefined;
  });

  it('answers a request with the handler value', async () => {
    pair = connect(defaultHandlers);
    assert.deepEqual(await pair.webview.sendRequest({ type: 'webview/ready' }), { prompt: 'a lighthouse' });
    assert.equal(await pair.host.sendRequest({ type: 'webview/ping' }), 'pong');
    assert.equal(pair.webview.pendingCount, 0);
  });

  it('delivers events both ways', async () => {
    pair = connect(defaultHandlers);
    pair.host.sendEvent({ type: 'run/progress', done: 3 });
    pair.webview.sendEvent({ type: 'webview/log', message: 'hello' });
    await pair.webview.sendRequest({ type: 'prompt/open' }); // messages keep their order: both events have arrived
    await pair.host.sendRequest({ type: 'webview/ping' });
    assert.deepEqual(pair.webviewEvents, [{ type: 'run/progress', done: 3 }]);
    assert.deepEqual(pair.hostEvents, [{ type: 'webview/log', message: 'hello' }]);
  });

  it('rejects with the typed error the handler threw, action included', async () => {
    pair = connect({
      ...defaultHandlers,
      'webview/ready': () => {
        throw new ContactSheetError('prompt-unreadable', 'Cannot read cat.txt.', { action: 'Check the file.' });
      },
    });
    const error = await rejection(pair.webview.sendRequest({ type: 'webview/ready' }));
    assert.equal(error.code, 'prompt-unreadable');
    assert.equal(error.message, 'Cannot read cat.txt.');
    assert.equal(error.action, 'Check the file.');
  });

  it('turns an unexpected throw into an internal error reply', async () => {
    pair = connect({ ...defaultHandlers, 'prompt/open': () => Promise.reject(new TypeError('boom')) });
    const error = await rejection(pair.webview.sendRequest({ type: 'prompt/open' }));
    assert.equal(error.code, 'internal');
    assert.equal(error.message, 'boom');
  });

  it('answers an unknown request type with bad-usage instead of leaving it pending', async () => {
    pair = connect(defaultHandlers);
    const unknown = pair.webview as unknown as MessageEndpoint<WebviewEvent, { 'nope/x': [{ type: 'nope/x' }, void] }, HostEvent, WebviewRequests>;
    const error = await rejection(unknown.sendRequest({ type: 'nope/x' }));
    assert.equal(error.code, 'bad-usage');
    assert.match(error.message, /nope\/x/);
  });

  it('times out when no answer comes', async () => {
    pair = connect(defaultHandlers);
    const error = await rejection(pair.webview.sendRequest({ type: 'run/start' }, { timeoutMs: 50 }));
    assert.equal(error.code, 'internal');
    assert.match(error.message, /run\/start/);
    assert.equal(pair.webview.pendingCount, 0);
  });

  it('keeps a request alive while progress arrives and hands the chunks over in order', async () => {
    // Five chunks 150 ms apart outlast a 400 ms idle timeout only if each chunk restarts it.
    pair = connect({
      ...defaultHandlers,
      'run/start': async (_req, progress) => {
        for (let done = 1; done <= 5; done++) {
          await new Promise((r) => setTimeout(r, 150));
          progress({ type: 'run/progress', done });
        }
        return { status: 'succeeded' };
      },
    });
    const chunks: number[] = [];
    const result = await pair.webview.sendRequest(
      { type: 'run/start' },
      { timeoutMs: 400, onProgress: (chunk) => chunks.push(chunk.done) },
    );
    assert.deepEqual(result, { status: 'succeeded' });
    assert.deepEqual(chunks, [1, 2, 3, 4, 5]);
  });

  it('sends progress chunks to onEvent when the request has no progress listener', async () => {
    pair = connect({
      ...defaultHandlers,
      'run/start': (_req, progress) => {
        progress({ type: 'run/progress', done: 1 });
        return { status: 'succeeded' };
      },
    });
    await pair.webview.sendRequest({ type: 'run/start' });
    assert.deepEqual(pair.webviewEvents, [{ type: 'run/progress', done: 1 }]);
  });

  it('rejects pending requests on dispose and refuses new ones', async () => {
    pair = connect(defaultHandlers);
    const pending = pair.webview.sendRequest({ type: 'run/start' }, { timeoutMs: 60_000 });
    pair.webview.dispose();
    assert.equal((await rejection(pending)).code, 'canceled');
    assert.equal((await rejection(pair.webview.sendRequest({ type: 'webview/ready' }))).code, 'canceled');
  });

  it('a canceled request settles as canceled at once, and the peer\'s handler sees its signal abort', async () => {
    let handlerSignal: AbortSignal | undefined;
    const handlerAborted = new Promise<void>((resolve) => {
      pair = connect({
        ...defaultHandlers,
        'run/start': (_req, _progress, signal) => {
          handlerSignal = signal;
          signal.addEventListener('abort', () => resolve(), { once: true });
          return never();
        },
      });
    });
    const controller = new AbortController();
    const pending = pair!.webview.sendRequest({ type: 'run/start' }, { timeoutMs: null, signal: controller.signal });
    await pair!.webview.sendRequest({ type: 'prompt/open' }); // the run/start request has arrived
    assert.equal(handlerSignal?.aborted, false);
    controller.abort();
    assert.equal((await rejection(pending)).code, 'canceled');
    await handlerAborted;
    assert.equal(pair!.webview.pendingCount, 0);
    assert.deepEqual(pair!.stray, [], 'no answer comes back for a canceled request');
    // An already aborted signal never sends the request.
    assert.equal((await rejection(pair!.webview.sendRequest({ type: 'webview/ready' }, { signal: controller.signal }))).code, 'canceled');
  });

  it('dispose with a reason rejects pending requests with it (a worker that crashed)', async () => {
    pair = connect(defaultHandlers);
    const pending = pair.webview.sendRequest({ type: 'run/start' }, { timeoutMs: null });
    pair.webview.dispose(new ContactSheetError('scoring-failed', 'The scoring worker exited with code 1.'));
    const error = await rejection(pending);
    assert.deepEqual([error.code, error.message], ['scoring-failed', 'The scoring worker exited with code 1.']);
    assert.equal((await rejection(pair.webview.sendRequest({ type: 'webview/ready' }))).code, 'scoring-failed');
  });

  it('rejects at once when posting fails', async () => {
    const endpoint = new MessageEndpoint<WebviewEvent, HostRequests, HostEvent, WebviewRequests>({
      post: () => {
        throw new Error('Webview is disposed');
      },
      onEvent: () => {},
      requestHandlers: { 'webview/ping': () => 'pong' as const },
    });
    const error = await rejection(endpoint.sendRequest({ type: 'webview/ready' }, { timeoutMs: 60_000 }));
    assert.equal(error.message, 'Webview is disposed');
    assert.equal(endpoint.pendingCount, 0);
  });

  it('rejects at once when the post reports it was not delivered', async () => {
    const endpoint = new MessageEndpoint<WebviewEvent, HostRequests, HostEvent, WebviewRequests>({
      post: () => Promise.resolve(false),
      onEvent: () => {},
      requestHandlers: { 'webview/ping': () => 'pong' as const },
    });
    const error = await rejection(endpoint.sendRequest({ type: 'webview/ready' }, { timeoutMs: 60_000 }));
    assert.match(error.message, /could not be delivered/);
    assert.equal(endpoint.pendingCount, 0);
  });

  it('reports malformed and unsolicited messages without acting on them', () => {
    pair = connect(defaultHandlers);
    pair.host.handleMessage('just a string');
    pair.host.handleMessage({ kind: 'event', body: { notype: 1 } });
    pair.host.handleMessage({ kind: 'response', inReplyTo: 99, ok: true, body: null });
    assert.deepEqual(pair.stray, ['host: not an envelope', 'host: not an envelope', 'host: response to no pending request']);
    assert.deepEqual(pair.hostEvents, []);
  });
});

describe('MessageEndpoint receipt checks (checkIncoming / checkResponse)', () => {
  // The webview side with checks; the host side is driven by hand through handleMessage.
  function checkedWebview(posted: unknown[], events: HostEvent[], stray: string[]) {
    return new MessageEndpoint<WebviewEvent, HostRequests, HostEvent, WebviewRequests>({
      post: (m) => posted.push(m),
      onEvent: (e) => events.push(e),
      requestHandlers: { 'webview/ping': () => 'pong' as const },
      onStrayMessage: (_m, why) => stray.push(why),
      checkIncoming: (body) => (body.type === 'run/progress' && typeof (body as { done?: unknown }).done !== 'number' ? 'done: not a number' : null),
      checkResponse: (type, body) => (type === 'webview/ready' && typeof (body as { prompt?: unknown })?.prompt !== 'string' ? 'prompt: not a string' : null),
    });
  }

  it('drops a malformed event and reports why, and passes a good one', () => {
    const posted: unknown[] = [];
    const events: HostEvent[] = [];
    const stray: string[] = [];
    const webview = checkedWebview(posted, events, stray);
    webview.handleMessage({ kind: 'event', body: { type: 'run/progress', done: 'three' } });
    webview.handleMessage({ kind: 'event', body: { type: 'run/progress', done: 3 } });
    assert.deepEqual(events, [{ type: 'run/progress', done: 3 }]);
    assert.deepEqual(stray, ['invalid event: done: not a number']);
  });

  it('answers a malformed request with bad-usage instead of calling the handler', async () => {
    const posted: { kind: string; ok?: boolean; error?: { code: string; message: string } }[] = [];
    const stray: string[] = [];
    const host = new MessageEndpoint<HostEvent, WebviewRequests, WebviewEvent, HostRequests>({
      post: (m) => posted.push(m as never),
      onEvent: () => {},
      requestHandlers: { ...defaultHandlers, 'prompt/open': () => assert.fail('the handler must not run') },
      onStrayMessage: (_m, why) => stray.push(why),
      checkIncoming: (body) => (body.type === 'prompt/open' ? 'no file given' : null),
    });
    host.handleMessage({ kind: 'request', id: 7, body: { type: 'prompt/open' } });
    await new Promise((r) => setImmediate(r));
    assert.equal(posted.length, 1);
    assert.equal(posted[0].ok, false);
    assert.equal(posted[0].error?.code, 'bad-usage');
    assert.match(posted[0].error?.message ?? '', /no file given/);
    assert.deepEqual(stray, ['invalid request: no file given']);
  });

  it('rejects a request whose answer is malformed, and resolves a good one', async () => {
    const posted: { kind: string; id: number }[] = [];
    const stray: string[] = [];
    const webview = checkedWebview(posted as unknown[], [], stray);
    const bad = webview.sendRequest({ type: 'webview/ready' });
    const good = webview.sendRequest({ type: 'webview/ready' });
    webview.handleMessage({ kind: 'response', inReplyTo: posted[0].id, ok: true, body: { prompt: 42 } });
    webview.handleMessage({ kind: 'response', inReplyTo: posted[1].id, ok: true, body: { prompt: 'a fox' } });
    const error = await rejection(bad);
    assert.equal(error.code, 'internal');
    assert.match(error.message, /answer to "webview\/ready" was malformed \(prompt: not a string\)/);
    assert.deepEqual(await good, { prompt: 'a fox' });
    assert.deepEqual(stray, ['invalid response: prompt: not a string']);
    assert.equal(webview.pendingCount, 0);
  });

  it('drops a progress chunk without a type but keeps the request alive', async () => {
    const posted: { id: number }[] = [];
    const stray: string[] = [];
    const webview = checkedWebview(posted as unknown[], [], stray);
    const pending = webview.sendRequest({ type: 'run/start' }, { timeoutMs: 60_000 });
    webview.handleMessage({ kind: 'progress', inReplyTo: posted[0].id, body: 'not an event' });
    webview.handleMessage({ kind: 'response', inReplyTo: posted[0].id, ok: true, body: { status: 'succeeded' } });
    assert.deepEqual(await pending, { status: 'succeeded' });
    assert.deepEqual(stray, ['invalid progress: no type']);
  });
});

describe('isEnvelope', () => {
  it('accepts the four envelope kinds and rejects look-alikes', () => {
    assert.equal(isEnvelope({ kind: 'event', body: { type: 'a' } }), true);
    assert.equal(isEnvelope({ kind: 'request', id: 1, body: { type: 'a' } }), true);
    assert.equal(isEnvelope({ kind: 'progress', inReplyTo: 1, body: {} }), true);
    assert.equal(isEnvelope({ kind: 'response', inReplyTo: 1, ok: false, error: {} }), true);
    assert.equal(isEnvelope({ kind: 'request', id: '1', body: { type: 'a' } }), false);
    assert.equal(isEnvelope({ kind: 'event' }), false);
    assert.equal(isEnvelope(null), false);
    assert.equal(isEnvelope({ type: 'webview/ready' }), false);
  });
});
