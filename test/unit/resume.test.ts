/**
 * `contact-sheet resume`: a run killed with SIGKILL mid-way, one canceled, and one with a
 * prediction "created by an earlier run" are finished without creating any prediction twice
 * (the fake Replicate counts creates).
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { createRunFolder } from '../../src/core/run/output';
import { readPromptFile } from '../../src/core/prompt';
import { newTrace, resolveSettings } from '../../src/core/run/runPlan';
import type { GenerationTrace } from '../../src/core/run/trace';
import { CLI_BIN, ensureCliBuilt, REPO_ROOT } from '../support/buildCli';
import { checkSchema, TRACE_SPEC } from '../support/runSchema';
import { startRunFixture, writePrompt, type RunFixture } from '../support/runFixture';
import { waitUntil } from '../support/waitUntil';

const totalCreates = (fx: RunFixture) => Object.values(fx.fake.creates).reduce((a, b) => a + b, 0);
const readTraceFile = async (dir: string) => JSON.parse(await readFile(join(dir, 'generation_trace.json'), 'utf8')) as GenerationTrace;
const finished = (t: GenerationTrace) => t.images.filter((i) => i.status === 'generated' || i.status === 'scored').length;

async function assertComplete(runDir: string, n: number): Promise<GenerationTrace> {
  const trace = await readTraceFile(runDir);
  assert.deepEqual(checkSchema(trace, TRACE_SPEC), []);
  assert.equal(trace.status, 'succeeded', JSON.stringify(trace.error));
  assert.equal(trace.images.filter((i) => i.status === 'scored').length, n);
  const files = await readdir(runDir);
  for (let r = 1; r <= n; r++) {
    const name = `image_${String(r).padStart(3, '0')}`;
    assert.ok(files.includes(`${name}.png`) && files.includes(`${name}_metadata.json`), `${name} present`);
  }
  assert.ok(files.includes('best_candidate.png') && files.includes('summary.md'));
  assert.ok(!files.includes('pending'), 'no pending images left');
  const ids = trace.images.map((i) => i.prediction_id);
  assert.equal(new Set(ids).size, n, 'one distinct prediction per image');
  return trace;
}

describe('contact-sheet resume', function () {
  this.timeout(180_000);
  let fx: RunFixture;
  let caseDirs: string[] = [];
  before(async () => {
    fx = await startRunFixture({ processingMs: 1500 });
  });
  after(async () => {
    await fx?.close();
  });
  afterEach(async () => {
    for (const d of caseDirs) await rm(d, { recursive: true, force: true });
    caseDirs = [];
  });

  async function prompt() {
    const p = await writePrompt(fx.root, 'harbor.txt', 'A quiet harbor at dawn, fishing boats');
    caseDirs.push(p.dir);
    return p;
  }

  it('finishes a run killed with SIGKILL after two images, without creating any prediction twice', async () => {
    ensureCliBuilt();
    const { dir, path } = await prompt();
    const runDir = join(dir, 'run');
    const createsBefore = totalCreates(fx);
    // Two of the four predictions are held by the fake until the test lets them go: the run
    // cannot finish before the kill, whatever the machine's speed.
    fx.fake.script({ kind: 'prediction', outcome: 'held', times: 2 });
    const child = spawn(process.execPath, [CLI_BIN, 'generate', path, '-n', '4', '--seed', '30', '--concurrency', '4', '--output-dir', runDir, ...fx.cliArgs()], {
      cwd: REPO_ROOT,
      env: fx.env(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    // "saved" is printed after the image and the trace recording it are on disk.
    await waitUntil(() => (stderr.match(/\) saved: /g) ?? []).length >= 2 || child.exitCode !== null, 'two images are saved', 120_000);
    child.kill('SIGKILL');
    const exit = await exited;
    assert.equal(exit.signal, 'SIGKILL', `killed, not ended on its own: ${stderr}`);
    assert.equal(fx.fake.releaseHeld(), 2, 'the two held predictions were still running at the kill');

    const afterKill = await readTraceFile(runDir);
    assert.equal(afterKill.status, 'running', 'the run did not get to finish');
    assert.equal(finished(afterKill), 2, 'two images were finished at the kill');
    // The held creates are still waiting for their answer (Prefer: wait): created on Replicate,
    // not yet in the trace. Resume must find them instead of paying again.
    const recorded = afterKill.images.filter((i) => i.prediction_id).map((i) => [i.index, i.prediction_id]);
    assert.equal(recorded.length, 2, 'the finished images have their predictions in the trace');
    for (const img of afterKill.images.filter((i) => i.status === 'generated' || i.status === 'scored')) {
      assert.ok(existsSync(join(runDir, img.pending_file)) || (img.file && existsSync(join(runDir, img.file))), `finished image ${img.index} kept on disk`);
    }
    assert.equal(totalCreates(fx) - createsBefore, 4);

    const io = fx.io();
    assert.equal(await main(['resume', runDir, ...fx.cliArgs()], io), 0, io.stderrText);
    const done = await assertComplete(runDir, 4);
    assert.equal(totalCreates(fx) - createsBefore, 4, 'no prediction was created twice');
    for (const [index, id] of recorded) assert.equal(done.images[index as number].prediction_id, id, 'the recorded predictions were adopted');
    assert.equal((io.stderrText.match(/adopted prediction \w+, created before the interruption/g) ?? []).length, 2, 'the two held ones were found and adopted');
    assert.equal(done.resumed_at.length, 1);
    assert.match(io.stdoutText, /Contact Sheet: succeeded: 4 of 4 images/);
    assert.match(io.stderrText, /^Resuming 4 images/m);
    assert.match(io.stderrText, /saved: pending\/seed_\d+_00\d\.png \d+×\d+ \(from before the interruption\)/, 'images on disk are shown again');

    // Resuming a finished run does nothing.
    const again = fx.io();
    const requests = fx.fake.requests.length;
    assert.equal(await main(['resume', runDir, ...fx.cliArgs()], again), 0);
    assert.match(again.stderrText, /Nothing to resume/);
    assert.equal(fx.fake.requests.length, requests);
  });

  it('adopts a prediction an earlier run created instead of paying for it again', async () => {
    const { path } = await prompt();
    const prompt0 = await readPromptFile(path);
    const settings = resolveSettings(prompt0, { numVariations: 3, seed: 70, apiBaseUrl: fx.fake.url });
    const folder = await createRunFolder({ promptPath: path });
    const trace = newTrace({ prompt: prompt0, settings, demo: false, estimate: null });
    const seeded = fx.fake.seedPrediction('black-forest-labs/flux-schnell', { prompt: prompt0.text, seed: 70, aspect_ratio: '16:9', num_outputs: 1, output_format: 'png' });
    Object.assign(trace.images[0], { status: 'created', prediction_id: seeded, model: 'black-forest-labs/flux-schnell' });
    await folder.writeJson('generation_trace.json', trace);
    const creates = fx.fake.creates['black-forest-labs/flux-schnell'] ?? 0;

    const io = fx.io();
    assert.equal(await main(['resume', folder.root, ...fx.cliArgs()], io), 0, io.stderrText);
    const done = await assertComplete(folder.root, 3);
    assert.equal(done.images[0].prediction_id, seeded);
    assert.equal((fx.fake.creates['black-forest-labs/flux-schnell'] ?? 0) - creates, 2, 'only the two missing images were created');
  });

  it('finds and adopts a prediction the killed run created but had no time to record', async () => {
    const { path } = await prompt();
    const prompt0 = await readPromptFile(path);
    const settings = resolveSettings(prompt0, { numVariations: 3, seed: 80, apiBaseUrl: fx.fake.url });
    const folder = await createRunFolder({ promptPath: path });
    const trace = newTrace({ prompt: prompt0, settings, demo: false, estimate: null });
    await folder.writeJson('generation_trace.json', trace);
    // Created on Replicate for image 2 (seed 81), but the trace never heard of it.
    const unrecorded = fx.fake.seedPrediction('black-forest-labs/flux-schnell', { prompt: prompt0.text, seed: 81, aspect_ratio: '16:9', num_outputs: 1, output_format: 'png' });
    // Someone else's prediction with another seed is left alone.
    fx.fake.seedPrediction('black-forest-labs/flux-schnell', { prompt: prompt0.text, seed: 999, aspect_ratio: '16:9', num_outputs: 1, output_format: 'png' });
    const creates = fx.fake.creates['black-forest-labs/flux-schnell'] ?? 0;

    const io = fx.io();
    assert.equal(await main(['resume', folder.root, ...fx.cliArgs()], io), 0, io.stderrText);
    assert.match(io.stderrText, new RegExp(`Image 2: adopted prediction ${unrecorded}, created before the interruption`));
    const done = await assertComplete(folder.root, 3);
    assert.equal(done.images[1].prediction_id, unrecorded);
    assert.equal((fx.fake.creates['black-forest-labs/flux-schnell'] ?? 0) - creates, 2);
  });

  it('finishes a canceled run: kept images stay, canceled ones are made again, everything is re-ranked', async () => {
    const { dir, path } = await prompt();
    const runDir = join(dir, 'run');
    const controller = new AbortController();
    const createsBefore = totalCreates(fx);
    const io = fx.io({ signal: controller.signal });
    // Cancel the moment the first image is saved (one at a time, so the other two are still running).
    const print = io.stderr;
    io.stderr = (text) => {
      print(text);
      if (/\) saved: /.test(text)) controller.abort();
    };
    const running = main(['generate', path, '-n', '3', '--seed', '90', '--concurrency', '1', '--output-dir', runDir, ...fx.cliArgs()], io);
    assert.equal(await running, 1, 'a canceled run exits 1');
    const canceled = await readTraceFile(runDir);
    assert.equal(canceled.status, 'canceled');
    const kept = canceled.images.filter((i) => i.file);
    assert.deepEqual(kept.map((i) => i.index), [0], 'the finished image was kept and ranked, the others were not finished');
    assert.ok(existsSync(join(runDir, 'image_001.png')));
    const createdBeforeResume = totalCreates(fx) - createsBefore;

    const resumed = fx.io();
    assert.equal(await main(['resume', runDir, ...fx.cliArgs()], resumed), 0, resumed.stderrText);
    const done = await assertComplete(runDir, 3);
    for (const k of kept) assert.equal(done.images[k.index].prediction_id, k.prediction_id, 'kept images were not made again');
    // Only images without a finished prediction were created again.
    const remade = done.images.filter((i) => !kept.some((k) => k.index === i.index)).length;
    assert.equal(totalCreates(fx) - createsBefore, createdBeforeResume + remade - canceled.images.filter((i) => i.status === 'created').length);
  });

  it('a run killed while renaming to ranked names is finished with every image under the right name', async () => {
    const { dir, path } = await prompt();
    const runDir = join(dir, 'run');
    const io = fx.io();
    assert.equal(await main(['generate', path, '-n', '3', '--seed', '40', '--concurrency', '3', '--output-dir', runDir, ...fx.cliArgs()], io), 0, io.stderrText);
    const trace = await readTraceFile(runDir);
    const sha = async (file: string) => createHash('sha256').update(await readFile(join(runDir, file))).digest('hex');
    const bytesOf = new Map<string, string>();
    for (const img of trace.images) bytesOf.set(img.prediction_id as string, await sha(img.file as string));

    // As if killed in the middle of finalizing: two images still at their pending names.
    await mkdir(join(runDir, 'pending'));
    for (const img of trace.images.filter((i) => (i.rank ?? 0) >= 2)) {
      await rename(join(runDir, img.file as string), join(runDir, img.pending_file));
      await rm(join(runDir, img.metadata_file as string));
    }
    await rm(join(runDir, 'best_candidate.png'));
    await rm(join(runDir, 'summary.md'));
    await writeFile(join(runDir, 'generation_trace.json'), JSON.stringify({ ...trace, status: 'finalizing' }));
    const creates = totalCreates(fx);

    const resumed = fx.io();
    assert.equal(await main(['resume', runDir, ...fx.cliArgs()], resumed), 0, resumed.stderrText);
    const done = await assertComplete(runDir, 3);
    assert.equal(totalCreates(fx), creates, 'nothing generated again');
    for (const img of done.images) assert.equal(await sha(img.file as string), bytesOf.get(img.prediction_id as string), `image ${img.index} kept its own bytes`);
    assert.deepEqual(done.ranking?.order, trace.ranking?.order, 'same scores, same order');
    assert.equal(await sha('best_candidate.png'), await sha('image_001.png'));
  });

  it('a run whose models could not be fetched keeps its images (exit 1); resume scores them without new predictions', async () => {
    const { dir, path } = await prompt();
    const runDir = join(dir, 'run');
    const offline = ['--api-base-url', fx.fake.url, '--hub-endpoint', 'http://127.0.0.1:9', '--manifest', fx.tiny.manifestPath, '--models-dir', join(dir, 'models')];
    const io = fx.io();
    assert.equal(await main(['generate', path, '-n', '2', '--seed', '60', '--output-dir', runDir, ...offline], io), 1);
    const failed = await readTraceFile(runDir);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'scoring-failed');
    assert.match(failed.error?.message ?? '', /^No image could be scored: /);
    assert.match(failed.error?.action ?? '', /contact-sheet resume/);
    assert.deepEqual(failed.images.map((i) => i.status), ['generated', 'generated']);
    assert.ok(existsSync(join(runDir, 'image_001.png')) && existsSync(join(runDir, 'image_002.png')), 'paid images are kept');
    assert.match(io.stdoutText, /Error: \[scoring-failed\] No image could be scored/);
    const creates = totalCreates(fx);

    const resumed = fx.io();
    assert.equal(await main(['resume', runDir, '--models-dir', join(dir, 'models'), ...fx.cliArgs().filter((a, i, all) => a !== '--models-dir' && all[i - 1] !== '--models-dir')], resumed), 0, resumed.stderrText);
    const done = await assertComplete(runDir, 2);
    assert.equal(totalCreates(fx), creates, 'no new prediction');
    assert.deepEqual(done.images.map((i) => i.prediction_id), failed.images.map((i) => i.prediction_id));
  });

  it('refuses a folder that is not a run, with an action', async () => {
    const { dir } = await prompt();
    const io = fx.io();
    assert.equal(await main(['resume', dir, ...fx.cliArgs()], io), 1);
    assert.match(io.stderrText, /\[run-not-resumable\]: .* has no generation_trace\.json\.\n {2}→ /);
    const usage = fx.io();
    assert.equal(await main(['resume'], usage), 2);
  });
});
