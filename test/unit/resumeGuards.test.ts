/**
 * What `resume` must refuse before anything is spent: a DEMO run (made on the local fake with tiny
 * models) resumed with a real token, a run resumed against another API than the one that holds its
 * predictions, and a resume whose remaining images would go over the budget. Two fake Replicate
 * servers stand for "the demo's fake" and "the user's real account"; their request logs prove that
 * nothing was created.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { createEngine } from '../../src/core/engine';
import { readPromptFile } from '../../src/core/prompt';
import { createRunFolder } from '../../src/core/run/output';
import { newTrace, resolveSettings } from '../../src/core/run/runPlan';
import type { GenerationTrace } from '../../src/core/run/trace';
import { startFakeReplicate, type FakeReplicate } from '../../src/sandbox/fakeReplicate/server';
import type { ContactSheetError } from '../../src/shared/errors';
import { capturedIO, writePrompt } from '../support/runFixture';

const creates = (fake: FakeReplicate) => Object.values(fake.creates).reduce((a, b) => a + b, 0);

describe('resume refuses what would spend money by accident', function () {
  this.timeout(60_000);
  let root: string;
  let demoFake: FakeReplicate;
  let realFake: FakeReplicate;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'cs-resume-guards-'));
    demoFake = await startFakeReplicate();
    // "The user's account": another server with another token.
    realFake = await startFakeReplicate({ token: 'r8_theUsersRealToken0123456789' });
  });
  after(async () => {
    await demoFake?.close();
    await realFake?.close();
    await rm(root, { recursive: true, force: true });
  });

  /** A run folder with a trace as `generate` leaves it right after starting (nothing created yet). */
  async function runFolder(opts: { demo: boolean; apiBaseUrl: string; budgetUsd?: number; n?: number }): Promise<{ dir: string; trace: GenerationTrace }> {
    const { path } = await writePrompt(root, 'harbor.txt', 'A quiet harbor at dawn');
    const prompt = await readPromptFile(path);
    const settings = resolveSettings(prompt, { numVariations: opts.n ?? 3, seed: 5, apiBaseUrl: opts.apiBaseUrl, ...(opts.budgetUsd !== undefined ? { budgetUsd: opts.budgetUsd } : {}) });
    const folder = await createRunFolder({ promptPath: path });
    const trace = newTrace({ prompt, settings, demo: opts.demo, estimate: null });
    await folder.writeJson('generation_trace.json', trace);
    return { dir: folder.root, trace };
  }

  // The models folder is the test's own: nothing may reach for the user's cache (or the hub).
  const io = (env: NodeJS.ProcessEnv) => capturedIO({ isTTY: false, env: { PATH: process.env.PATH, CONTACT_SHEET_MODELS_DIR: join(root, 'models'), ...env }, signal: new AbortController().signal, cwd: root });

  it('a DEMO run resumed with a real token and the default API is refused with an action, before any request', async () => {
    const { dir } = await runFolder({ demo: true, apiBaseUrl: demoFake.url });
    const cli = io({ REPLICATE_API_TOKEN: realFake.token });
    assert.equal(await main(['resume', dir], cli), 1);
    assert.match(cli.stderrText, /\[run-not-resumable\]: .*DEMO run/);
    assert.match(cli.stderrText, /→ .*contact-sheet generate/);
    assert.ok(!cli.stderrText.includes(realFake.token));
  });

  it('a DEMO run resumed against the real account (its URL and token) creates nothing there', async () => {
    const { dir } = await runFolder({ demo: true, apiBaseUrl: demoFake.url });
    const before = realFake.requests.length;
    const cli = io({ REPLICATE_API_TOKEN: realFake.token });
    assert.equal(await main(['resume', dir, '--api-base-url', realFake.url], cli), 1);
    assert.match(cli.stderrText, /\[run-not-resumable\]: .*DEMO run/);
    assert.equal(realFake.requests.length, before, 'not one request reached the real account');
    assert.equal(creates(realFake), 0);
  });

  it('a real run resumed against another API than the one holding its predictions is refused, naming the right one', async () => {
    const { dir } = await runFolder({ demo: false, apiBaseUrl: demoFake.url });
    const before = realFake.requests.length;
    const cli = io({ REPLICATE_API_TOKEN: realFake.token });
    assert.equal(await main(['resume', dir, '--api-base-url', realFake.url], cli), 1);
    assert.match(cli.stderrText, /\[run-not-resumable\]: /);
    assert.ok(cli.stderrText.includes(`--api-base-url ${demoFake.url}`), cli.stderrText);
    assert.equal(realFake.requests.length, before);
  });

  it('resume checks the budget: the run\'s own budget, or --budget, against what it spent plus the images still to make', async () => {
    // 3 images of flux-schnell at 0.003 USD: 0.009 USD to go.
    const own = await runFolder({ demo: false, apiBaseUrl: demoFake.url, budgetUsd: 0.005 });
    const cli = io({ REPLICATE_API_TOKEN: demoFake.token });
    const createsBefore = creates(demoFake);
    assert.equal(await main(['resume', own.dir, '--api-base-url', demoFake.url], cli), 1);
    assert.match(cli.stderrText, /\[budget-exceeded\]: Resuming this run would bring its cost to about 0\.0090 USD \(0\.0000 USD spent; 3 images still to make: 3 × black-forest-labs\/flux-schnell/);
    assert.match(cli.stderrText, /→ .*--budget/);

    const flagged = await runFolder({ demo: false, apiBaseUrl: demoFake.url });
    const cli2 = io({ REPLICATE_API_TOKEN: demoFake.token });
    assert.equal(await main(['resume', flagged.dir, '--api-base-url', demoFake.url, '--budget', '0.004'], cli2), 1);
    assert.match(cli2.stderrText, /\[budget-exceeded\]/);
    assert.equal(creates(demoFake), createsBefore, 'nothing was created');

    const bad = io({ REPLICATE_API_TOKEN: demoFake.token });
    assert.equal(await main(['resume', flagged.dir, '--budget', 'lots'], bad), 2);
  });

  it('the engine refuses the same way for every face (resume of a DEMO run by a non-demo engine)', async () => {
    const { dir } = await runFolder({ demo: true, apiBaseUrl: demoFake.url });
    const engine = createEngine({ token: demoFake.token, apiBaseUrl: demoFake.url });
    await assert.rejects(engine.resume(dir), (e: ContactSheetError) => e.code === 'run-not-resumable' && /DEMO/.test(e.message) && !!e.action);
    assert.equal(creates(demoFake), 0);
  });
});
