/**
 * Models without a seed input (google/imagen-4 in the fake): every image of a run sends the very
 * same input, so "find the prediction my lost create made" cannot tell images apart by input. One
 * prediction must still never be counted for two images — not by the lookup after a lost create,
 * not when a resume adopts recorded predictions, not by the kill recovery — and a prediction the
 * run already claimed (recorded in the trace's claimed_predictions) is never adopted again.
 */
import { strict as assert } from 'node:assert';
import { generateImages } from '../../src/core/replicate/generator';
import type { GenerationRequest, ImageJob } from '../../src/core/replicate/types';
import { recoverUnrecordedPredictions } from '../../src/core/run/resumeRecovery';
import { newTrace, resolveSettings } from '../../src/core/run/runPlan';
import { parsePromptText } from '../../src/core/prompt';
import { startFakeReplicate, type FakeReplicate } from '../../src/sandbox/fakeReplicate/server';
import { testClient } from '../support/testClient';

const IMAGEN = 'google/imagen-4';
const SCHNELL = 'black-forest-labs/flux-schnell';
const PROMPT = 'a lighthouse in a storm';
/** What the input adapter sends to imagen-4 for PROMPT at 16:9: no seed, so the same for every image. */
const IMAGEN_INPUT = { prompt: PROMPT, aspect_ratio: '16:9', output_format: 'png' };

function request(models: string[], jobs: ImageJob[], extra: Partial<GenerationRequest> = {}): GenerationRequest {
  return { models, prompt: PROMPT, aspectRatio: '16:9', jobs, concurrency: 1, ...extra };
}

function traceFor(models: string[], n: number, seed = 10) {
  const prompt = { ...parsePromptText(PROMPT, 'txt'), path: '/nowhere/prompt.txt', format: 'txt' as const };
  const settings = resolveSettings(prompt, { model: models[0], fallbackModels: models.slice(1), numVariations: n, seed, apiBaseUrl: 'http://127.0.0.1:1' });
  // The run started a minute ago: predictions made since belong to its time window.
  return newTrace({ prompt, settings, demo: false, estimate: null, now: new Date(Date.now() - 60_000) });
}

describe('models without a seed input: one prediction is never counted twice', function () {
  this.timeout(60_000);
  let fake: FakeReplicate;
  afterEach(async () => {
    await fake?.close();
  });

  it('a lost create on resume does not adopt the prediction another image of the run recorded', async () => {
    fake = await startFakeReplicate({ processingMs: 30, maxImageSide: 64 });
    // Image 2's prediction, recorded in the trace before the interruption.
    const recorded = fake.seedPrediction(IMAGEN, IMAGEN_INPUT);
    // Image 1's create never reaches the server (connection dropped): its outcome is unknown, so it is looked up.
    fake.script({ kind: 'drop', method: 'POST', path: /\/predictions$/ });
    const { client } = testClient(fake, { realSleep: true });
    const result = await generateImages(
      client,
      request([IMAGEN], [{ index: 0, seed: 10 }, { index: 1, seed: 11, existingPredictionId: recorded, existingModel: IMAGEN }]),
      () => {},
    );
    assert.deepEqual(result.failures, []);
    const ids = result.images.map((i) => i.prediction_id);
    assert.equal(ids[1], recorded, 'image 2 keeps its own prediction');
    assert.notEqual(ids[0], recorded, 'image 1 did not take image 2\'s prediction');
    assert.deepEqual(fake.creates, { [IMAGEN]: 1 }, 'image 1 got its own, new prediction');
  });

  it('a lost create during a run does not adopt a sibling\'s prediction whose create is still answering', async () => {
    // Prefer: wait holds each create's answer until its prediction finishes (1.5 s): a sibling's
    // prediction exists, unclaimed, while the lost create is looked up.
    fake = await startFakeReplicate({ processingMs: 1500, maxImageSide: 64 });
    fake.script({ kind: 'drop', method: 'POST', path: /\/predictions$/ });
    const { client } = testClient(fake, { realSleep: true, preferWaitSeconds: 30 });
    const result = await generateImages(client, request([IMAGEN], [{ index: 0, seed: 1 }, { index: 1, seed: 2 }, { index: 2, seed: 3 }], { concurrency: 3 }), () => {});
    assert.deepEqual(result.failures, []);
    const ids = result.images.map((i) => i.prediction_id);
    assert.equal(new Set(ids).size, 3, `three images, three predictions: ${ids.join(', ')}`);
    assert.deepEqual(fake.creates, { [IMAGEN]: 3 }, 'the dropped create made nothing; each image one create');
    assert.ok(fake.predictionStatuses().every((p) => ids.includes(p.id)), 'no prediction was left behind unused');
  });

  it('kill recovery adopts an unrecorded prediction of the same input for one pending image, never a claimed one', async () => {
    fake = await startFakeReplicate({ processingMs: 30, maxImageSide: 64 });
    const trace = traceFor([IMAGEN], 3);
    // Image 3 has its prediction recorded; another one the run made and claimed is not on any image
    // any more (its image fell back to another model); one more was created just before the kill.
    const recorded = fake.seedPrediction(IMAGEN, IMAGEN_INPUT);
    const claimedElsewhere = fake.seedPrediction(IMAGEN, IMAGEN_INPUT);
    const orphan = fake.seedPrediction(IMAGEN, IMAGEN_INPUT);
    Object.assign(trace.images[2], { status: 'created', prediction_id: recorded, model: IMAGEN });
    trace.claimed_predictions = [recorded, claimedElsewhere];
    const { client } = testClient(fake, { realSleep: true });
    const recovered = await recoverUnrecordedPredictions(client, trace);
    assert.deepEqual(recovered.map((r) => [r.index, r.prediction_id]), [[0, orphan]], 'only the unrecorded one, for one image');
    assert.equal(trace.images[0].prediction_id, orphan);
    assert.equal(trace.images[1].prediction_id, null, 'image 2 still needs its own');
    assert.ok(trace.claimed_predictions.includes(orphan), 'the adopted one is claimed from now on');
  });

  it('kill recovery never adopts again a prediction the run claimed before (seeded model, same seed)', async () => {
    fake = await startFakeReplicate({ processingMs: 30, maxImageSide: 64 });
    const trace = traceFor([SCHNELL], 1, 10);
    // The run made this prediction for image 1; its output expired, so resume needs a new one.
    const expired = fake.seedPrediction(SCHNELL, { prompt: PROMPT, aspect_ratio: '16:9', seed: 10, num_outputs: 1, output_format: 'png' });
    trace.claimed_predictions = [expired];
    const { client } = testClient(fake, { realSleep: true });
    assert.deepEqual(await recoverUnrecordedPredictions(client, trace), []);
    assert.equal(trace.images[0].prediction_id, null);
  });
});
