/**
 * The run pipeline end to end through the engine API: the real Replicate generator against the
 * fake server, the real scorer (worker thread) on tiny random-weight models from the local hub.
 */
import { strict as assert } from 'node:assert';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { RunEvent } from '../../src/core/run/events';
import { RunFolder, createRunFolder } from '../../src/core/run/output';
import { readPromptFile } from '../../src/core/prompt';
import { ReplicateClient } from '../../src/core/replicate/client';
import { generateImages } from '../../src/core/replicate/generator';
import { loadPricing } from '../../src/core/replicate/pricing';
import { executeRun, type RunDeps } from '../../src/core/run/executeRun';
import { createEngine } from '../../src/core/engine';
import { newTrace, resolveSettings, seedsFrom, type RunRequestOptions } from '../../src/core/run/runPlan';
import { parsePromptText, type PromptFile } from '../../src/core/prompt';
import { createScorer } from '../../src/core/scoring/scorer';
import { startSourceScoringWorker } from '../../src/sandbox/sourceScoringWorker';
import type { GenerationTrace } from '../../src/core/run/trace';
import { DEMO_NOTICE, renderSummaryMarkdown } from '../../src/core/run/summary';
import { checkSchema, METADATA_SPEC, TRACE_SPEC } from '../support/runSchema';
import { startRunFixture, writePrompt, type RunFixture } from '../support/runFixture';
import { startFakeReplicate, type FakeReplicate } from '../../src/sandbox/fakeReplicate/server';

