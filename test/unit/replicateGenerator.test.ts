import { strict as assert } from 'node:assert';
import type { ContactSheetError } from '../../src/shared/errors';
import { generateImages } from '../../src/core/replicate/generator';
import type { GenerationEvent, GenerationRequest, ImageJob } from '../../src/core/replicate/types';
import { startFakeReplicate, type FakeReplicate, type FakeReplicateOptions } from '../../src/sandbox/fakeReplicate/server';
import { testClient } from '../support/testClient';
import { waitUntil } from '../support/waitUntil';

const SCHNELL = 'black-forest-labs/flux-schnell';
const DEV = 'black-forest-labs/flux-dev';
const SDXL = 'stability-ai/sdxl';

const jobs = (n: number, base = 100): ImageJob[] => Array.from({ length: n }, (_, i) => ({ index: i, seed: base + i }));

function request(models: string[], n: number, extra: Partial<GenerationRequest> = {}): GenerationRequest {
  return { models, prompt: 'a red fox in the snow', aspectRatio: '16:9', jobs: jobs(n), concurrency: 8, ...extra };
}

function ofType<T extends GenerationEvent['type']>(events: GenerationEvent[], type: T): Extract<GenerationEvent, { type: T }>[] {
  return events.filter((e): e is Extract<GenerationEvent, { type: T }> => e.type === type);
}

