import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import type { ContactSheetError } from '../../src/shared/errors';
import type { ReplicateClient } from '../../src/core/replicate/client';
import type { Prediction } from '../../src/core/replicate/apiTypes';
import type { RateLimitWait } from '../../src/core/replicate/types';
import { errorForPrediction } from '../../src/core/replicate/predictionErrors';
import { startFakeReplicate, type FakeReplicate, type FakeReplicateOptions } from '../../src/sandbox/fakeReplicate/server';
import { testClient } from '../support/testClient';

const SCHNELL = { owner: 'black-forest-labs', name: 'flux-schnell' };
const SCHNELL_CREATE = '/v1/models/black-forest-labs/flux-schnell/predictions';
const input = (seed: number) => ({ prompt: 'a lighthouse at dusk', aspect_ratio: '1:1', seed, num_outputs: 1, output_format: 'png' });

function hasCode(code: string, check?: (e: ContactSheetError) => void) {
  return (e: unknown) => {
    const err = e as ContactSheetError;
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    assert.ok(err.action && err.action.length > 10, 'error carries an action for the user');
    check?.(err);
    return true;
  };
}

function count(fake: FakeReplicate, method: string, path: string | RegExp): number {
  return fake.requests.filter((r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path))).length;
}

async function createWaitDownload(client: ReplicateClient, seed = 1): Promise<{ prediction: Prediction; bytes: Buffer }> {
  const created = await client.createPrediction({ model: SCHNELL, input: input(seed) });
  const prediction = await client.waitForPrediction(created);
  if (prediction.status !== 'succeeded') return { prediction, bytes: Buffer.alloc(0) };
  const url = (prediction.output as string[])[0];
  const file = await client.downloadOutput(url);
  return { prediction, bytes: file.bytes };
}

