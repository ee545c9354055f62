import { strict as assert } from 'node:assert';
import type { ContactSheetError } from '../../src/shared/errors';
import { ReplicateClient } from '../../src/core/replicate/client';
import { canonicalJson } from '../../src/core/replicate/createLookup';
import { formatModelRef, parseModelRef } from '../../src/core/replicate/modelRef';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, parseRetryAfter, serverRequestedDelayMs } from '../../src/core/replicate/retryPolicy';
import { startFakeReplicate, type FakeReplicate } from '../../src/sandbox/fakeReplicate/server';
import { testClient } from '../support/testClient';

const SDXL_VERSION = '7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc';

describe('Replicate client basics', () => {
  describe('parseModelRef', () => {
    it('accepts owner/name and owner/name:version', () => {
      assert.deepEqual(parseModelRef('black-forest-labs/flux-schnell'), { owner: 'black-forest-labs', name: 'flux-schnell' });
      assert.deepEqual(parseModelRef(` stability-ai/sdxl:${SDXL_VERSION} `), { owner: 'stability-ai', name: 'sdxl', version: SDXL_VERSION });
      assert.equal(formatModelRef(parseModelRef(`stability-ai/sdxl:${SDXL_VERSION}`)), `stability-ai/sdxl:${SDXL_VERSION}`);
    });
    for (const bad of ['flux-schnell', 'a/b/c', '/name', 'owner/', 'owner/name:v1', `o/n:${SDXL_VERSION}:x`, 'own er/name', '']) {
      it(`rejects ${JSON.stringify(bad)} with bad-usage`, () => {
        assert.throws(() => parseModelRef(bad), (e: ContactSheetError) => e.code === 'bad-usage' && /owner\/name/.test(e.action ?? ''));
      });
    }
  });

  describe('retry policy', () => {
    it('full jitter stays within [0, min(cap, base·2^n))', () => {
      const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
      assert.equal(backoffDelayMs(p, 0, () => 0), 0);
      assert.equal(backoffDelayMs(p, 2, () => 0.999999), 399);
      assert.equal(backoffDelayMs(p, 10, () => 0.999999), 999);
    });
    it('parses Retry-After seconds, dates and rate-limit resets', () => {
      const now = Date.parse('2026-11-24T12:00:00Z');
      assert.equal(parseRetryAfter('12', now), 12_000);
      assert.equal(parseRetryAfter('Tue, 24 Nov 2026 12:00:45 GMT', now), 45_000);
      assert.equal(parseRetryAfter('Tue, 24 Nov 2026 11:00:00 GMT', now), 0);
      assert.equal(parseRetryAfter('soon', now), undefined);
      assert.equal(serverRequestedDelayMs(new Headers({ 'x-ratelimit-reset': String(now / 1000 + 5) }), now), 5000);
      assert.equal(serverRequestedDelayMs(new Headers({ 'retry-after': '2', 'ratelimit-reset': '9' }), now), 2000);
      assert.equal(serverRequestedDelayMs(new Headers({}), now), undefined);
    });
    it('compares inputs regardless of key order', () => {
      assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }), canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }));
      assert.notEqual(canonicalJson({ seed: 1 }), canonicalJson({ seed: 2 }));
    });
  });

  describe('over HTTP', () => {
    let fake: FakeReplicate;
    beforeEach(async () => {
      fake = await startFakeReplicate({ processingMs: 0, pageSize: 2 });
    });
    afterEach(async () => {
      await fake.close();
    });

    it('refuses to start without a token (token-missing)', () => {
      assert.throws(() => new ReplicateClient({ token: '' }), (e: ContactSheetError) => e.code === 'token-missing' && !!e.action);
    });

    it('checks the token with GET /v1/account, sending it as a Bearer token', async () => {
      const { client, calls } = testClient(fake, { baseUrl: fake.url + '/' });
      const account = await client.account();
      assert.equal(account.username, 'fake-user');
      assert.equal(fake.requests[0].authorized, true);
      assert.equal(calls[0].method, 'GET');
      assert.equal(calls[0].path, '/v1/account');
      assert.equal(calls[0].status, 200);
      assert.equal(calls[0].attempt, 0);
      assert.ok(calls[0].duration_ms >= 0 && !Number.isNaN(Date.parse(calls[0].started_at)));
    });

    it('reads a model with its latest version, or a pinned version', async () => {
      const { client } = testClient(fake);
      const latest = await client.getModel(parseModelRef('black-forest-labs/flux-schnell'));
      assert.ok(latest.version?.openapi_schema?.components?.schemas?.Input);
      const pinned = await client.getModel(parseModelRef(`stability-ai/sdxl:${SDXL_VERSION}`));
      assert.equal(pinned.version?.id, SDXL_VERSION);
      assert.ok(fake.requests.some((r) => r.path === `/v1/models/stability-ai/sdxl/versions/${SDXL_VERSION}`));
      await assert.rejects(client.getModel(parseModelRef(`stability-ai/sdxl:${'0'.repeat(64)}`)), (e: ContactSheetError) => e.code === 'model-not-found');
    });

    it('creates, gets, cancels and lists predictions; records carry prediction ids', async () => {
      const { client, calls } = testClient(fake);
      const ids: string[] = [];
      for (let seed = 0; seed < 3; seed++) {
        const p = await client.createPrediction({ model: { owner: 'black-forest-labs', name: 'flux-schnell' }, input: { prompt: 'p', seed } }, { imageIndex: seed });
        ids.push(p.id);
        assert.equal(calls[calls.length - 1].prediction_id, p.id);
        assert.equal(calls[calls.length - 1].image_index, seed);
      }
      const got = await client.getPrediction(ids[0]);
      assert.equal(got.status, 'succeeded');
      assert.ok(Array.isArray(got.output));
      const canceled = await client.cancelPrediction(ids[1]);
      assert.equal(canceled.id, ids[1]);
      assert.deepEqual(fake.cancels, [ids[1]]);
      const first = await client.listPredictions();
      assert.equal(first.results.length, 2);
      assert.ok(first.next);
      const second = await client.listPredictions(first.next!);
      assert.deepEqual([...first.results, ...second.results].map((p) => p.id), [...ids].reverse(), 'newest first across pages');
      assert.equal(second.next, null);
    });

    it('official models go to the model endpoint, community ones need a version', async () => {
      const { client } = testClient(fake);
      await client.createPrediction({ model: { owner: 'black-forest-labs', name: 'flux-schnell' }, input: { prompt: 'p' } });
      await client.createPrediction({ model: { owner: 'stability-ai', name: 'sdxl' }, version: SDXL_VERSION, input: { prompt: 'p' } });
      const posts = fake.requests.filter((r) => r.method === 'POST').map((r) => r.path);
      assert.deepEqual(posts, ['/v1/models/black-forest-labs/flux-schnell/predictions', '/v1/predictions']);
    });
  });
});
