/**
 * Broken outputs at the run level: a corrupt image, a truncated one and an expired link (403, as a
 * signed URL answers once it expired) among good ones. The run keeps the good images, records each
 * broken one with its reason and action, and a resume makes only the expired one again (its
 * prediction's file is gone) — the corrupt and truncated ones are not paid for a second time.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createEngine } from '../../src/core/engine';
import { startFakeReplicate, type FakeReplicate } from '../../src/sandbox/fakeReplicate/server';
import { inProcessScorer } from '../../src/sandbox/inProcessScorer';
import { checkSchema, TRACE_SPEC } from '../support/runSchema';

describe('corrupt, truncated and expired outputs in a run', function () {
  this.timeout(60_000);
  let root: string;
  let fake: FakeReplicate;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'cs-outputs-'));
    fake = await startFakeReplicate({ processingMs: 30, maxImageSide: 128 });
  });
  after(async () => {
    await fake?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('keeps the good images, records why each broken one failed, and resume remakes only the expired one', async () => {
    const promptPath = join(root, 'prompt.txt');
    await writeFile(promptPath, 'A lighthouse in a storm');
    // Predictions are created one at a time, so the n-th scripted problem hits image n.
    fake.script({ kind: 'output', problem: 'corrupt' }, { kind: 'output', problem: 'truncated' }, { kind: 'output', problem: 'forbidden' });
    const engine = createEngine({ token: fake.token, apiBaseUrl: fake.url, createScorer: (config) => inProcessScorer(config), pollIntervalMs: 10 });
    const options = { numVariations: 4, seed: 10, concurrency: 1, fallbackModels: [], disabledMetrics: ['pickscore' as const, 'clip_score' as const, 'aesthetic' as const, 'vqascore' as const] };
    const run = await engine.start({ prompt: promptPath, outputDir: join(root, 'run'), options });
    assert.equal(run.status, 'partial');
    const trace = JSON.parse(await readFile(join(run.runDir, 'generation_trace.json'), 'utf8'));
    assert.deepEqual(checkSchema(trace, TRACE_SPEC), []);
    assert.deepEqual(
      run.trace.images.map((i) => [i.status, i.error?.code ?? null]),
      [['failed', 'output-invalid'], ['failed', 'output-invalid'], ['failed', 'output-expired'], ['scored', null]],
    );
    for (const img of run.trace.images.filter((i) => i.error)) assert.ok(img.error?.action, `image ${img.index} says what to do`);
    assert.ok((await sharp(join(run.runDir, run.trace.images[3].file as string)).metadata()).width, 'the good image is kept');
    assert.match(run.trace.error?.action ?? '', /contact-sheet resume/);

    const creates = fake.creates['black-forest-labs/flux-schnell'];
    const resumed = await engine.resume(run.runDir);
    assert.ok(!('alreadyFinished' in resumed));
    assert.equal(fake.creates['black-forest-labs/flux-schnell'] - creates, 1, 'only the expired image is made again');
    assert.deepEqual(resumed.trace.images.map((i) => i.status), ['failed', 'failed', 'scored', 'scored']);
    assert.notEqual(resumed.trace.images[2].prediction_id, run.trace.images[2].prediction_id);
  });
});