describe('generateImages (real client, fake Replicate over HTTP)', () => {
  let fake: FakeReplicate;
  const start = async (opts: FakeReplicateOptions = {}) => {
    fake = await startFakeReplicate({ processingMs: 30, maxImageSide: 128, ...opts });
  };
  afterEach(async () => {
    await fake?.close();
  });

  it('one prediction per image with its own seed, events in order, cost and input recorded', async () => {
    await start();
    const { client } = testClient(fake, { realSleep: true });
    const events: GenerationEvent[] = [];
    const result = await generateImages(client, request([SCHNELL], 3), (e) => events.push(e));
    assert.deepEqual(result.images.map((i) => i.index), [0, 1, 2]);
    assert.deepEqual(result.failures, []);
    assert.deepEqual(fake.creates, { [SCHNELL]: 3 });
    for (const image of result.images) {
      assert.equal(image.input.seed, image.seed);
      assert.equal(image.input.aspect_ratio, '16:9');
      assert.equal(image.input.output_format, 'png');
      assert.equal(image.content_type, 'image/png');
      assert.equal(image.cost.usd, 0.003);
      assert.equal(image.cost.source, 'official price');
      assert.equal(image.seed_supported, true);
      assert.ok(image.prediction_id && image.created_at && image.completed_at);
      const mine = events.filter((e) => 'index' in e && e.index === image.index).map((e) => e.type);
      assert.equal(mine[0], 'prediction-created');
      assert.ok(mine.includes('prediction-status'));
    }
    const calls = ofType(events, 'api-call').map((e) => e.call);
    assert.ok(calls.some((c) => c.method === 'POST' && c.image_index === 1 && c.prediction_id), 'creates are recorded per image with their prediction id');
    assert.ok(calls.some((c) => c.cost?.usd === 0.003), 'the call that saw the finished prediction carries its cost');
    assert.notDeepEqual(result.images[0].bytes, result.images[1].bytes, 'different seeds give different images');
  });

  it('the same seed and prompt give byte-identical images across runs', async () => {
    await start();
    const { client } = testClient(fake, { realSleep: true });
    const a = await generateImages(client, request([SCHNELL], 1), () => {});
    const b = await generateImages(client, request([SCHNELL], 1), () => {});
    assert.ok(a.images[0].bytes.equals(b.images[0].bytes));
    assert.notEqual(a.images[0].prediction_id, b.images[0].prediction_id);
  });

  it('8 jobs, 2 fail: 6 images and 2 failures returned, nothing thrown', async () => {
    await start();
    fake.script({ kind: 'prediction', outcome: 'failed', error: 'CUDA out of memory', times: 2 });
    const { client } = testClient(fake, { realSleep: true });
    const events: GenerationEvent[] = [];
    const result = await generateImages(client, request([SCHNELL], 8), (e) => events.push(e));
    assert.equal(result.images.length, 6);
    assert.equal(result.failures.length, 2);
    assert.ok(result.failures.every((f) => f.error.code === 'prediction-failed' && f.error.action));
    assert.equal(ofType(events, 'image-generated').length, 6);
    assert.equal(ofType(events, 'image-failed').length, 2);
    const indices = [...result.images.map((i) => i.index), ...result.failures.map((f) => f.index)].sort((x, y) => x - y);
    assert.deepEqual(indices, [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('never runs more predictions at once than the concurrency, and runs that many', async () => {
    // Every prediction is held until the test lets it go: nothing finishes by itself, so the
    // number in flight depends on the generator alone, never on how fast the machine is.
    await start({ processingMs: 30 });
    fake.script({ kind: 'prediction', outcome: 'held', times: Infinity });
    const { client } = testClient(fake, { realSleep: true });
    let inFlight = 0;
    let most = 0;
    let created = 0;
    await generateImages(client, request([SCHNELL], 7, { concurrency: 3 }), (e) => {
      if (e.type === 'prediction-created') {
        most = Math.max(most, ++inFlight);
        created += 1;
        // A full pool (or the last job) lets the held predictions finish; a generator that ignored
        // the limit would have more creates on their way by now and go past 3.
        if (inFlight === 3 || created === 7) fake.releaseHeld();
      }
      if (e.type === 'image-generated' || e.type === 'image-failed') inFlight--;
    });
    assert.equal(most, 3);
    assert.deepEqual(fake.creates, { [SCHNELL]: 7 });
  });

  it('falls back for a fallback-worthy failure, records it, and skips a model after 2 failures', async () => {
    await start();
    fake.script({ kind: 'prediction', outcome: 'failed', error: 'Internal error: model crashed', model: DEV, times: Infinity });
    const { client } = testClient(fake, { realSleep: true });
    const events: GenerationEvent[] = [];
    const result = await generateImages(client, request([DEV, SCHNELL], 4, { concurrency: 1 }), (e) => events.push(e));
    assert.equal(result.images.length, 4);
    assert.ok(result.images.every((i) => i.model === SCHNELL));
    assert.deepEqual(fake.creates, { [DEV]: 2, [SCHNELL]: 4 });
    assert.deepEqual(result.images.map((i) => i.fallbacks.length), [1, 1, 0, 0]);
    assert.ok(result.images[2].notes?.some((n) => n.startsWith(`${DEV} was skipped`)), 'the skip is explained');
    assert.equal(result.images[0].fallbacks[0].model, DEV);
    assert.equal(result.images[0].fallbacks[0].error.code, 'prediction-failed');
    const fallbacks = ofType(events, 'fallback');
    assert.deepEqual(fallbacks.map((f) => [f.index, f.from, f.to]), [[0, DEV, SCHNELL], [1, DEV, SCHNELL]]);
  });

  it('a model that does not exist falls back, its lookup is made once', async () => {
    await start();
    const { client } = testClient(fake, { realSleep: true });
    const result = await generateImages(client, request(['nobody/missing-model', SDXL], 2, { concurrency: 1 }), () => {});
    assert.equal(result.images.length, 2);
    assert.equal(result.images[0].model, SDXL);
    assert.equal(result.images[0].fallbacks[0].error.code, 'model-not-found');
    assert.equal(fake.requests.filter((r) => r.path === '/v1/models/nobody/missing-model').length, 1);
    // sdxl is a community model: pinned to its latest version, priced by predict_time × GPU price.
    assert.equal(result.images[0].version, '7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc');
    assert.equal(result.images[0].cost.source, 'predict_time × GPU price');
    assert.deepEqual([result.images[0].input.width, result.images[0].input.height], [1344, 768]);
  });

  it('a content-policy refusal is reported and not retried on the fallback', async () => {
    await start();
    fake.script({ kind: 'prediction', outcome: 'failed', error: 'NSFW content detected. Try running it again, or try a different prompt.' });
    const { client } = testClient(fake, { realSleep: true });
    const events: GenerationEvent[] = [];
    const result = await generateImages(client, request([SCHNELL, SDXL], 1), (e) => events.push(e));
    assert.equal(result.images.length, 0);
    assert.equal(result.failures[0].error.code, 'prediction-refused');
    assert.equal(ofType(events, 'fallback').length, 0);
    assert.deepEqual(fake.creates, { [SCHNELL]: 1 });
  });

  it('every model failing gives all-models-failed with each reason', async () => {
    await start();
    fake.script({ kind: 'prediction', outcome: 'aborted', error: 'worker lost', times: Infinity });
    const { client } = testClient(fake, { realSleep: true });
    const result = await generateImages(client, request([SCHNELL, SDXL], 1), () => {});
    assert.equal(result.failures[0].error.code, 'all-models-failed');
    assert.match(result.failures[0].error.message, /flux-schnell \(prediction-aborted\).*sdxl \(prediction-aborted\)/);
  });

  it('an invalid token stops the whole run with token-invalid and creates nothing', async () => {
    await start();
    const { client } = testClient(fake, { realSleep: true, token: 'r8_wrongwrongwrongwrong0000' });
    await assert.rejects(generateImages(client, request([SCHNELL, SDXL], 4), () => {}), (e: ContactSheetError) => e.code === 'token-invalid' && /^Set a valid token/.test(e.action ?? ''));
    assert.deepEqual(fake.creates, {});
  });

  it('running out of credit mid-run stops it; images finished before are kept (emitted)', async () => {
    await start();
    const { client } = testClient(fake, { realSleep: true });
    const generated: number[] = [];
    const run = generateImages(client, request([SCHNELL, SDXL], 5, { concurrency: 1 }), (e) => {
      if (e.type !== 'image-generated') return;
      generated.push(e.image.index);
      if (generated.length === 2) fake.script({ kind: 'http', method: 'POST', status: 402, times: Infinity });
    });
    await assert.rejects(run, (e: ContactSheetError) => e.code === 'insufficient-credit');
    assert.deepEqual(generated, [0, 1]);
    assert.deepEqual(fake.creates, { [SCHNELL]: 2 }, 'no fallback is tried for a credit error');
  });

  it('cancel mid-run cancels the predictions in flight on Replicate and keeps finished images', async () => {
    await start({ processingMs: 30 });
    fake.script({ kind: 'prediction', outcome: 'never', times: 3 });
    const { client } = testClient(fake, { realSleep: true });
    const controller = new AbortController();
    const events: GenerationEvent[] = [];
    const run = generateImages(client, request([SCHNELL, SDXL], 6, { concurrency: 6, signal: controller.signal }), (e) => {
      events.push(e);
      if (e.type === 'image-generated' && ofType(events, 'image-generated').length === 3) controller.abort();
    });
    await assert.rejects(run, (e: ContactSheetError) => e.code === 'canceled');
    const stuck = fake.predictionStatuses().filter((p) => p.status === 'canceled').map((p) => p.id).sort();
    assert.equal(stuck.length, 3);
    assert.deepEqual([...fake.cancels].sort(), stuck);
    assert.equal(ofType(events, 'image-generated').length, 3);
    const cancelCalls = ofType(events, 'api-call').filter((e) => e.call.path.endsWith('/cancel'));
    assert.equal(cancelCalls.length, 3, 'each cancel is recorded');
    assert.deepEqual(fake.creates, { [SCHNELL]: 6 }, 'no fallback after a cancel');
  });

  it('a cancel after a prediction succeeded still delivers its image', async () => {
    await start({ fileLatencyMs: 200 });
    const { client } = testClient(fake, { realSleep: true });
    const controller = new AbortController();
    const events: GenerationEvent[] = [];
    const run = generateImages(client, request([SCHNELL], 1, { signal: controller.signal }), (e) => {
      events.push(e);
      if (e.type === 'prediction-status' && e.status === 'succeeded') controller.abort();
    });
    await assert.rejects(run, (e: ContactSheetError) => e.code === 'canceled' && /after 1 of 1/.test(e.message));
    assert.equal(ofType(events, 'image-generated').length, 1);
    assert.equal(fake.cancels.length, 0, 'nothing left to cancel');
  });

  it('resume adopts an existing prediction instead of creating one', async () => {
    await start();
    const { client } = testClient(fake, { realSleep: true });
    const id = fake.seedPrediction(SCHNELL, { prompt: 'a red fox in the snow', aspect_ratio: '16:9', seed: 100, num_outputs: 1, output_format: 'png' });
    const result = await generateImages(client, request([SCHNELL], 1, { jobs: [{ index: 0, seed: 100, existingPredictionId: id, existingModel: SCHNELL }] }), () => {});
    assert.equal(result.images[0].prediction_id, id);
    assert.deepEqual(fake.creates, {});
    const fresh = await generateImages(client, request([SCHNELL], 1), () => {});
    assert.ok(fresh.images[0].bytes.equals(result.images[0].bytes), 'the adopted image is the one that seed gives');
  });

  it('resume of a prediction whose output expired makes the image again', async () => {
    await start();
    fake.script({ kind: 'output', problem: 'expired' });
    const id = fake.seedPrediction(SCHNELL, { prompt: 'a red fox in the snow', seed: 100 });
    const { client } = testClient(fake, { realSleep: true });
    const result = await generateImages(client, request([SCHNELL], 1, { jobs: [{ index: 0, seed: 100, existingPredictionId: id }] }), () => {});
    assert.equal(result.images.length, 1);
    assert.notEqual(result.images[0].prediction_id, id);
    assert.deepEqual(fake.creates, { [SCHNELL]: 1 });
  });

  it('resume of a prediction Replicate no longer has (404) or whose data was removed makes the image again', async () => {
    await start();
    fake.script({ kind: 'output', problem: 'removed' });
    const removed = fake.seedPrediction(SCHNELL, { prompt: 'a red fox in the snow', seed: 101 });
    const { client } = testClient(fake, { realSleep: true });
    const result = await generateImages(
      client,
      request([SCHNELL], 2, { jobs: [{ index: 0, seed: 100, existingPredictionId: 'doesnotexist0000000000000' }, { index: 1, seed: 101, existingPredictionId: removed }] }),
      () => {},
    );
    assert.deepEqual(result.failures, []);
    assert.deepEqual(result.images.map((i) => i.seed), [100, 101]);
    assert.ok(result.images.every((i) => i.prediction_id !== removed));
    assert.deepEqual(fake.creates, { [SCHNELL]: 2 });
  });

  it('a model without a seed input is recorded as not reproducible', async () => {
    await start();
    const { client } = testClient(fake, { realSleep: true });
    const result = await generateImages(client, request(['google/imagen-4'], 1), () => {});
    const image = result.images[0];
    assert.equal(image.seed_supported, false);
    assert.ok(!('seed' in image.input));
    assert.ok(image.notes?.some((n) => /not reproducible/.test(n)));
    assert.equal(image.cost.usd, 0.04);
  });

  it('a bad model reference is a bad-usage error before any call', async () => {
    await start();
    const { client } = testClient(fake, { realSleep: true });
    await assert.rejects(generateImages(client, request(['flux-schnell'], 1), () => {}), (e: ContactSheetError) => e.code === 'bad-usage');
    assert.equal(fake.requests.length, 0);
  });
});

describe('sync mode (Prefer: wait on create)', () => {
  let fake: FakeReplicate;
  afterEach(async () => {
    await fake?.close();
  });

  it('a create that holds until done needs no polling', async () => {
    fake = await startFakeReplicate({ processingMs: 50, maxImageSide: 64 });
    const { client } = testClient(fake, { realSleep: true, preferWaitSeconds: 5 });
    const result = await generateImages(client, request([SCHNELL], 2), () => {});
    assert.equal(result.images.length, 2);
    assert.equal(fake.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/predictions/')).length, 0);
  });

  it('cancel while creates are held: the predictions they made are found and canceled, none created twice', async () => {
    fake = await startFakeReplicate({ processingMs: 50, maxImageSide: 64 });
    fake.script({ kind: 'prediction', outcome: 'never', times: 3 });
    const { client } = testClient(fake, { realSleep: true, preferWaitSeconds: 30 });
    const controller = new AbortController();
    const run = generateImages(client, request([SCHNELL, SDXL], 3, { signal: controller.signal }), () => {});
    await waitUntil(() => fake.predictionStatuses().length === 3, 'the three held creates have reached the fake');
    controller.abort();
    await assert.rejects(run, (e: ContactSheetError) => e.code === 'canceled');
    assert.deepEqual(fake.creates, { [SCHNELL]: 3 });
    assert.deepEqual(fake.predictionStatuses().map((p) => p.status), ['canceled', 'canceled', 'canceled']);
    assert.equal(new Set(fake.cancels).size, 3);
  });
});