describe('run pipeline (fake Replicate + tiny models)', function () {
  this.timeout(120_000);
  let fx: RunFixture;
  let caseDirs: string[] = [];
  before(async () => {
    fx = await startRunFixture({ processingMs: 300 });
  });
  after(async () => {
    await fx?.close();
  });
  let scorersToDispose: { dispose(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const sc of scorersToDispose) await sc.dispose();
    scorersToDispose = [];
    for (const d of caseDirs) await rm(d, { recursive: true, force: true });
    caseDirs = [];
  });

  async function startRun(
    request: RunRequestOptions,
    hooks: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void; wrap?: (deps: RunDeps) => RunDeps; fake?: FakeReplicate } = {},
  ) {
    const fake = hooks.fake ?? fx.fake;
    const { dir, path } = await writePrompt(fx.root, 'cat.txt', 'A cat wearing a tiny golden crown');
    caseDirs.push(dir);
    const prompt = await readPromptFile(path);
    const settings = resolveSettings(prompt, { apiBaseUrl: fake.url, ...request });
    const folder = await createRunFolder({ promptPath: path });
    const trace = newTrace({ prompt, settings, demo: false, estimate: null });
    const pricing = loadPricing();
    const client = new ReplicateClient({ token: fake.token, baseUrl: fake.url, pollIntervalMs: 50 });
    const deps: RunDeps = {
      generate: (req, onEvent) => generateImages(client, req, onEvent, pricing),
      createScorer: (onProgress) =>
        createScorer(
          {
            modelsDir: fx.modelsDir,
            precision: 'fp32',
            enabled: settings.enabled_metrics,
            lowMemory: false,
            executionProviders: ['cpu'],
            intraOpNumThreads: 1,
            allowDownload: true,
            hubEndpoint: fx.hub.url,
            manifestPath: fx.tiny.manifestPath,
          },
          { onProgress, startWorker: startSourceScoringWorker },
        ),
    };
    const events: RunEvent[] = [];
    const result = await executeRun(folder, trace, hooks.wrap ? hooks.wrap(deps) : deps, {
      signal: hooks.signal,
      onEvent: (e) => {
        events.push(e);
        hooks.onEvent?.(e);
      },
    });
    const onDisk = JSON.parse(await readFile(join(folder.root, 'generation_trace.json'), 'utf8')) as GenerationTrace;
    return { result, events, folder, onDisk };
  }

  it('saves and scores each image as it arrives, ranks them and writes every file', async () => {
    const { result, events, folder, onDisk } = await startRun({ numVariations: 4, seed: 100 });
    assert.equal(result.status, 'succeeded');
    assert.deepEqual(checkSchema(onDisk, TRACE_SPEC), []);
    assert.deepEqual(onDisk.settings.seeds, [100, 101, 102, 103]);

    // Events: started first, finished last; every image saved before it is scored.
    assert.equal(events[0].type, 'run-started');
    assert.equal(events[events.length - 1].type, 'run-finished');
    for (let i = 0; i < 4; i++) {
      const saved = events.findIndex((e) => e.type === 'image-saved' && e.index === i);
      const scored = events.findIndex((e) => e.type === 'image-scored' && e.index === i);
      assert.ok(saved >= 0 && scored > saved, `image ${i}: saved at ${saved}, scored at ${scored}`);
    }
    const provisional = events.filter((e) => e.type === 'ranked' && !e.final);
    assert.equal(provisional.length, 4, 'a rank update after every scored image');
    const final = events.filter((e): e is Extract<RunEvent, { type: 'ranked' }> => e.type === 'ranked' && e.final === true);
    assert.equal(final.length, 1);

    // Ranking: overall descending, files named by rank, metadata consistent.
    const ranked = [...onDisk.images].sort((a, b) => (a.rank ?? 99) - (b.rank ?? 99));
    assert.deepEqual(onDisk.ranking?.order, ranked.map((i) => i.index));
    assert.deepEqual(final[0].order, onDisk.ranking?.order);
    for (let r = 1; r < ranked.length; r++) assert.ok((ranked[r - 1].overall ?? -1) >= (ranked[r].overall ?? -1), 'overall descending');
    const prefSum = ranked.reduce((s, i) => s + (i.preference_probability ?? 0), 0);
    assert.ok(Math.abs(prefSum - 1) < 1e-9, `preference probabilities sum to 1 (${prefSum})`);
    const files = (await readdir(folder.root)).sort();
    assert.deepEqual(files, [
      'best_candidate.png',
      'generation_trace.json',
      'image_001.png',
      'image_001_metadata.json',
      'image_002.png',
      'image_002_metadata.json',
      'image_003.png',
      'image_003_metadata.json',
      'image_004.png',
      'image_004_metadata.json',
      'summary.md',
    ]);
    for (const img of ranked) {
      const rank = img.rank as number;
      assert.equal(img.file, `image_00${rank}.png`);
      assert.equal(img.status, 'scored');
      assert.equal(img.is_best_candidate, rank === 1);
      const meta = JSON.parse(await readFile(join(folder.root, `image_00${rank}_metadata.json`), 'utf8'));
      assert.deepEqual(checkSchema(meta, METADATA_SPEC), []);
      assert.equal(meta.rank, rank);
      assert.equal(meta.seed, img.seed);
      assert.equal(meta.prediction_id, img.prediction_id);
      assert.equal(meta.is_best_candidate, rank === 1);
      assert.equal(meta.overall.value, img.overall);
      assert.deepEqual(meta.cost, { usd: 0.003, source: 'official price', pricing_date: loadPricing().date, basis: meta.cost.basis });
      for (const m of ['pickscore', 'clip_score', 'vqascore', 'aesthetic'] as const) assert.equal(typeof meta.scores[m].value, 'number', `${m} computed`);
      const info = await sharp(join(folder.root, img.file as string)).metadata();
      assert.equal(info.format, 'png');
      assert.equal(info.width, img.width);
    }
    const best = await readFile(join(folder.root, 'best_candidate.png'));
    assert.ok(best.equals(await readFile(join(folder.root, 'image_001.png'))), 'best_candidate.png is image_001.png');
    assert.equal(onDisk.costs.total_usd, 0.012);
    assert.equal(onDisk.api_calls.filter((c) => c.method === 'POST' && /\/predictions$/.test(c.path)).length, 4);
    assert.ok(onDisk.prompts.scored_text && onDisk.scoring_models?.pickscore, 'scored text and models recorded');
    const summary = await readFile(join(folder.root, 'summary.md'), 'utf8');
    assert.match(summary, /\| \*\*1\*\* \| \[image_001\.png\]\(image_001\.png\) \|/);
    assert.match(summary, /## Why the best image won/);
  });

  it('scores images while the run is still generating, and starts the models before the first prediction', async () => {
    // The last job is held back until an image has been scored: if the pipeline waited for all
    // predictions before scoring, this run could not finish (the guard below fails it instead).
    const calls: string[] = [];
    let markScored!: () => void;
    const firstScored = new Promise<void>((resolve) => (markScored = resolve));
    const { result, events } = await startRun(
      { numVariations: 3, seed: 7, concurrency: 1 },
      {
        onEvent: (e) => e.type === 'image-scored' && markScored(),
        wrap: (deps) => ({
          createScorer: (onProgress) => {
            const scorer = deps.createScorer(onProgress);
            return { ...scorer, setPrompt: (p, s) => (calls.push('setPrompt'), scorer.setPrompt(p, s)), scoreImage: (b, s) => scorer.scoreImage(b, s), describe: () => scorer.describe(), dispose: () => scorer.dispose() };
          },
          generate: async (req, onEvent) => {
            calls.push('generate');
            const head = await deps.generate({ ...req, jobs: req.jobs.slice(0, -1) }, onEvent);
            const guard = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 90_000).unref());
            assert.notEqual(await Promise.race([firstScored, guard]), 'timeout', 'no image was scored while generation was running');
            calls.push('last job');
            const tail = await deps.generate({ ...req, jobs: req.jobs.slice(-1) }, onEvent);
            return { images: [...head.images, ...tail.images], failures: [...head.failures, ...tail.failures] };
          },
        }),
      },
    );
    assert.equal(result.status, 'succeeded');
    assert.deepEqual(calls, ['setPrompt', 'generate', 'last job']);
    const firstScore = events.findIndex((e) => e.type === 'image-scored');
    const lastGenerated = events.map((e) => e.type === 'generation' && e.event.type === 'image-generated').lastIndexOf(true);
    assert.ok(firstScore < lastGenerated, `first score at event ${firstScore}, last image generated at ${lastGenerated}`);
  });

  it('a refused image makes a partial run: the others are ranked, the failure is recorded', async () => {
    fx.fake.script({ kind: 'prediction', outcome: 'failed', error: 'NSFW content detected in the output', times: 1 });
    const creates = Object.values(fx.fake.creates).reduce((a, b) => a + b, 0);
    const { result, folder, onDisk, events } = await startRun({ numVariations: 3, seed: 1, concurrency: 1 });
    assert.equal(result.status, 'partial');
    const failed = onDisk.images.filter((i) => i.status === 'failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].error?.code, 'prediction-refused');
    assert.equal(failed[0].file, null);
    assert.ok(events.some((e) => e.type === 'image-failed' && e.index === failed[0].index && e.stage === 'generate'));
    assert.equal(onDisk.images.filter((i) => i.rank !== null).length, 2);
    assert.equal(onDisk.error?.code, 'prediction-failed');
    assert.match(onDisk.error?.action ?? '', /contact-sheet resume/);
    const files = await readdir(folder.root);
    assert.ok(files.includes('image_002.png') && !files.includes('image_003.png'));
    // A refusal is not retried on the fallback model: three creates in all.
    assert.equal(Object.values(fx.fake.creates).reduce((a, b) => a + b, 0) - creates, 3);
    assert.match(await readFile(join(folder.root, 'summary.md'), 'utf8'), /## Failed images\n\n- Image \d \(seed \d, black-forest-labs\/flux-schnell\): \[prediction-refused\]/);
  });

  it('cancel stops generation, keeps and ranks what finished, and says so in the trace', async () => {
    const controller = new AbortController();
    const { result, onDisk, folder } = await startRun(
      { numVariations: 4, seed: 50, concurrency: 1 },
      { signal: controller.signal, onEvent: (e) => e.type === 'image-saved' && controller.abort() },
    );
    assert.equal(result.status, 'canceled');
    assert.equal(onDisk.status, 'canceled');
    assert.equal(onDisk.error?.code, 'canceled');
    const kept = onDisk.images.filter((i) => i.file !== null);
    assert.ok(kept.length >= 1 && kept.length < 4, `kept ${kept.length}`);
    for (const k of kept) assert.ok((await readdir(folder.root)).includes(k.file as string));
    assert.ok(onDisk.finished_at);
  });

  it('a 429 storm at concurrency 4: every image still made, no create inside a window, the wait in the events and the trace', async () => {
    // Its own fake: the storm's windows must not reach the other tests.
    const fake = await startFakeReplicate({ processingMs: 300 });
    try {
      fake.script({ kind: 'rate-limit', lane: 'create', times: 4, retryAfterSeconds: 1, holdMs: 100 });
      const { result, events, onDisk } = await startRun({ numVariations: 6, seed: 300, concurrency: 4, predictionTimeoutS: 120 }, { fake });
      assert.equal(result.status, 'succeeded');
      assert.deepEqual(checkSchema(onDisk, TRACE_SPEC), []);
      assert.equal(onDisk.images.filter((i) => i.status === 'scored').length, 6);
      assert.equal(fake.requests.filter((r) => r.lane === 'create' && r.status === 429).length, 4);
      assert.deepEqual(fake.requestsInsideRateLimitWindows('create'), []);
      const waits = events.flatMap((e) => (e.type === 'rate-limited' ? [e.wait] : []));
      assert.ok(waits.length >= 1, 'the faces heard of the wait');
      assert.deepEqual(
        onDisk.rate_limit_waits.map((w) => w.window),
        [...new Set(waits.map((w) => w.window))],
        'one trace record per window',
      );
      assert.ok(onDisk.rate_limit_waits.every((w) => w.lane === 'create' && w.source === 'retry-after' && w.retry_after === '1'));
      assert.ok(onDisk.api_calls.some((c) => c.method === 'POST' && (c.rate_limit_wait_ms ?? 0) > 0), 'held creates are marked in the call records');
      // The run's deadline: the setting, and Replicate's Cancel-After a minute later on every create.
      assert.equal(onDisk.settings.prediction_timeout_s, 120);
      assert.equal(onDisk.settings.cancel_after, '3m');
      assert.ok(fake.requests.filter((r) => r.lane === 'create').every((r) => r.cancelAfter === '3m'));
    } finally {
      await fake.close();
    }
  });

  it('cancel during a rate-limit wait ends at once: canceled, every finished image kept, nothing left running', async () => {
    const fake = await startFakeReplicate({ processingMs: 300 });
    try {
      const controller = new AbortController();
      let stormed = false;
      const { result, onDisk, folder, events } = await startRun(
        { numVariations: 6, seed: 400, concurrency: 2 },
        {
          fake,
          signal: controller.signal,
          onEvent: (e) => {
            // Once an image is in, Replicate starts refusing creates for 30 s; the user cancels as soon as the run waits.
            if (e.type === 'image-saved' && !stormed) {
              stormed = true;
              fake.script({ kind: 'rate-limit', lane: 'create', times: Infinity, retryAfterSeconds: 30, holdMs: 100 });
            }
            if (e.type === 'rate-limited') controller.abort();
          },
        },
      );
      assert.ok(Date.now() < fake.rateLimitWindows[0].until, 'the run did not wait out the 30 s window');
      assert.equal(result.status, 'canceled');
      assert.equal(onDisk.status, 'canceled');
      assert.ok(events.some((e) => e.type === 'rate-limited'));
      assert.equal(onDisk.rate_limit_waits.length, 1);
      const files = await readdir(folder.root);
      const succeeded = fake.predictionStatuses().filter((p) => p.status === 'succeeded');
      assert.ok(succeeded.length >= 1);
      for (const p of succeeded) {
        const img = onDisk.images.find((i) => i.prediction_id === p.id);
        assert.ok(img?.file && files.includes(img.file), `the finished image of prediction ${p.id} is kept (trace: ${img?.status ?? 'absent'}, file ${img?.file})`);
      }
      assert.deepEqual(fake.predictionStatuses().filter((p) => p.status === 'starting' || p.status === 'processing'), [], 'nothing left running');
    } finally {
      await fake.close();
    }
  });

  it('the engine\'s front door refuses over budget before creating anything, and runs otherwise; resume of a finished run is a no-op', async () => {
    const { dir, path } = await writePrompt(fx.root, 'cat.txt', '---\nnum_variations: 2\nseed: 5\n---\nA cat');
    caseDirs.push(dir);
    // One scorer for both runs, as the extension keeps one: the runs must not dispose it.
    let made = 0;
    let disposals = 0;
    const engine = createEngine({
      token: fx.fake.token,
      apiBaseUrl: fx.fake.url,
      pollIntervalMs: 50,
      modelsDir: fx.modelsDir,
      hubEndpoint: fx.hub.url,
      manifestPath: fx.tiny.manifestPath,
      intraOpNumThreads: 1,
      keepScorerLoaded: true,
      createScorer: (config, hooks) => {
        made++;
        const real = createScorer(config, { ...hooks, startWorker: startSourceScoringWorker });
        return { setPrompt: (p, s) => real.setPrompt(p, s), scoreImage: (b, s) => real.scoreImage(b, s), describe: () => real.describe(), dispose: async () => (disposals++, real.dispose()) };
      },
    });
    scorersToDispose.push(engine);
    await assert.rejects(engine.start({ prompt: path, options: { budgetUsd: 0.001 } }), (e: { code?: string }) => e.code === 'budget-exceeded');
    assert.deepEqual((await readdir(dir)).sort(), ['cat.txt']);
    const result = await engine.start({ prompt: path, options: { disabledMetrics: ['vqascore'], precision: 'int8' }, outputDir: join(dir, 'out') });
    assert.equal(result.status, 'succeeded');
    assert.equal(result.runDir, join(dir, 'out'));
    assert.equal(result.trace.api_calls[0]?.path, '/v1/account', 'the token check before the run is the first recorded call');
    assert.deepEqual(result.trace.settings.seeds, [5, 6]);
    assert.equal(result.trace.images[0].scores?.vqascore.value, null);
    assert.match(result.trace.scoring_models?.pickscore ?? '', /int8/);
    const again = await engine.resume(result.runDir);
    assert.ok('alreadyFinished' in again && again.alreadyFinished);
    const second = await engine.start({ prompt: path, options: { disabledMetrics: ['vqascore'], precision: 'int8', numVariations: 1 } });
    assert.equal(second.status, 'succeeded');
    assert.equal(disposals, 0, 'a kept scorer is not disposed by the runs');
    assert.equal(made, 1, 'both runs used the one kept scorer');
    await engine.dispose();
    assert.equal(disposals, 1, 'dispose() closes the kept scorer');
  });

  it('the front door checks a token with GET /v1/account (nothing created) and refuses a wrong one as token-invalid', async () => {
    const good = createEngine({ token: fx.fake.token, apiBaseUrl: fx.fake.url });
    const account = await good.checkToken();
    assert.equal(account.username, 'fake-user');
    const wrong = createEngine({ token: 'r8_notTheFakesToken0123456789', apiBaseUrl: fx.fake.url });
    await assert.rejects(wrong.checkToken(), (e: { code?: string; message?: string }) => e.code === 'token-invalid' && !e.message?.includes('r8_notTheFakesToken'));
    await assert.rejects(createEngine({ apiBaseUrl: fx.fake.url }).checkToken(), (e: { code?: string }) => e.code === 'token-missing');
    assert.ok(fx.fake.requests.some((r) => r.method === 'GET' && r.path === '/v1/account'));
  });

  it('records a prompt read from an unsaved editor buffer as prompts.unsaved_edits', async () => {
    const { dir, path } = await writePrompt(fx.root, 'cat.txt', 'A cat on disk');
    caseDirs.push(dir);
    const engine = createEngine({ token: fx.fake.token, apiBaseUrl: fx.fake.url });
    const prompt = { ...(await readPromptFile(path)), text: 'A cat in the editor', unsavedEdits: true };
    const plan = await engine.plan({ prompt, options: { numVariations: 1 } });
    const trace = newTrace({ prompt: plan.prompt, settings: plan.settings, demo: false, estimate: plan.estimate });
    assert.equal(trace.prompts.enhanced, 'A cat in the editor');
    assert.equal(trace.prompts.unsaved_edits, true);
    const fromDisk = newTrace({ prompt: await readPromptFile(path), settings: plan.settings, demo: false, estimate: null });
    assert.equal(fromDisk.prompts.unsaved_edits, false);
  });

  it('the run folder opens again for readers (RunFolder.open resolves the real path)', async () => {
    const { folder } = await startRun({ numVariations: 1, seed: 3 });
    const again = await RunFolder.open(folder.root);
    assert.equal(again.root, folder.root);
    assert.ok(await again.exists('image_001.png'));
  });
});

