/**
 * Account-wide rate limits and prediction deadlines, over real HTTP against the fake with real
 * timers (Retry-After of 1 s keeps them short). Whether a request went out inside a rate-limit
 * window is read from the fake's own log (arrival times against the windows its 429s opened),
 * never from the client's clock.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../src/core/engine';
import type { ContactSheetError } from '../../src/shared/errors';
import { generateImages } from '../../src/core/replicate/generator';
import { cancelAfterFor, formatDuration } from '../../src/core/replicate/predictionDeadline';
import { errorForPrediction } from '../../src/core/replicate/predictionErrors';
import { rateLimitDelay } from '../../src/core/replicate/retryPolicy';
import type { GenerationEvent, RateLimitWait } from '../../src/core/replicate/types';
import { startFakeReplicate, type FakeReplicate, type FakeReplicateOptions } from '../../src/sandbox/fakeReplicate/server';
import { testClient } from '../support/testClient';

const SCHNELL = 'black-forest-labs/flux-schnell';
const SCHNELL_REF = { owner: 'black-forest-labs', name: 'flux-schnell' };
const input = (seed: number) => ({ prompt: 'a lighthouse at dusk', aspect_ratio: '1:1', seed, num_outputs: 1, output_format: 'png' });
const jobs = (n: number) => Array.from({ length: n }, (_, i) => ({ index: i, seed: 100 + i }));

function rateLimitEvents(events: GenerationEvent[]): RateLimitWait[] {
  return events.flatMap((e) => (e.type === 'rate-limited' ? [e.wait] : []));
}

describe('Replicate rate limits are account-wide (real HTTP, real timers)', function () {
  this.timeout(30_000);
  let fake: FakeReplicate;
  const start = async (opts: FakeReplicateOptions = {}) => {
    fake = await startFakeReplicate({ processingMs: 60, maxImageSide: 64, ...opts });
  };
  afterEach(async () => {
    await fake?.close();
  });

  async function stormRun(format: 'seconds' | 'http-date' | 'body-only', refused: number) {
    await start();
    // Whole rounds of the four parallel creates are refused; held answers let the creates already
    // on their way arrive before each window opens, as they would at a real server.
    fake.script({ kind: 'rate-limit', lane: 'create', times: refused, retryAfterSeconds: 1, format, holdMs: 100 });
    const { client, logLines, calls } = testClient(fake, { realSleep: true });
    const events: GenerationEvent[] = [];
    const result = await generateImages(client, { models: [SCHNELL], prompt: 'a red fox in the snow', aspectRatio: '1:1', jobs: jobs(8), concurrency: 4 }, (e) => events.push(e));
    return { result, events, logLines, calls };
  }

  const storms = [
    { format: 'seconds', refused: 8, title: 'Retry-After in seconds, two rounds' },
    { format: 'http-date', refused: 4, title: 'Retry-After as an HTTP date' },
    { format: 'body-only', refused: 4, title: 'the wait named only in the error body' },
  ] as const;
  for (const { format, refused, title } of storms) {
    it(`concurrency 4 in a 429 storm (${title}): no create arrives inside a window, every image is made once`, async () => {
      const { result, events, logLines, calls } = await stormRun(format, refused);
      const refusals = fake.requests.filter((r) => r.lane === 'create' && r.status === 429);
      assert.equal(refusals.length, refused, 'the storm happened, and no create met an enforced window');
      assert.equal(fake.rateLimitWindows.length, refused);
      assert.deepEqual(fake.requestsInsideRateLimitWindows('create'), [], 'no create was sent inside an open Retry-After window');
      assert.deepEqual(result.images.map((i) => i.index), [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.deepEqual(result.failures, []);
      assert.deepEqual(fake.creates, { [SCHNELL]: 8 }, 'each image created exactly once');

      // Reported once per window, not once per refused request.
      const waits = rateLimitEvents(events);
      const windows = new Set(waits.map((w) => w.window));
      assert.ok(windows.size >= 1 && windows.size < refusals.length, `${windows.size} windows for ${refusals.length} refusals`);
      assert.equal(logLines.filter((l) => l.includes('Replicate is rate limiting this account')).length, windows.size);
      for (const w of waits) {
        assert.equal(w.lane, 'create');
        assert.equal(w.source, format === 'body-only' ? 'response-body' : 'retry-after');
        assert.ok(w.wait_ms >= 900 && w.wait_ms <= 2500, `window of ${w.wait_ms} ms for a 1 s wait`);
        if (format === 'http-date') assert.match(w.retry_after ?? '', / GMT$/);
        if (format === 'body-only') assert.equal(w.retry_after, null);
      }
      // The creates that were held say so in their call records.
      const held = calls.filter((c) => c.method === 'POST' && (c.rate_limit_wait_ms ?? 0) > 0);
      assert.ok(held.length >= 4, `${held.length} creates recorded a rate-limit wait`);
    });
  }

  it('while one image\'s create waits out a 429, the other images\' next creates wait too (not only the refused one)', async () => {
    // The first of four parallel creates is refused; the other three succeed, finish their images
    // while the window is open and would create the next ones at once if only the refused request waited.
    await start({ processingMs: 400 });
    fake.script({ kind: 'rate-limit', lane: 'create', times: 1, retryAfterSeconds: 1, holdMs: 50 });
    const { client } = testClient(fake, { realSleep: true });
    const events: GenerationEvent[] = [];
    const result = await generateImages(client, { models: [SCHNELL], prompt: 'a red fox in the snow', aspectRatio: '1:1', jobs: jobs(7), concurrency: 4 }, (e) => events.push(e));
    const [window] = fake.rateLimitWindows;
    assert.equal(fake.rateLimitWindows.length, 1);
    const during = fake.requests.filter((r) => r.at >= window.openedAt && r.at < window.until);
    assert.ok(during.some((r) => r.lane === 'other' && r.path.startsWith('/v1/predictions/')), 'the other images were polled while the create window was open');
    assert.deepEqual(fake.requestsInsideRateLimitWindows('create'), [], 'no create went out inside the window');
    const creates = fake.requests.filter((r) => r.lane === 'create');
    assert.equal(creates.filter((r) => r.at >= window.until).length, 4, 'the refused create and the next three waited for the window');
    assert.deepEqual(result.images.map((i) => i.index), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(fake.creates, { [SCHNELL]: 7 });
    assert.equal(new Set(rateLimitEvents(events).map((w) => w.window)).size, 1);
  });

  it('a 429 on a GET holds GETs only: a create goes out inside the GET window, the GET retry after it', async () => {
    await start();
    fake.script({ kind: 'rate-limit', lane: 'other', retryAfterSeconds: 1 });
    const waits: RateLimitWait[] = [];
    const { client } = testClient(fake, { realSleep: true, onRateLimit: (w) => waits.push(w) });
    const account = client.account();
    while (waits.length === 0) await new Promise((r) => setTimeout(r, 5));
    const created = await client.createPrediction({ model: SCHNELL_REF, input: input(1) });
    assert.equal((await account).username, 'fake-user');
    const [window] = fake.rateLimitWindows;
    assert.equal(window.lane, 'other');
    const create = fake.requests.find((r) => r.lane === 'create')!;
    assert.ok(create.at >= window.openedAt && create.at < window.until, 'the create was not held by the GET window');
    assert.equal(create.status, 201);
    assert.deepEqual(fake.requestsInsideRateLimitWindows('other'), [], 'no GET went out inside the GET window');
    assert.equal(fake.requests.filter((r) => r.path === '/v1/account').length, 2);
    assert.ok(created.id);
  });

  it('a 429 on a create holds creates only: a GET goes out inside the create window', async () => {
    await start();
    const seeded = fake.seedPrediction(SCHNELL, input(9));
    fake.script({ kind: 'rate-limit', lane: 'create', retryAfterSeconds: 1 });
    const waits: RateLimitWait[] = [];
    const { client } = testClient(fake, { realSleep: true, onRateLimit: (w) => waits.push(w) });
    const creating = client.createPrediction({ model: SCHNELL_REF, input: input(2) });
    while (waits.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal((await client.getPrediction(seeded)).id, seeded);
    assert.ok((await creating).id);
    const [window] = fake.rateLimitWindows;
    const get = fake.requests.find((r) => r.path === `/v1/predictions/${seeded}`)!;
    assert.ok(get.at >= window.openedAt && get.at < window.until, 'the GET was not held by the create window');
    assert.deepEqual(fake.requestsInsideRateLimitWindows('create'), []);
    assert.deepEqual(fake.creates, { [SCHNELL]: 1 });
  });

  it('abort while held at the gate: canceled before the window ends, nothing created, no create sent again', async () => {
    await start();
    fake.script({ kind: 'rate-limit', lane: 'create', retryAfterSeconds: 30 });
    const controller = new AbortController();
    const { client } = testClient(fake, { realSleep: true, onRateLimit: () => controller.abort() });
    await assert.rejects(client.createPrediction({ model: SCHNELL_REF, input: input(3) }, { signal: controller.signal }), (e: ContactSheetError) => e.code === 'canceled');
    const [window] = fake.rateLimitWindows;
    assert.ok(Date.now() < window.until, 'the cancel did not wait out the 30 s window');
    assert.equal(fake.requests.filter((r) => r.lane === 'create').length, 1);
    assert.deepEqual(fake.creates, {});
  });

  it('a cancel while the token check waits out a 429 ends the run before it starts: an action, no run folder, nothing created', async () => {
    await start();
    fake.script({ kind: 'rate-limit', lane: 'other', retryAfterSeconds: 30, format: 'body-only' });
    const dir = await mkdtemp(join(tmpdir(), 'cs-cancel-check-'));
    try {
      await writeFile(join(dir, 'fox.txt'), 'a red fox in the snow');
      const engine = createEngine({ token: fake.token, apiBaseUrl: fake.url });
      const controller = new AbortController();
      await assert.rejects(
        engine.start({ prompt: join(dir, 'fox.txt'), options: { numVariations: 2 } }, { signal: controller.signal, onEvent: () => controller.abort() }),
        (e: ContactSheetError) => e.code === 'canceled' && /before it started; nothing was spent/.test(e.message) && !!e.action,
      );
      assert.ok(Date.now() < fake.rateLimitWindows[0].until, 'the cancel did not wait out the 30 s window');
      assert.deepEqual(await readdir(dir), ['fox.txt'], 'no run folder');
      assert.deepEqual(fake.creates, {});
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('cleanup after a cancel does not wait out a window: canceled at once, the prediction left to its Cancel-After', async () => {
    await start({ processingMs: 60_000 });
    const { client, logLines } = testClient(fake, { realSleep: true });
    const created = await client.createPrediction({ model: SCHNELL_REF, input: input(4) });
    fake.script({ kind: 'rate-limit', lane: 'other', retryAfterSeconds: 30 });
    const controller = new AbortController();
    const unsubscribe = client.subscribeRateLimits(() => controller.abort());
    await assert.rejects(client.waitForPrediction(created, { signal: controller.signal }), (e: ContactSheetError) => e.code === 'canceled');
    unsubscribe();
    assert.ok(Date.now() < fake.rateLimitWindows[0].until);
    assert.deepEqual(fake.cancels, [], 'the cancel was not sent into the window');
    assert.ok(logLines.some((l) => /Could not cancel prediction .*rate limiting/.test(l)), logLines.join('\n'));
    assert.equal(fake.predictionStatuses()[0].cancelAfterMs, 11 * 60_000, 'Replicate still ends it at its deadline');
  });
});

describe('prediction deadlines (Cancel-After)', () => {
  let fake: FakeReplicate;
  afterEach(async () => {
    await fake?.close();
  });

  it('every create carries Cancel-After = the prediction timeout + 1 min, in Replicate\'s duration syntax, recorded per call', async () => {
    fake = await startFakeReplicate({ processingMs: 0 });
    const { client, calls } = testClient(fake, { predictionTimeoutMs: 4 * 60_000 });
    await client.createPrediction({ model: SCHNELL_REF, input: input(1) });
    await client.createPrediction({ model: SCHNELL_REF, input: input(2) }, {}, { timeoutMs: 90_000 });
    assert.deepEqual(fake.requests.filter((r) => r.lane === 'create').map((r) => r.cancelAfter), ['5m', '2m30s']);
    assert.deepEqual(fake.predictionStatuses().map((p) => p.cancelAfterMs), [300_000, 150_000]);
    assert.deepEqual(calls.filter((c) => c.method === 'POST').map((c) => c.cancel_after), ['5m', '2m30s']);
  });

  it('the fake ends a prediction at its deadline: aborted when it never started, canceled while running; the client reports them', async () => {
    fake = await startFakeReplicate({ processingMs: 400 });
    const longAgo = Date.now() - 10_000;
    const queued = fake.seedPrediction(SCHNELL, input(5), { createdAt: longAgo, cancelAfterMs: 5000, outcome: 'queued' });
    const running = fake.seedPrediction(SCHNELL, input(6), { createdAt: longAgo, cancelAfterMs: 5000, outcome: 'never' });
    const finishedFirst = fake.seedPrediction(SCHNELL, input(7), { createdAt: longAgo, cancelAfterMs: 5000 });
    const { client } = testClient(fake);
    const aborted = await client.getPrediction(queued);
    assert.equal(aborted.status, 'aborted');
    assert.equal(aborted.started_at, null, 'an aborted prediction never started (and is not billed)');
    assert.equal((await client.getPrediction(running)).status, 'canceled');
    assert.equal((await client.getPrediction(finishedFirst)).status, 'succeeded');
    const ended = await client.waitForPrediction(aborted);
    assert.equal(errorForPrediction(ended).code, 'prediction-aborted', 'an image whose prediction was aborted can move to a fallback model');
  });

  it('the fake refuses a Cancel-After it cannot read or under 5 s, as Replicate documents', async () => {
    fake = await startFakeReplicate({ processingMs: 0 });
    const send = (value: string) =>
      fetch(`${fake.url}/v1/models/black-forest-labs/flux-schnell/predictions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${fake.token}`, 'Content-Type': 'application/json', 'Cancel-After': value },
        body: JSON.stringify({ input: input(1) }),
      });
    assert.equal((await send('4s')).status, 400);
    assert.equal((await send('soon')).status, 400);
    assert.equal((await send('1h30m45s')).status, 201);
    assert.equal((await send('30')).status, 201);
    assert.deepEqual(fake.predictionStatuses().map((p) => p.cancelAfterMs), [5_445_000, 30_000]);
  });
});

describe('rate-limit and deadline parsing', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');

  it('reads the wait from Retry-After (seconds or date), a reset header, or the error body', () => {
    assert.deepEqual(rateLimitDelay(new Headers({ 'retry-after': '3' }), '', now), { ms: 3000, source: 'retry-after', retryAfter: '3' });
    assert.deepEqual(rateLimitDelay(new Headers({ 'retry-after': 'Tue, 24 Nov 2026 12:00:09 GMT' }), '', now), { ms: 9000, source: 'retry-after', retryAfter: 'Tue, 24 Nov 2026 12:00:09 GMT' });
    assert.deepEqual(rateLimitDelay(new Headers({ 'retry-after': 'Tue, 24 Nov 2026 11:59:00 GMT' }), '', now)?.ms, 0, 'a date in the past means now');
    assert.deepEqual(rateLimitDelay(new Headers({ 'ratelimit-reset': '12' }), '', now), { ms: 12_000, source: 'rate-limit-reset', retryAfter: null });
    const body = JSON.stringify({ detail: 'Request was throttled. Your rate limit resets in ~30s.' });
    assert.deepEqual(rateLimitDelay(new Headers(), body, now), { ms: 30_000, source: 'response-body', retryAfter: null });
    assert.equal(rateLimitDelay(new Headers(), '{"detail":"Request was throttled. Expected available in 2 seconds."}', now)?.ms, 2000);
    assert.equal(rateLimitDelay(new Headers({ 'retry-after': 'soon' }), '{"detail":"Too many requests"}', now), undefined);
  });

  it('writes Replicate\'s duration syntax', () => {
    assert.equal(formatDuration(90), '1m30s');
    assert.equal(formatDuration(3600), '1h');
    assert.equal(formatDuration(5445), '1h30m45s');
    assert.equal(formatDuration(2), '5s', 'never under the 5 s minimum');
    assert.equal(cancelAfterFor(10 * 60_000), '11m');
    assert.equal(cancelAfterFor(1500), '1m2s');
  });
});
