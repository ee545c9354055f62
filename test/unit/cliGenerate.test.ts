/**
 * `contact-sheet generate` end to end: in-process through main() and once as a spawned
 * `node bin/contact-sheet.js`, against the fake Replicate server and tiny models from the local hub.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import type { GenerationTrace } from '../../src/core/run/trace';
import { CLI_BIN, ensureCliBuilt, REPO_ROOT } from '../support/buildCli';
import { checkSchema, METADATA_SPEC, TRACE_SPEC } from '../support/runSchema';
import { startRunFixture, writePrompt, type RunFixture } from '../support/runFixture';
import { startFakeReplicate } from '../../src/sandbox/fakeReplicate/server';

const ANSI = /\x1b\[/;
const totalCreates = (fx: RunFixture) => Object.values(fx.fake.creates).reduce((a, b) => a + b, 0);

describe('contact-sheet generate (CLI)', function () {
  this.timeout(180_000);
  let fx: RunFixture;
  let caseDirs: string[] = [];
  before(async () => {
    fx = await startRunFixture({ processingMs: 200 });
  });
  after(async () => {
    await fx?.close();
  });
  afterEach(async () => {
    for (const d of caseDirs) await rm(d, { recursive: true, force: true });
    caseDirs = [];
  });

  async function prompt(content = 'A lighthouse at dusk, oil painting', name = 'lighthouse.txt') {
    const p = await writePrompt(fx.root, name, content);
    caseDirs.push(p.dir);
    return p;
  }

  async function onlyRunDir(promptDir: string, stem: string): Promise<string> {
    const runs = await readdir(join(promptDir, `${stem}.images`));
    assert.equal(runs.length, 1);
    assert.match(runs[0], /^\d{8}_\d{6}$/);
    return join(promptDir, `${stem}.images`, runs[0]);
  }

  it('writes the ranked folder next to the prompt and prints the ranked table', async () => {
    const { dir, path } = await prompt();
    const io = fx.io();
    const code = await main(['generate', path, '-n', '3', '--seed', '11', ...fx.cliArgs()], io);
    assert.equal(code, 0, io.stderrText);
    const runDir = await onlyRunDir(dir, 'lighthouse');
    const trace = JSON.parse(await readFile(join(runDir, 'generation_trace.json'), 'utf8')) as GenerationTrace;
    assert.deepEqual(checkSchema(trace, TRACE_SPEC), []);
    assert.equal(trace.status, 'succeeded');
    assert.equal(trace.demo, false);
    assert.deepEqual(trace.settings.seeds, [11, 12, 13]);
    assert.equal(trace.settings.aspect_ratio, '16:9');
    assert.deepEqual(trace.settings.models, ['black-forest-labs/flux-schnell', 'stability-ai/sdxl']);
    for (let r = 1; r <= 3; r++) {
      const meta = JSON.parse(await readFile(join(runDir, `image_00${r}_metadata.json`), 'utf8'));
      assert.deepEqual(checkSchema(meta, METADATA_SPEC), []);
      assert.equal(meta.rank, r);
      assert.ok(existsSync(join(runDir, `image_00${r}.png`)));
    }
    assert.ok(existsSync(join(runDir, 'best_candidate.png')) && existsSync(join(runDir, 'summary.md')));
    assert.ok(!existsSync(join(runDir, 'pending')), 'pending/ is gone once ranked');

    // Console: the table in rank order with the four metrics, paths, best, cost, why; no colour off a TTY.
    const out = io.stdoutText;
    assert.doesNotMatch(out, ANSI);
    assert.match(out, /Rank\s+Image\s+Seed\s+PickScore\s+CLIP-Score\s+VQAScore\s+Aesthetic\s+Overall\s+Pref\./);
    const rows = out.split('\n').filter((l) => /^\d\s+image_00\d\.png/.test(l));
    assert.deepEqual(rows.map((l) => l.split(/\s+/)[1]), ['image_001.png', 'image_002.png', 'image_003.png']);
    const ranked = [...trace.images].sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
    rows.forEach((row, i) => assert.equal(row.split(/\s+/)[2], String(ranked[i].seed), 'seed column'));
    assert.ok(out.includes(`Run folder: ${runDir}`));
    assert.ok(out.includes(`Best candidate: ${join(runDir, 'best_candidate.png')} (= image_001.png, seed ${ranked[0].seed})`));
    assert.match(out, /Cost: \$0\.0090 \(official price, pricing table \d{4}-\d{2}-\d{2}\)/);
    assert.match(out, /Why: Image 1 \(seed \d+\) has the best overall score/);
    // Progress went to stderr as plain lines.
    assert.match(io.stderrText, /image 1 \(seed 11\) saved: pending\/seed_11_001\.png/);
    assert.match(io.stderrText, /scored: overall/);
  });

  it('--json prints the trace and nothing else on stdout; --verbose logs every API call on stderr', async () => {
    const { dir, path } = await prompt();
    const io = fx.io();
    const code = await main(['generate', path, '-n', '1', '--seed', '4', '--json', '--verbose', '--output-dir', join(dir, 'out'), ...fx.cliArgs()], io);
    assert.equal(code, 0, io.stderrText);
    const trace = JSON.parse(io.stdoutText) as GenerationTrace;
    assert.deepEqual(checkSchema(trace, TRACE_SPEC), []);
    assert.deepEqual(trace, JSON.parse(await readFile(join(dir, 'out', 'generation_trace.json'), 'utf8')));
    assert.match(io.stderrText, /\[api\] POST \/v1\/models\/black-forest-labs\/flux-schnell\/predictions → 201/);
    assert.match(io.stderrText, /\[api\] GET \/files\/\w+\/out-0\.png → 200/, 'the output download is an API call too');
    assert.ok(!io.stderrText.includes(fx.fake.token), 'the token is never logged');
    assert.ok(!(await readFile(join(dir, 'out', 'generation_trace.json'), 'utf8')).includes(fx.fake.token));
  });

  it('highlights the top 3 in colour on a TTY, shows a progress bar, and honours NO_COLOR', async () => {
    const { path } = await prompt();
    const tty = fx.io({ isTTY: true });
    assert.equal(await main(['generate', path, '-n', '4', '--seed', '1', '--no-vqascore', ...fx.cliArgs()], tty), 0, tty.stderrText);
    const lines = tty.stdoutText.split('\n');
    const row = (n: number) => lines.find((l) => l.includes(`image_00${n}.png`) && !l.includes('Best')) ?? '';
    assert.match(row(1), /^\x1b\[1m\x1b\[32m1 /, 'rank 1 bold green');
    assert.match(row(3), /^\x1b\[32m3 /, 'rank 3 green');
    assert.match(row(4), /^4 /, 'rank 4 plain');
    assert.match(tty.stderrText, /\[#*-*\] \d\/4 generated, \d\/4 scored/);
    // --no-vqascore: absent with a reason, weights renormalized over the other three.
    assert.match(row(1), /—/);

    const plain = fx.io({ isTTY: true, env: fx.env({ NO_COLOR: '1' }) });
    assert.equal(await main(['generate', path, '-n', '1', '--seed', '1', '--no-vqascore', ...fx.cliArgs()], plain), 0);
    assert.doesNotMatch(plain.stdoutText, ANSI);
  });

  it('--dry-run prints the plan without a token, a request or a model load, and creates nothing', async () => {
    const { dir, path } = await prompt('---\nnum_variations: 2\nseed: 5\naspect_ratio: 1:1\nnegative: blurry\n---\nA lighthouse');
    const requestsBefore = fx.fake.requests.length;
    const hubBefore = fx.hub.requests.length;
    const noToken = { PATH: process.env.PATH, HOME: process.env.HOME };
    const io = fx.io({ env: noToken });
    const emptyCache = join(dir, 'empty-models');
    assert.equal(await main(['generate', path, '--dry-run', '--seed', '9', ...fx.cliArgs(), '--models-dir', emptyCache], io), 0, io.stderrText);
    const out = io.stdoutText;
    assert.match(out, /Plan \(dry run: nothing is spent, no model is loaded\)/);
    assert.match(out, /Images: +2, aspect ratio 1:1/, 'front matter gives count and ratio');
    assert.match(out, /Seeds: +9, 10 \(from --seed\)/, 'the flag beats the front matter');
    assert.match(out, /Negative: +blurry/);
    assert.match(out, /Cost estimate: \$0\.0060 \(official price/);
    assert.match(out, /pickscore\s+PickScore[^\n]*download [\d.]+ (KB|MB|GB)/);
    assert.match(out, /To download: +[\d.]+ (KB|MB|GB)/);
    assert.equal(fx.fake.requests.length, requestsBefore, 'no Replicate request');
    assert.equal(fx.hub.requests.length, hubBefore, 'no model download');
    assert.ok(!existsSync(join(dir, 'lighthouse.images')), 'no run folder');
    assert.ok(!existsSync(emptyCache), 'the models folder is not even created');

    const json = fx.io({ env: noToken });
    assert.equal(await main(['generate', path, '--dry-run', '--json', '-n', '3', '--model', 'stability-ai/sdxl', ...fx.cliArgs()], json), 0);
    const plan = JSON.parse(json.stdoutText);
    assert.equal(plan.kind, 'contact-sheet.dry-run-plan');
    assert.deepEqual(plan.settings.seeds, [5, 6, 7]);
    assert.equal(plan.settings.seed_source, 'front-matter');
    assert.deepEqual(plan.settings.models, ['stability-ai/sdxl'], 'a chosen model gets no default fallback');
    // The empty cache: every model of the plan is missing, with its whole size to download.
    const missing = fx.io({ env: noToken });
    assert.equal(await main(['generate', path, '--dry-run', '--json', ...fx.cliArgs(), '--models-dir', emptyCache], missing), 0);
    const before = JSON.parse(missing.stdoutText).scoring;
    assert.deepEqual(before.models.map((m: { id: string }) => m.id).sort(), ['aesthetic', 'clip', 'pickscore', 'vqascore']);
    for (const m of before.models) {
      assert.equal(m.state, 'missing', m.id);
      assert.ok(m.download_bytes > 0 && m.download_bytes === m.total_bytes, `${m.id}: ${m.download_bytes} of ${m.total_bytes}`);
    }
    assert.equal(before.total_download_bytes, before.models.reduce((a: number, m: { download_bytes: number }) => a + m.download_bytes, 0));

    // After `models pull` into that folder: every model ready, nothing left to download.
    const pulled = fx.io({ env: noToken });
    const modelFlags = ['--models-dir', emptyCache, '--manifest', fx.tiny.manifestPath, '--hub-endpoint', fx.hub.url];
    assert.equal(await main(['models', 'pull', 'pickscore', 'clip', 'aesthetic', 'vqascore', ...modelFlags], pulled), 0, pulled.stderrText);
    const ready = fx.io({ env: noToken });
    assert.equal(await main(['generate', path, '--dry-run', '--json', ...fx.cliArgs(), '--models-dir', emptyCache], ready), 0);
    const after = JSON.parse(ready.stdoutText).scoring;
    for (const m of after.models) assert.deepEqual([m.id, m.state, m.download_bytes], [m.id, 'ready', 0]);
    assert.equal(after.total_download_bytes, 0);
  });

  it('shows each rate-limit wait once as a progress line and records it; --prediction-timeout sets the deadline and Cancel-After', async () => {
    // Its own fake: the storm's windows must not reach the other tests.
    const fake = await startFakeReplicate({ processingMs: 200 });
    try {
      fake.script({ kind: 'rate-limit', lane: 'create', times: 3, retryAfterSeconds: 1, holdMs: 100 });
      const { dir, path } = await prompt();
      const io = fx.io();
      const args = ['--api-base-url', fake.url, '--hub-endpoint', fx.hub.url, '--manifest', fx.tiny.manifestPath, '--models-dir', fx.modelsDir];
      const code = await main(['generate', path, '-n', '3', '--seed', '31', '--concurrency', '3', '--prediction-timeout', '300', '--no-vqascore', ...args], io);
      assert.equal(code, 0, io.stderrText);
      const trace = JSON.parse(await readFile(join(await onlyRunDir(dir, 'lighthouse'), 'generation_trace.json'), 'utf8')) as GenerationTrace;
      assert.deepEqual(checkSchema(trace, TRACE_SPEC), []);
      assert.equal(trace.images.filter((i) => i.status === 'scored').length, 3);
      const windows = new Set(trace.rate_limit_waits.map((w) => w.window));
      assert.ok(windows.size >= 1);
      const lines = io.stderrText.split('\n').filter((l) => l.includes('rate limited by Replicate'));
      assert.equal(lines.length, windows.size, 'one progress line per window, not per refused request');
      assert.match(lines[0], /^rate limited by Replicate, waiting 1 s: new predictions resume at \d{2}:\d{2}:\d{2} UTC$/);
      assert.deepEqual(fake.requestsInsideRateLimitWindows('create'), []);
      assert.equal(trace.settings.prediction_timeout_s, 300);
      assert.equal(trace.settings.cancel_after, '6m');
      assert.ok(fake.requests.filter((r) => r.lane === 'create').every((r) => r.cancelAfter === '6m'));
    } finally {
      await fake.close();
    }
  });

  it('refuses clearly: missing token, bad usage, missing prompt, budget exceeded — before spending', async () => {
    const { dir, path } = await prompt();
    const creates = totalCreates(fx);
    const noToken = fx.io({ env: { PATH: process.env.PATH } });
    assert.equal(await main(['generate', path, ...fx.cliArgs()], noToken), 1);
    assert.match(noToken.stderrText, /error \[token-missing\]: REPLICATE_API_TOKEN is not set\.\n {2}→ export REPLICATE_API_TOKEN=… \(https:\/\/replicate\.com\/account\/api-tokens\)/);

    for (const args of [['-n', '17'], ['--aspect-ratio', '2:1'], ['--seed', 'x'], ['--precision', 'fp16'], ['--frobnicate'], ['--model', 'nope'], ['--budget', '-1'], ['--prediction-timeout', '4'], ['--prediction-timeout', '10m']]) {
      const io = fx.io();
      assert.equal(await main(['generate', path, ...args, ...fx.cliArgs()], io), 2, args.join(' '));
      assert.match(io.stderrText, /error \[bad-usage\]/);
    }
    const none = fx.io();
    assert.equal(await main(['generate'], none), 2);
    assert.match(none.stderrText, /The prompt file is missing/);
    const help = fx.io();
    assert.equal(await main(['generate', '--help'], help), 0);
    assert.match(help.stdoutText, /Usage: contact-sheet generate PROMPT_FILE/);

    const missing = fx.io();
    assert.equal(await main(['generate', join(dir, 'nope.txt'), ...fx.cliArgs()], missing), 1);
    assert.match(missing.stderrText, /\[prompt-missing\]/);

    const budget = fx.io();
    assert.equal(await main(['generate', path, '-n', '8', '--budget', '0.01', ...fx.cliArgs()], budget), 1);
    assert.match(budget.stderrText, /\[budget-exceeded\]: This run would cost about 0\.0240 USD/);

    const badToken = fx.io({ env: fx.env({ REPLICATE_API_TOKEN: 'r8_wrongTokenWrongToken123' }) });
    assert.equal(await main(['generate', path, ...fx.cliArgs()], badToken), 1);
    assert.match(badToken.stderrText, /\[token-invalid\]/);
    assert.ok(!badToken.stderrText.includes('r8_wrongTokenWrongToken123'));

    assert.equal(totalCreates(fx), creates, 'nothing was created');
    assert.ok(!existsSync(join(dir, 'lighthouse.images')), 'no run folder');
  });

  it('runs as a spawned `node bin/contact-sheet.js` (the built bundle)', async () => {
    ensureCliBuilt();
    const { dir, path } = await prompt('# Lighthouse\n\nA lighthouse at dusk', 'lighthouse.md');
    const child = spawn(process.execPath, [CLI_BIN, 'generate', path, '-n', '2', '--seed', '21', ...fx.cliArgs()], { cwd: REPO_ROOT, env: fx.env() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(killer);
    assert.equal(code, 0, stderr);
    const runDir = await onlyRunDir(dir, 'lighthouse');
    const trace = JSON.parse(await readFile(join(runDir, 'generation_trace.json'), 'utf8')) as GenerationTrace;
    assert.deepEqual(checkSchema(trace, TRACE_SPEC), []);
    assert.equal(trace.prompts.title, 'Lighthouse');
    assert.equal(trace.prompts.enhanced, 'A lighthouse at dusk');
    assert.equal(trace.images.filter((i) => i.status === 'scored').length, 2);
    assert.match(stdout, /^1\s+image_001\.png\s+2[12]\s/m);
    assert.ok(stdout.includes('Best candidate:'));
  });
});