describe('run plan (flags > front matter > defaults)', () => {
  const promptFile = (text: string): PromptFile => ({ ...parsePromptText(text, 'txt'), path: '/p/x.txt', format: 'txt' });

  it('uses the defaults when nothing is given, with a random base seed recorded', () => {
    const s = resolveSettings(promptFile('a cat'), {}, () => 1234);
    assert.deepEqual(s.models, ['black-forest-labs/flux-schnell', 'stability-ai/sdxl']);
    assert.equal(s.num_variations, 8);
    assert.equal(s.aspect_ratio, '16:9');
    assert.equal(s.seed_source, 'random');
    assert.deepEqual(s.seeds, [1234, 1235, 1236, 1237, 1238, 1239, 1240, 1241]);
    assert.equal(s.concurrency, 8);
    assert.equal(s.precision, 'fp32');
    assert.equal(s.api_base_url, 'https://api.replicate.com');
  });

  it('front matter overrides defaults and flags override front matter', () => {
    const p = promptFile('---\nmodel: stability-ai/sdxl\nseed: 10\nnum_variations: 2\naspect_ratio: 1:1\n---\na cat');
    const fm = resolveSettings(p, {}, () => 0);
    assert.deepEqual([fm.models, fm.seeds, fm.aspect_ratio, fm.seed_source], [['stability-ai/sdxl'], [10, 11], '1:1', 'front-matter']);
    const flags = resolveSettings(p, { model: 'black-forest-labs/flux-dev', fallbackModels: ['stability-ai/sdxl'], seed: 3, numVariations: 3, aspectRatio: '9:16', disabledMetrics: ['vqascore'] }, () => 0);
    assert.deepEqual([flags.models, flags.seeds, flags.aspect_ratio, flags.seed_source], [['black-forest-labs/flux-dev', 'stability-ai/sdxl'], [3, 4, 5], '9:16', 'cli']);
    assert.equal(flags.enabled_metrics.vqascore, false);
    assert.equal(flags.enabled_metrics.pickscore, true);
  });

  it('seeds wrap within the 32-bit range and reject values outside it', () => {
    assert.deepEqual(seedsFrom(4294967294, 3), [4294967294, 4294967295, 0]);
    assert.throws(() => seedsFrom(-1, 1), (e: { code?: string }) => e.code === 'bad-usage');
  });
});

