/**
 * Disk full on a real small file system: a 2 MB tmpfs (mounted here as root; skipped, saying why,
 * where mounting is not permitted) nearly filled, so a run's images stop fitting part-way. The run
 * must end with a clear disk-full error and its action, keep every image it finished, leave a
 * valid trace saying so, and — once space is freed — resume without paying for anything twice.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createEngine } from '../../src/core/engine';
import type { GenerationTrace } from '../../src/core/run/trace';
import { startFakeReplicate, type FakeReplicate } from '../../src/sandbox/fakeReplicate/server';
import { isContactSheetError } from '../../src/shared/errors';
import { checkSchema, TRACE_SPEC } from '../support/runSchema';
import { inProcessScorer } from '../../src/sandbox/inProcessScorer';

describe('disk full (a real 2 MB tmpfs)', function () {
  this.timeout(120_000);
  let root: string;
  let mountPoint: string;
  let mounted = false;
  let fake: FakeReplicate;

  before(async function () {
    root = await mkdtemp(join(tmpdir(), 'cs-diskfull-'));
    mountPoint = join(root, 'small');
    await mkdir(mountPoint);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint], { stdio: 'pipe' });
      mounted = true;
    } catch (e) {
      const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim();
      console.log(`      skipped: a size-limited tmpfs cannot be mounted here (${why || 'not permitted'}); the disk-full path is then covered only by toWriteError's unit test`);
      this.skip();
    }
    fake = await startFakeReplicate({ processingMs: 30, maxImageSide: 1024 });
  });

  after(async () => {
    await fake?.close();
    if (mounted) execFileSync('umount', [mountPoint]);
    await rm(root, { recursive: true, force: true });
  });

  it('ends with disk-full and its action, keeps what finished with a valid trace, and resumes once there is room', async () => {
    const promptPath = join(root, 'prompt.txt');
    await writeFile(promptPath, 'A lighthouse in a storm');
    const runDir = join(mountPoint, 'run');
    // Leave the run's 256 KB reserve and about 90 KB more: the trace and a few 14 KB images fit, eight do not.
    const fs = await statfs(mountPoint);
    await writeFile(join(mountPoint, 'filler'), Buffer.alloc(Number(fs.bavail) * fs.bsize - (256 + 90) * 1024));
    const engine = createEngine({
      token: fake.token,
      apiBaseUrl: fake.url,
      vqascore: false,
      // Scoring is beside the point here and needs no models: every metric off, the real session.
      createScorer: (config) => inProcessScorer(config),
      pollIntervalMs: 10,
    });
    const request = { prompt: promptPath, outputDir: runDir, options: { numVariations: 8, seed: 100, concurrency: 2, disabledMetrics: ['pickscore', 'clip_score', 'aesthetic', 'vqascore'] as const } };
    let error: unknown = null;
    let status: string | null = null;
    try {
      status = (await engine.start({ ...request, options: { ...request.options, disabledMetrics: [...request.options.disabledMetrics] } })).status;
    } catch (e) {
      error = e;
    }

    const trace = JSON.parse(await readFile(join(runDir, 'generation_trace.json'), 'utf8')) as GenerationTrace;
    assert.deepEqual(checkSchema(trace, TRACE_SPEC), [], 'the trace on disk is valid');
    // The clear end: the run's own result says disk-full with what to do.
    const reported = error ?? trace.error;
    assert.ok(error === null || isContactSheetError(error), `typed: ${String(error)}`);
    assert.equal((reported as { code?: string }).code, 'disk-full', `status ${status}, error ${JSON.stringify(reported)}`);
    assert.match((reported as { action?: string }).action ?? '', /Free some disk space.*contact-sheet resume/);
    assert.equal(trace.error?.code, 'disk-full', `the trace says why the run stopped: ${trace.status} ${JSON.stringify(trace.images.map((i) => [i.status, i.error?.code]))} ${String(error)}`);
    assert.notEqual(trace.status, 'running', 'the trace is final');

    // Every image the trace calls finished is on disk and decodes; nothing half-written is left.
    const done = trace.images.filter((i) => i.status === 'generated' || i.status === 'scored');
    const traceBytes = (await readFile(join(runDir, 'generation_trace.json'))).length;
    assert.ok(
      done.length >= 1 && done.length < 8,
      `${done.length} of 8 finished before the disk was full (trace ${traceBytes} B, ${trace.api_calls.length} calls; ${trace.images.map((i) => `${i.index} ${i.status} ${i.error?.code ?? ''}`).join('; ')})`,
    );
    for (const img of done) {
      const file = [img.file, img.pending_file].find((f) => f !== null) as string;
      const onDisk = await readFile(join(runDir, img.file ?? '')).catch(() => readFile(join(runDir, img.pending_file)));
      assert.ok((await sharp(onDisk).metadata()).width, `${file} decodes`);
    }
    const all = await readdir(runDir, { recursive: true });
    assert.deepEqual(all.filter((f) => String(f).endsWith('.tmp')), [], 'no temporary files left');

    // Room again: resume finishes, paying only for images that had no prediction.
    await rm(join(mountPoint, 'filler'));
    const creates = fake.creates['black-forest-labs/flux-schnell'];
    const resumed = await engine.resume(runDir);
    assert.equal(resumed.status, 'succeeded', JSON.stringify(resumed.trace.error));
    // Nothing paid twice: one succeeded prediction per seed. A seed may also have one the stop
    // canceled on Replicate before it finished (the disk filled while it ran): resume makes that
    // image anew, as the run was stopped to keep nothing it could not store.
    const predictions = fake.predictionStatuses();
    const succeededSeeds = predictions.filter((p) => p.status === 'succeeded').map((p) => p.input.seed);
    const detail = `${JSON.stringify(predictions.map((p) => [p.input.seed, p.status]))}; first run: ${trace.images.map((i) => `${i.index} ${i.status} ${i.error?.code ?? ''}`).join('; ')}`;
    assert.deepEqual([...new Set(succeededSeeds)].sort(), [...succeededSeeds].sort(), `one succeeded prediction per seed (${detail})`);
    assert.equal(succeededSeeds.length, 8, `every image paid once (${detail})`);
    for (const p of predictions.filter((q) => q.status !== 'succeeded')) {
      assert.equal(p.status, 'canceled', `only the stop's cancels besides (${detail})`);
      const img = trace.images.find((i) => i.seed === p.input.seed);
      assert.ok(img && img.status !== 'generated' && img.status !== 'scored', `a canceled prediction belonged to an image the first run did not finish (${detail})`);
    }
    assert.ok(fake.creates['black-forest-labs/flux-schnell'] - creates <= 8 - trace.images.filter((i) => i.prediction_id).length);
  });
});