describe('Replicate client faults (real HTTP against the fake)', () => {
  let fake: FakeReplicate;
  const start = async (opts: FakeReplicateOptions = {}) => {
    fake = await startFakeReplicate({ processingMs: 0, ...opts });
  };
  afterEach(async () => {
    await fake?.close();
  });

  describe('HTTP errors map to typed errors with an action', () => {
    it('401: token-invalid, not retried, token never in messages, logs or records', async () => {
      await start();
      const badToken = 'r8_NotTheRightToken9876543210zyx';
      const { client, logLines, calls } = testClient(fake, { token: badToken });
      await assert.rejects(client.account(), hasCode('token-invalid', (e) => {
        assert.match(e.action!, /^Set a valid token/);
        assert.ok(!e.message.includes(badToken));
      }));
      assert.equal(count(fake, 'GET', '/v1/account'), 1);
      assert.equal(calls.length, 1);
      assert.equal(calls[0].status, 401);
      const everything = JSON.stringify(calls) + logLines.join('\n');
      assert.ok(logLines.length > 0, 'the call was logged');
      assert.ok(!everything.includes(badToken), 'token leaked into records or logs');
    });

    it('402 on create: insufficient-credit, not retried', async () => {
      await start();
      fake.script({ kind: 'http', method: 'POST', path: SCHNELL_CREATE, status: 402 });
      const { client } = testClient(fake);
      await assert.rejects(client.createPrediction({ model: SCHNELL, input: input(1) }), hasCode('insufficient-credit'));
      assert.equal(count(fake, 'POST', SCHNELL_CREATE), 1);
      assert.equal(count(fake, 'GET', '/v1/predictions'), 0, 'a definite 4xx needs no lookup');
    });

    it('403 on a model (no access): model-not-found, so a fallback can run', async () => {
      await start();
      fake.script({ kind: 'http', method: 'GET', path: '/v1/models/black-forest-labs/flux-dev', status: 403, body: { title: 'Forbidden', detail: 'You do not have permission to use this model', status: 403 } });
      const { client } = testClient(fake);
      await assert.rejects(client.getModel({ owner: 'black-forest-labs', name: 'flux-dev' }), hasCode('model-not-found', (e) => assert.match(e.message, /403.*permission/)));
    });

    it('404 on a model: model-not-found', async () => {
      await start();
      const { client } = testClient(fake);
      await assert.rejects(client.getModel({ owner: 'nobody', name: 'no-such-model' }), hasCode('model-not-found'));
      assert.equal(count(fake, 'GET', '/v1/models/nobody/no-such-model'), 1);
    });

    it('422 on create: invalid-input with invalid_fields, not retried', async () => {
      await start();
      const { client } = testClient(fake);
      await assert.rejects(
        client.createPrediction({ model: SCHNELL, input: { ...input(1), aspect_ratio: '7:3' } }),
        hasCode('invalid-input', (e) => {
          const fields = e.details?.invalid_fields as { field: string }[];
          assert.equal(fields[0].field, 'aspect_ratio');
        }),
      );
      assert.equal(count(fake, 'POST', SCHNELL_CREATE), 1);
      assert.deepEqual(fake.creates, {});
    });

    it('5xx on GET: retried with full-jitter backoff, then succeeds', async () => {
      await start();
      fake.script({ kind: 'http', method: 'GET', path: '/v1/account', status: 503, times: 2 });
      const { client, sleeps, calls } = testClient(fake);
      const account = await client.account();
      assert.equal(account.username, 'fake-user');
      // random() = 0.5: 0.5 × 500 × 2^0, 0.5 × 500 × 2^1
      assert.deepEqual(sleeps, [250, 500]);
      assert.deepEqual(calls.map((c) => [c.status, c.attempt]), [[503, 0], [503, 1], [200, 2]]);
    });

    it('5xx on GET that never clears: server-error after maxAttempts', async () => {
      await start();
      fake.script({ kind: 'http', method: 'GET', path: '/v1/account', status: 500, times: Infinity });
      const { client, sleeps } = testClient(fake, { retry: { maxAttempts: 3 } });
      await assert.rejects(client.account(), hasCode('server-error'));
      assert.equal(count(fake, 'GET', '/v1/account'), 3);
      assert.equal(sleeps.length, 2);
    });

    it('dropped connection on GET: retried', async () => {
      await start();
      fake.script({ kind: 'drop', method: 'GET', path: '/v1/account' });
      const { client, calls } = testClient(fake);
      assert.equal((await client.account()).username, 'fake-user');
      assert.equal(calls[0].status, null);
      assert.ok(calls[0].error, 'the network error is recorded');
      assert.equal(calls[1].status, 200);
    });

    it('unreachable server: network-error after retries', async () => {
      await start();
      const port = await closedPort();
      const { client, sleeps } = testClient(fake, { baseUrl: `http://127.0.0.1:${port}`, retry: { maxAttempts: 2 } });
      await assert.rejects(client.account(), hasCode('network-error'));
      assert.equal(sleeps.length, 1);
    });
  });

  describe('429 rate limits', () => {
    // A frozen clock makes the gate's waits exactly what the server asked for (the test client
    // records its sleeps instead of sleeping); random() = 0.5 makes the jitter on top 0.5 × backoff.
    const frozenClock = () => {
      const t = Date.now();
      return () => t;
    };

    it('honours Retry-After in seconds, with a jittered backoff on top', async () => {
      await start();
      fake.script({ kind: 'http', method: 'GET', path: '/v1/account', status: 429, headers: { 'Retry-After': '7' } });
      const { client, sleeps, calls } = testClient(fake, { now: frozenClock() });
      await client.account();
      assert.deepEqual(sleeps, [7000, 250]);
      assert.equal(calls[1].rate_limit_wait_ms, 7250, 'the retry records how long the gate held it');
    });

    it('honours Retry-After as an HTTP date', async () => {
      await start();
      const when = new Date(Date.now() + 30_000).toUTCString();
      fake.script({ kind: 'http', method: 'GET', path: '/v1/account', status: 429, headers: { 'Retry-After': when } });
      const { client, sleeps } = testClient(fake, { now: frozenClock() });
      await client.account();
      assert.equal(sleeps.length, 2);
      assert.ok(sleeps[0] > 28_000 && sleeps[0] <= 30_000, `waited ${sleeps[0]} ms for a date 30 s ahead`);
      assert.equal(sleeps[1], 250);
    });

    it('honours a rate-limit reset header when Retry-After is absent', async () => {
      await start();
      fake.script({ kind: 'http', method: 'GET', path: '/v1/account', status: 429, headers: { 'X-RateLimit-Reset': '3' } });
      const { client, sleeps } = testClient(fake, { now: frozenClock() });
      await client.account();
      assert.deepEqual(sleeps, [3000, 250]);
    });

    it('honours the reset Replicate names in the error body when no header names one', async () => {
      await start();
      fake.script({ kind: 'http', method: 'GET', path: '/v1/account', status: 429, body: { detail: 'Request was throttled. Your rate limit resets in ~4s.' } });
      const waits: RateLimitWait[] = [];
      const { client, sleeps } = testClient(fake, { now: frozenClock(), onRateLimit: (w) => waits.push(w) });
      await client.account();
      assert.deepEqual(sleeps, [4000, 250]);
      assert.deepEqual(waits.map((w) => [w.source, w.wait_ms, w.retry_after]), [['response-body', 4000, null]]);
    });

    it('without any hint the window is the un-jittered backoff, documented as default-backoff', async () => {
      await start();
      fake.script({ kind: 'http', method: 'GET', path: '/v1/account', status: 429, body: { detail: 'Too many requests' } });
      const waits: RateLimitWait[] = [];
      const { client, sleeps } = testClient(fake, { now: frozenClock(), onRateLimit: (w) => waits.push(w) });
      await client.account();
      assert.deepEqual(sleeps, [500, 250]);
      assert.equal(waits[0].source, 'default-backoff');
    });

    it('a 429 on create is retried directly (nothing was created) and creates once', async () => {
      await start();
      fake.script({ kind: 'http', method: 'POST', path: SCHNELL_CREATE, status: 429, headers: { 'Retry-After': '2' } });
      const { client, sleeps } = testClient(fake, { now: frozenClock() });
      const p = await client.createPrediction({ model: SCHNELL, input: input(3) });
      assert.ok(p.id);
      assert.deepEqual(sleeps, [2000, 250]);
      assert.equal(count(fake, 'POST', SCHNELL_CREATE), 2);
      assert.equal(count(fake, 'GET', '/v1/predictions'), 0);
      assert.deepEqual(fake.creates, { 'black-forest-labs/flux-schnell': 1 });
    });

    it('persistent 429: rate-limited after the retries, with the server-requested wait', async () => {
      await start();
      fake.script({ kind: 'http', method: 'GET', path: '/v1/account', status: 429, headers: { 'Retry-After': '1' }, times: Infinity });
      const { client, sleeps } = testClient(fake, { retry: { maxAttempts: 3 }, now: frozenClock() });
      await assert.rejects(client.account(), hasCode('rate-limited', (e) => assert.equal(e.details?.retry_after_ms, 1000)));
      // Each retry waits the window plus a jitter that grows with the retry number.
      assert.deepEqual(sleeps, [1000, 250, 1000, 500]);
    });

    it('a Retry-After beyond the limit is reported instead of obeyed, and later calls of its kind fail without being sent', async () => {
      await start();
      fake.script({ kind: 'http', method: 'GET', path: '/v1/account', status: 429, headers: { 'Retry-After': '3600' } });
      const { client, sleeps } = testClient(fake);
      await assert.rejects(client.account(), hasCode('rate-limited', (e) => assert.match(e.message, /3600 s/)));
      await assert.rejects(client.getModel(SCHNELL), hasCode('rate-limited', (e) => assert.match(e.message, /held for another 3\d{3} s/)));
      assert.deepEqual(sleeps, []);
      assert.equal(fake.requests.length, 1, 'the account is limited for an hour: nothing more was sent');
      // Creates count against their own limit and still go out.
      assert.ok((await client.createPrediction({ model: SCHNELL, input: input(4) })).id);
    });
  });

  describe('creates are never blindly repeated', () => {
    it('lost response after the create: found by lookup, not created again', async () => {
      await start();
      fake.script({ kind: 'lose-response', method: 'POST', path: SCHNELL_CREATE });
      const { client } = testClient(fake);
      const p = await client.createPrediction({ model: SCHNELL, input: input(5) });
      assert.deepEqual(fake.creates, { 'black-forest-labs/flux-schnell': 1 });
      assert.equal(count(fake, 'POST', SCHNELL_CREATE), 1);
      assert.equal(fake.predictionStatuses().length, 1);
      assert.equal(p.id, fake.predictionStatuses()[0].id);
      assert.equal(p.input.seed, 5);
    });

    it('lost response, list without inputs, ours on the third page: still found', async () => {
      await start({ pageSize: 1, listOmitsInput: true });
      // Two newer predictions of the same model with other inputs (another process, same account).
      fake.seedPrediction('black-forest-labs/flux-schnell', input(7), { createdAt: Date.now() + 5_000 });
      fake.seedPrediction('black-forest-labs/flux-schnell', input(8), { createdAt: Date.now() + 4_000 });
      fake.script({ kind: 'lose-response', method: 'POST', path: SCHNELL_CREATE });
      const { client } = testClient(fake);
      const p = await client.createPrediction({ model: SCHNELL, input: input(9) });
      assert.equal((await client.getPrediction(p.id)).input.seed, 9);
      assert.deepEqual(fake.creates, { 'black-forest-labs/flux-schnell': 1 });
      assert.equal(count(fake, 'POST', SCHNELL_CREATE), 1);
      assert.equal(count(fake, 'GET', '/v1/predictions'), 3, 'followed the cursor to the third page');
    });

    it('connection dropped before the server saw the create: looked up, then created once', async () => {
      await start();
      fake.script({ kind: 'drop', method: 'POST', path: SCHNELL_CREATE });
      const { client } = testClient(fake);
      const p = await client.createPrediction({ model: SCHNELL, input: input(10) });
      assert.ok(p.id);
      assert.equal(count(fake, 'POST', SCHNELL_CREATE), 2);
      assert.equal(count(fake, 'GET', '/v1/predictions'), 2, 'looked twice (the list can lag) before creating again');
      assert.deepEqual(fake.creates, { 'black-forest-labs/flux-schnell': 1 });
    });

    it('500 on create: looked up before the retry, one prediction in the end', async () => {
      await start();
      fake.script({ kind: 'http', method: 'POST', path: SCHNELL_CREATE, status: 500 });
      const { client } = testClient(fake);
      await client.createPrediction({ model: SCHNELL, input: input(11) });
      const order = fake.requests.map((r) => `${r.method} ${r.path}`);
      const firstList = order.indexOf('GET /v1/predictions');
      const secondPost = order.lastIndexOf(`POST ${SCHNELL_CREATE}`);
      assert.ok(firstList > 0 && firstList < secondPost, `lookup must precede the second create: ${order.join(', ')}`);
      assert.deepEqual(fake.creates, { 'black-forest-labs/flux-schnell': 1 });
    });

    it('a create answered 2xx with an unreadable body: the prediction is found, not created again', async () => {
      await start();
      fake.script({ kind: 'garble-response', method: 'POST', path: SCHNELL_CREATE });
      const { client } = testClient(fake);
      const p = await client.createPrediction({ model: SCHNELL, input: input(14) });
      assert.equal(p.input.seed, 14);
      assert.deepEqual(fake.creates, { 'black-forest-labs/flux-schnell': 1 });
      assert.equal(count(fake, 'POST', SCHNELL_CREATE), 1);
    });

    it('a create answered 2xx that cannot be found is reported, never sent again', async () => {
      await start();
      fake.script({ kind: 'http', method: 'POST', path: SCHNELL_CREATE, status: 201, rawBody: '<html>ok</html>' });
      const { client } = testClient(fake);
      await assert.rejects(client.createPrediction({ model: SCHNELL, input: input(15) }), hasCode('server-error'));
      assert.equal(count(fake, 'POST', SCHNELL_CREATE), 1);
    });

    it('a GET answered 200 with an unreadable body is retried', async () => {
      await start();
      fake.script({ kind: 'garble-response', method: 'GET', path: '/v1/account' });
      const { client, sleeps } = testClient(fake);
      assert.equal((await client.account()).username, 'fake-user');
      assert.equal(sleeps.length, 1);
    });

    it('a pinned version is created via /v1/predictions and its lost response is found too', async () => {
      await start();
      const version = '7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc';
      fake.script({ kind: 'lose-response', method: 'POST', path: '/v1/predictions' });
      const { client } = testClient(fake);
      const p = await client.createPrediction({ model: { owner: 'stability-ai', name: 'sdxl' }, version, input: { prompt: 'x', seed: 1, width: 1024, height: 1024 } });
      assert.equal(p.version, version);
      assert.deepEqual(fake.creates, { 'stability-ai/sdxl': 1 });
    });
  });

  describe('predictions that end without an image', () => {
    const cases: [string, { outcome: 'failed' | 'canceled' | 'aborted'; error?: string }][] = [
      ['prediction-failed', { outcome: 'failed', error: 'CUDA out of memory' }],
      ['prediction-refused', { outcome: 'failed', error: 'NSFW content detected. Try running it again, or try a different prompt.' }],
      ['prediction-refused', { outcome: 'failed', error: 'The input or output was flagged as sensitive. Please try again with different inputs. (E005)' }],
      ['prediction-canceled', { outcome: 'canceled' }],
      ['prediction-aborted', { outcome: 'aborted', error: 'Prediction aborted by the platform' }],
    ];
    for (const [code, outcome] of cases) {
      it(`${outcome.outcome}${outcome.error ? ` "${outcome.error.slice(0, 24)}…"` : ''} → ${code}`, async () => {
        await start();
        fake.script({ kind: 'prediction', ...outcome });
        const { client } = testClient(fake);
        const { prediction } = await createWaitDownload(client);
        assert.equal(prediction.status, outcome.outcome);
        const err = errorForPrediction(prediction);
        hasCode(code)(err);
        assert.equal(err.details?.prediction_id, prediction.id);
      });
    }

    it('a never-finishing prediction times out and is canceled on the server', async () => {
      await start({ processingMs: 20 });
      fake.script({ kind: 'prediction', outcome: 'never' });
      const { client, calls } = testClient(fake, { realSleep: true, pollIntervalMs: 10, predictionTimeoutMs: 150 });
      const created = await client.createPrediction({ model: SCHNELL, input: input(12) });
      await assert.rejects(client.waitForPrediction(created), hasCode('prediction-timeout'));
      assert.deepEqual(fake.cancels, [created.id]);
      assert.equal(fake.predictionStatuses()[0].status, 'canceled');
      assert.ok(calls.some((c) => c.method === 'POST' && c.path.endsWith('/cancel') && c.status === 200), 'the cancel is recorded');
    });

    it('polls that keep failing (5xx past the retries, then 429s) are asked again: the prediction is kept, never replaced or canceled', async () => {
      await start({ processingMs: 40 });
      const poll = /^\/v1\/predictions\/[^/]+$/;
      fake.script({ kind: 'http', method: 'GET', path: poll, status: 500, times: 7 });
      fake.script({ kind: 'http', method: 'GET', path: poll, status: 429, headers: { 'Retry-After': '1' }, times: 6 });
      const { client, logLines } = testClient(fake, { retry: { maxAttempts: 3 } });
      const created = await client.createPrediction({ model: SCHNELL, input: input(14) });
      const done = await client.waitForPrediction(created);
      assert.equal(done.status, 'succeeded');
      assert.equal(done.id, created.id);
      assert.ok(count(fake, 'GET', poll) >= 14, `asked past every failed attempt (${count(fake, 'GET', poll)} polls)`);
      assert.deepEqual(fake.cancels, [], 'a poll failure is not a reason to cancel');
      assert.ok(logLines.some((l) => l.includes(`Polling prediction ${created.id} failed (server-error)`)), 'each give-up of a poll is logged');
    });

    it('a poll error that gives the prediction up (the token was revoked) cancels it first, and keeps it if it had finished', async () => {
      await start({ processingMs: 30 });
      const poll = /^\/v1\/predictions\/[^/]+$/;
      fake.script({ kind: 'http', method: 'GET', path: poll, status: 401, body: { detail: 'Invalid token.' } });
      const { client } = testClient(fake, { realSleep: true, pollIntervalMs: 120 });
      const created = await client.createPrediction({ model: SCHNELL, input: input(15) });
      // The prediction finishes meanwhile: the cancel finds it succeeded, and it is returned.
      const done = await client.waitForPrediction(created);
      assert.equal(done.status, 'succeeded');
      assert.deepEqual(fake.cancels, [created.id]);

      fake.script({ kind: 'prediction', outcome: 'never' });
      fake.script({ kind: 'http', method: 'GET', path: poll, status: 401, body: { detail: 'Invalid token.' } });
      const stuck = await client.createPrediction({ model: SCHNELL, input: input(16) });
      await assert.rejects(client.waitForPrediction(stuck), hasCode('token-invalid'));
      assert.deepEqual(fake.cancels, [created.id, stuck.id], 'given up, so canceled: it bills no longer');
      assert.equal(fake.predictionStatuses().find((p) => p.id === stuck.id)?.status, 'canceled');
    });

    it('polls through starting → processing → succeeded with growing intervals', async () => {
      await start({ processingMs: 120 });
      const { client } = testClient(fake, { realSleep: true, pollIntervalMs: 10, maxPollIntervalMs: 40 });
      const seen: string[] = [];
      const created = await client.createPrediction({ model: SCHNELL, input: input(13) });
      const done = await client.waitForPrediction(created, { onStatus: (p) => seen.push(p.status) });
      assert.equal(done.status, 'succeeded');
      assert.deepEqual(seen, ['starting', 'processing', 'succeeded']);
      assert.equal(typeof done.metrics?.predict_time, 'number');
    });
  });

  describe('a cancel never throws away a finished prediction', () => {
    it('a cancel that reaches a prediction after it succeeded returns it (it is paid for)', async () => {
      await start({ processingMs: 30 });
      const controller = new AbortController();
      const { client } = testClient(fake, { realSleep: true, pollIntervalMs: 5000 });
      const created = await client.createPrediction({ model: SCHNELL, input: input(20) });
      const waiting = client.waitForPrediction(created, { signal: controller.signal });
      while (fake.predictionStatuses()[0].status !== 'succeeded') await new Promise((r) => setTimeout(r, 5));
      controller.abort();
      assert.equal((await waiting).status, 'succeeded');
      assert.deepEqual(fake.cancels, [created.id], 'the cancel was sent; it found the prediction finished');
    });

    it('a create interrupted after its prediction succeeded hands that prediction over instead of canceled', async () => {
      await start();
      fake.script({ kind: 'lose-response', method: 'POST', path: SCHNELL_CREATE });
      const controller = new AbortController();
      // The user cancels while the client waits to look the lost create up.
      const sleep = () => {
        controller.abort();
        return Promise.reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
      };
      const { client } = testClient(fake, { realSleep: true, sleep });
      const p = await client.createPrediction({ model: SCHNELL, input: input(21) }, { signal: controller.signal });
      assert.equal(p.status, 'succeeded');
      assert.deepEqual(fake.creates, { 'black-forest-labs/flux-schnell': 1 });
      assert.deepEqual(fake.cancels, []);
    });
  });

  describe('output files', () => {
    const problems: [string, 'expired' | 'forbidden' | 'gone' | 'corrupt' | 'truncated' | 'wrong-type'][] = [
      ['output-expired', 'expired'],
      // An expired signed URL answers 403 on most storage services.
      ['output-expired', 'forbidden'],
      ['output-expired', 'gone'],
      ['output-invalid', 'corrupt'],
      ['output-invalid', 'truncated'],
      ['output-invalid', 'wrong-type'],
    ];
    for (const [code, problem] of problems) {
      it(`${problem} → ${code}`, async () => {
        await start();
        fake.script({ kind: 'output', problem });
        const { client } = testClient(fake);
        await assert.rejects(createWaitDownload(client), hasCode(code));
      });
    }

    it('a streamed body over the size limit is cut off', async () => {
      await start();
      fake.script({ kind: 'output', problem: 'huge', bytes: 4 * 1024 * 1024 });
      const { client } = testClient(fake, { maxOutputBytes: 1024 * 1024 });
      await assert.rejects(createWaitDownload(client), hasCode('output-invalid', (e) => assert.match(e.message, /limit/)));
    });

    it('a declared Content-Length over the limit is refused before reading', async () => {
      await start();
      fake.script({ kind: 'output', problem: 'huge-declared', bytes: 60 * 1024 * 1024 });
      const { client } = testClient(fake);
      await assert.rejects(createWaitDownload(client), hasCode('output-invalid', (e) => assert.match(e.message, /62914560 bytes/)));
    });

    it('downloads a valid image without sending the token to the file host', async () => {
      await start();
      const { client } = testClient(fake);
      const { bytes } = await createWaitDownload(client, 21);
      assert.deepEqual([...bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      const files = fake.requests.filter((r) => r.path.startsWith('/files/'));
      assert.equal(files.length, 1);
      assert.equal(files[0].authorized, false);
    });

    it('a 503 and a dropped connection from the file server are retried', async () => {
      await start();
      const { client, sleeps } = testClient(fake);
      const created = await client.createPrediction({ model: SCHNELL, input: input(22) });
      const done = await client.waitForPrediction(created);
      const url = (done.output as string[])[0];
      fake.script({ kind: 'http', method: 'GET', path: new URL(url).pathname, status: 503 });
      fake.script({ kind: 'drop', method: 'GET', path: new URL(url).pathname });
      const file = await client.downloadOutput(url);
      assert.equal(file.contentType, 'image/png');
      assert.deepEqual(sleeps, [250, 500]);
      assert.equal(fake.fileRequests, 3);
    });
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