describe('summary.md', () => {
  it('escapes prompt text, names the demo, lists failures and the error with its action', () => {
    const prompt: PromptFile = { ...parsePromptText('a cat | a dog\n<b>bold</b> *x*', 'txt'), path: '/p/x.txt', format: 'txt' };
    const trace = newTrace({ prompt, settings: resolveSettings(prompt, { numVariations: 2, seed: 1 }), demo: true, estimate: null });
    trace.status = 'partial';
    Object.assign(trace.images[1], { status: 'failed', error: { code: 'prediction-refused', message: 'flagged', action: 'Rephrase.' } });
    trace.error = { code: 'prediction-failed', message: '1 image(s) failed.', action: 'Run resume.' };
    const md = renderSummaryMarkdown(trace);
    assert.ok(md.includes(`> **${DEMO_NOTICE}**`));
    assert.ok(md.includes('- **Prompt:** a cat \\| a dog \\<b\\>bold\\</b\\> \\*x\\*'), md);
    assert.match(md, /## Failed images\n\n- Image 2 \(seed 2\): \[prediction-refused\] flagged/);
    assert.match(md, /## Error\n\n\[prediction-failed\] 1 image\(s\) failed\.\n\nRun resume\./);
    assert.match(md, /- \*\*Status:\*\* partial: 0 of 2 images, 1 failed, 1 not finished/);
  });
});
