import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { GenerationTrace } from '../../../src/core/run/trace';
import type { HistoryEntry, PanelState, RunView } from '../../../src/shared/protocol';
import { startFakeReplicate } from '../../../src/sandbox/fakeReplicate/server';
import { contactSheet, until } from '../support/extensionApi';
import { RunWorld, SECRET_TOKEN } from '../support/runWorld';

const LIGHTHOUSE = 'A lighthouse on a basalt cliff at dusk, long exposure, waves turned to mist';

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await fs.readFile(path, 'utf8')) as T;
}

function imagesParent(prompt: vscode.Uri): string {
  return prompt.fsPath.replace(/\.(txt|md)$/, '.images');
}

/** Every byte of every file of a run folder, as text (PNGs and WebPs included). */
async function folderBytes(world: RunWorld, dir: string): Promise<string> {
  const files = await world.files(dir);
  return (await Promise.all(files.map((f) => fs.readFile(join(dir, f), 'latin1')))).join('\n');
}

describe('Generate in the extension host (fake Replicate on 127.0.0.1, tiny models)', function () {
  this.timeout(180_000);
  let world: RunWorld;

  before(async () => {
    world = await RunWorld.start(await contactSheet());
  });

  after(async () => {
    await world?.close();
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await world.resetSettings();
    await world.api.services.apiTokens.set(SECRET_TOKEN);
  });

  it('the command runs a whole run and writes it next to the prompt; the token (from SecretStorage) shows up nowhere', async () => {
    await world.set('numVariations', 4);
    await world.set('seed', 7);
    const prompt = await world.prompt('lighthouse.txt', `${LIGHTHOUSE}\n`);
    const createsBefore = Object.values(world.fake.creates).reduce((a, b) => a + b, 0);
    await vscode.commands.executeCommand('contactSheet.generate', prompt);
    const finished = await world.waitForEvent(prompt, 'run/finished');
    assert.equal(finished.status, 'succeeded');

    const [runDir] = await world.runDirs(imagesParent(prompt));
    const files = await world.files(runDir);
    for (const f of ['generation_trace.json', 'best_candidate.png', 'summary.md']) assert.ok(files.includes(f), `${f} written`);
    for (let rank = 1; rank <= 4; rank++) {
      assert.ok(files.includes(`image_00${rank}.png`), `image_00${rank}.png`);
      assert.ok(files.includes(`image_00${rank}_metadata.json`), `image_00${rank}_metadata.json`);
    }
    const thumbnails = files.filter((f) => f.startsWith('.thumbnails/') && f.endsWith('.webp'));
    assert.equal(thumbnails.length, 4, `four WebP previews: ${files.join(', ')}`);
    const webp = await fs.readFile(join(runDir, thumbnails[0]));
    assert.equal(webp.subarray(8, 12).toString('latin1'), 'WEBP');

    // Ranks: image_001 is the best, overall never rises down the ranking.
    const overalls: number[] = [];
    for (let rank = 1; rank <= 4; rank++) {
      const meta = await readJson<{ rank: number; overall: { value: number | null }; is_best_candidate: boolean }>(join(runDir, `image_00${rank}_metadata.json`));
      assert.equal(meta.rank, rank);
      assert.equal(meta.is_best_candidate, rank === 1);
      overalls.push(meta.overall.value ?? -1);
    }
    assert.deepEqual([...overalls].sort((a, b) => b - a), overalls, `overall by rank: ${overalls.join(', ')}`);

    const trace = await readJson<GenerationTrace>(join(runDir, 'generation_trace.json'));
    assert.equal(trace.status, 'succeeded');
    assert.equal(trace.demo, false);
    assert.deepEqual(trace.settings.seeds, [7, 8, 9, 10]);
    assert.equal(trace.prompts.enhanced, LIGHTHOUSE);
    assert.equal(trace.prompts.unsaved_edits, false);
    assert.equal(trace.settings.api_base_url, world.fake.url);
    assert.equal(Object.values(world.fake.creates).reduce((a, b) => a + b, 0) - createsBefore, 4, 'one prediction per image');

    // The panel was told everything, in the protocol's words, previews included.
    const events = world.events(prompt);
    const show = events.find((e) => e.type === 'run/show');
    assert.ok(show && show.type === 'run/show');
    assert.equal(show.run.runId, trace.run_id);
    assert.equal(show.run.live, true);
    const saved = events.filter((e) => e.type === 'run/imageSaved');
    assert.equal(saved.length, 4);
    // Each preview arrives inline (a WebP data: URI), the very file made in the run's .thumbnails/.
    const previews = await fs.readdir(join(runDir, '.thumbnails'));
    assert.equal(previews.filter((f) => /^seed_\d+_\d{3}\.webp$/.test(f)).length, 4, previews.join(', '));
    for (const s of saved) {
      if (s.type !== 'run/imageSaved') continue;
      assert.match(s.thumbnailUri, /^data:image\/webp;base64,/);
      const bytes = Buffer.from(s.thumbnailUri.slice(s.thumbnailUri.indexOf(',') + 1), 'base64');
      const onDisk = await Promise.all(previews.map((f) => fs.readFile(join(runDir, '.thumbnails', f))));
      assert.ok(onDisk.some((b) => b.equals(bytes)), `image ${s.index}'s inline preview is one of the files`);
    }
    const final = events.find((e) => e.type === 'run/ranked' && e.final);
    assert.ok(final && final.type === 'run/ranked');
    assert.deepEqual(final.entries.map((e) => e.rank), [1, 2, 3, 4]);
    assert.deepEqual(final.entries.map((e) => e.index), trace.ranking?.order);
    assert.match(world.api.services.statusBar.text ?? '', /4\/4 succeeded/);

    // The log channel shows every API call with its cost.
    const log = await until('the API calls in the log', async () => {
      const text = await world.logText();
      return /POST \/v1\/models\/black-forest-labs\/flux-schnell\/predictions → 201 .*cost/.test(text) ? text : undefined;
    }, 20_000);
    assert.match(log, /GET \/v1\/account → 200/);

    // The token: nowhere in the run folder, the webview's messages, the toasts or the log.
    assert.ok(!(await folderBytes(world, runDir)).includes(SECRET_TOKEN), 'not in any file of the run folder');
    assert.ok(!JSON.stringify(world.posted).includes(SECRET_TOKEN), 'not in any message to a webview');
    assert.ok(!JSON.stringify(world.toasts).includes(SECRET_TOKEN), 'not in any toast');
    assert.ok(!log.includes(SECRET_TOKEN), 'not in the log channel');
  });

  it('a run outlives its panel; cancel midway stops the predictions on Replicate and keeps the finished images and the trace', async () => {
    const slow = await startFakeReplicate({ processingMs: 2500, token: SECRET_TOKEN });
    try {
      await world.pointAt(slow);
      await world.set('numVariations', 4);
      await world.set('concurrency', 1);
      const prompt = await world.prompt('heron.txt', 'A grey heron standing in fog\n');
      await vscode.commands.executeCommand('contactSheet.generate', prompt);
      const first = await world.waitForEvent(prompt, 'run/imageSaved');

      // Closing the panel does not stop the run; the status bar item brings a panel back, live.
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await until('the panel to close', () => !world.api.panel(prompt));
      const postedBefore = world.posted.length;
      await vscode.commands.executeCommand('contactSheet.revealRunPanel', prompt);
      const ready = await until('the reopened webview\'s state', () =>
        world.posted.slice(postedBefore).find((p) => {
          const m = p.message as { kind: string; body?: { run?: { runId?: string; live?: boolean } } };
          return p.promptUri === prompt.toString() && m.kind === 'response' && m.body?.run?.runId === first.runId;
        }),
      );
      const restored = (ready.message as { body: PanelState }).body.run!;
      assert.equal(restored.live, true, 'the reopened panel shows the run live');
      assert.ok(restored.images[first.index].thumbnailUri, 'with the images already on disk');

      const answer = await world.request(prompt, { type: 'run/cancel', runId: first.runId });
      assert.deepEqual(answer.body, { canceling: true });
      const finished = await world.waitForEvent(prompt, 'run/finished', (e) => e.runId === first.runId);
      assert.equal(finished.status, 'canceled');

      const [runDir] = await world.runDirs(imagesParent(prompt));
      const trace = await readJson<GenerationTrace>(join(runDir, 'generation_trace.json'));
      assert.equal(trace.status, 'canceled');
      const kept = trace.images.filter((i) => i.status === 'scored' || i.status === 'generated');
      assert.ok(kept.length >= 1 && kept.length < 4, `some but not all images kept (${kept.length})`);
      const files = await world.files(runDir);
      for (const image of kept) assert.ok(files.includes(image.file ?? image.pending_file), `${image.file} kept on disk`);
      assert.ok(slow.cancels.length >= 1, 'the running prediction was canceled on Replicate');
      assert.ok(world.toasts.some((t) => /canceled/.test(t.message)), 'the user is told');
    } finally {
      await slow.close();
    }
  });

  it('a budget limit stops a run before anything is created', async () => {
    await world.set('numVariations', 4);
    await world.set('budgetLimitUsd', 0.001);
    const prompt = await world.prompt('fox.txt', 'A red fox asleep in snow\n');
    const createsBefore = Object.values(world.fake.creates).reduce((a, b) => a + b, 0);
    await vscode.commands.executeCommand('contactSheet.generate', prompt);
    const toast = await until('the budget toast', () => world.toasts.find((t) => /budget/.test(t.message)));
    assert.equal(toast.level, 'error');
    assert.match(toast.message, /over the budget limit of 0\.001 USD/);
    assert.equal(Object.values(world.fake.creates).reduce((a, b) => a + b, 0), createsBefore, 'no prediction was created');
    await assert.rejects(fs.readdir(imagesParent(prompt)), 'no run folder');
  });

  it('Set Token keeps only a token Replicate accepts, and a refused token never reaches a toast', async () => {
    const wrong = `cs-it-wrong-${Date.now()}`;
    const toastsBefore = world.toasts.length;
    assert.equal(await world.api.storeToken(wrong), false);
    assert.equal(await world.api.services.apiTokens.get(), SECRET_TOKEN, 'the stored token is unchanged');
    assert.match(world.toasts.at(-1)?.message ?? '', /did not accept this token/);
    assert.equal(await world.api.storeToken(SECRET_TOKEN), true);
    assert.equal(world.api.services.tokenStatus.current.status, 'set');
    assert.equal(world.api.services.tokenStatus.current.account, 'fake-user');

    // A run with a refused token offers Set Token / DEMO and spends nothing; the token is in no toast.
    await world.api.services.apiTokens.set(wrong);
    const prompt = await world.prompt('owl.txt', 'An owl on a fence post at night\n');
    await vscode.commands.executeCommand('contactSheet.generate', prompt);
    const offer = await until('the offer', () => world.toasts.slice(toastsBefore).find((t) => /did not accept the stored API token/.test(t.message)));
    assert.deepEqual(offer.actions, ['Set Token', 'Run DEMO']);
    assert.ok(!JSON.stringify(world.toasts).includes(wrong) && !JSON.stringify(world.posted).includes(wrong));
    assert.ok(!(await world.logText()).includes(wrong));
    assert.equal(world.api.services.tokenStatus.current.status, 'invalid');
  });

  it('settings take effect: weights, concurrency, precision, VQAScore, model, aspect ratio, seed, output folder', async () => {
    await world.set('numVariations', 3);
    await world.set('seed', 100);
    await world.set('aspectRatio', '1:1');
    await world.set('model', 'black-forest-labs/flux-dev');
    await world.set('fallbackModels', []);
    await world.set('weights', { pickscore: 0, clipScore: 1, vqascore: 0, aesthetic: 0 });
    await world.set('concurrency', 1);
    await world.set('scoring.precision', 'int8');
    await world.set('scoring.vqascore', false);
    await world.set('scoring.lowMemory', true);
    await world.set('outputFolder', 'renders');
    const prompt = await world.prompt('kite.txt', 'A red kite over a green hill\n');
    await vscode.commands.executeCommand('contactSheet.generate', prompt);
    const finished = await world.waitForEvent(prompt, 'run/finished');
    assert.equal(finished.status, 'succeeded');

    const [runDir] = await world.runDirs(join(prompt.fsPath, '..', 'renders'));
    assert.ok(runDir, 'the run went to the output folder');
    const trace = await readJson<GenerationTrace>(join(runDir, 'generation_trace.json'));
    assert.deepEqual(trace.settings.seeds, [100, 101, 102]);
    assert.equal(trace.settings.aspect_ratio, '1:1');
    assert.equal(trace.settings.primary_model, 'black-forest-labs/flux-dev');
    assert.equal(trace.settings.concurrency, 1);
    assert.equal(trace.settings.precision, 'int8');
    assert.match(trace.scoring_models?.clip_score ?? '', /int8/);
    assert.equal(trace.settings.enabled_metrics.vqascore, false);
    assert.deepEqual(trace.settings.weights, { pickscore: 0, clip_score: 1, vqascore: 0, aesthetic: 0 });
    for (const image of trace.images) {
      assert.equal(image.scores?.vqascore.value, null);
      // Only CLIP-Score weighs: the overall is the CLIP-Score.
      assert.equal(image.overall, image.scores?.clip_score.value);
    }
    // Concurrency 1: no two predictions were ever running on the fake at the same time.
    const spans = trace.images.map((i) => [Date.parse(i.created_at!), Date.parse(i.completed_at!)]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i][0] >= spans[i - 1][1], `prediction ${i + 1} started after ${i} ended`);
    // The history of a prompt with an output folder lists its run there.
    const state = (await world.request(prompt, { type: 'webview/ready', restore: null })).body as PanelState;
    assert.equal(state.history[0]?.runId, trace.run_id);
  });

  it('uses unsaved editor edits as they are and records them; a prompt edit from the panel is an undoable document edit', async () => {
    await world.set('numVariations', 2);
    const prompt = await world.prompt('boat.md', '---\nseed: 3\n---\n# Boat\n\nA wooden boat on a still lake\n');
    const editor = await vscode.window.showTextDocument(prompt);
    await editor.edit((b) => b.replace(editor.document.lineAt(5).range, 'A wooden boat on a misty lake at dawn'));
    assert.ok(editor.document.isDirty);
    await vscode.commands.executeCommand('contactSheet.generate', prompt);
    await world.waitForEvent(prompt, 'run/finished');
    const [runDir] = await world.runDirs(imagesParent(prompt));
    const trace = await readJson<GenerationTrace>(join(runDir, 'generation_trace.json'));
    assert.equal(trace.prompts.enhanced, 'A wooden boat on a misty lake at dawn');
    assert.equal(trace.prompts.unsaved_edits, true);
    assert.deepEqual(trace.settings.seeds, [3, 4], 'front matter from the buffer');
    assert.match(await fs.readFile(prompt.fsPath, 'utf8'), /still lake/, 'the file on disk is untouched');

    // The panel's prompt editor: the prompt text only, as an edit of the document.
    const answer = await world.request(prompt, { type: 'prompt/edit', text: 'A paper boat in a puddle' });
    assert.deepEqual(answer.body, { applied: true });
    const document = await vscode.workspace.openTextDocument(prompt);
    assert.equal(document.getText(), '---\nseed: 3\n---\n# Boat\n\nA paper boat in a puddle\n');
    const changed = await world.waitForEvent(prompt, 'prompt/changed', (e) => e.prompt.text === 'A paper boat in a puddle');
    assert.equal(changed.dirty, true);
    await vscode.window.showTextDocument(document);
    await vscode.commands.executeCommand('undo');
    assert.match(document.getText(), /misty lake at dawn/, 'undo brings the editor text back');
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });

  it('the quick options step runs with what it shows, pre-filled from the settings and the front matter', async () => {
    await world.set('askForOptions', true);
    await world.set('numVariations', 2);
    const prompt = await world.prompt('gull.md', '---\nseed: 5\naspect_ratio: 4:3\n---\nA gull over the harbour\n');
    const command = vscode.commands.executeCommand('contactSheet.generate', prompt);
    // Enter on the list's first item ("Run") as soon as the list is up.
    const show = await until(
      'the run started from the quick options',
      async () => {
        await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
        return world.events(prompt).find((e) => e.type === 'run/show');
      },
      30_000,
      300,
    );
    await command;
    assert.ok(show.type === 'run/show');
    assert.equal(show.run.baseSeed, 5);
    assert.equal(show.run.aspectRatio, '4:3');
    assert.equal(show.run.images.length, 2);
    assert.equal(show.run.model, 'black-forest-labs/flux-schnell');
    await world.waitForEvent(prompt, 'run/finished');
  });

  it('the DEMO runs without a token, labelled everywhere, and a fixed seed reproduces it', async () => {
    await world.api.services.apiTokens.clear();
    await world.set('numVariations', 2);
    await world.set('seed', 11);
    const prompt = await world.prompt('demo.txt', 'A glass of water on a wooden table\n');
    const runs: { trace: GenerationTrace; runDir: string; image: Buffer }[] = [];
    for (let i = 0; i < 2; i++) {
      world.answerToast(/needs a Replicate API token/, 'Run DEMO');
      await vscode.commands.executeCommand('contactSheet.generate', prompt);
      const show = await world.waitForEvent(prompt, 'run/show', (e) => !runs.some((r) => r.trace.run_id === e.run.runId));
      assert.equal(show.run.demo, true, 'the panel labels it DEMO');
      const finished = await world.waitForEvent(prompt, 'run/finished', (e) => e.runId === show.run.runId, 150_000);
      assert.equal(finished.status, 'succeeded');
      const dirs = await world.runDirs(imagesParent(prompt));
      const runDir = dirs[dirs.length - 1];
      const trace = await readJson<GenerationTrace>(join(runDir, 'generation_trace.json'));
      runs.push({ trace, runDir, image: await fs.readFile(join(runDir, trace.images[0].file!)) });
    }
    for (const { trace, runDir } of runs) {
      assert.equal(trace.demo, true);
      assert.match(await fs.readFile(join(runDir, 'summary.md'), 'utf8'), /DEMO/);
      assert.notEqual(trace.settings.api_base_url, world.fake.url, 'the DEMO has its own fake Replicate');
      assert.match(trace.settings.api_base_url, /^http:\/\/127\.0\.0\.1:/);
    }
    const offer = world.toasts.find((t) => /needs a Replicate API token/.test(t.message));
    assert.deepEqual(offer?.actions, ['Set Token', 'Run DEMO']);
    assert.match(offer?.message ?? '', /DEMO/);
    assert.match(world.api.services.statusBar.text ?? '', /DEMO/);
    // Same prompt, same seed: the same images and the same scores.
    assert.deepEqual(runs[0].image, runs[1].image);
    assert.deepEqual(runs[0].trace.images.map((i) => i.overall), runs[1].trace.images.map((i) => i.overall));
  });

  it('history lists the earlier runs with their best image and cost; Open Run on a trace file shows that run', async () => {
    await world.set('numVariations', 2);
    const prompt = await world.prompt('tree.txt', 'An oak tree alone in a field\n');
    for (const seed of [21, 31]) {
      await world.set('seed', seed);
      await vscode.commands.executeCommand('contactSheet.generate', prompt);
      await world.waitForEvent(prompt, 'run/finished', (e) => world.events(prompt).filter((x) => x.type === 'run/finished').indexOf(e) === (seed === 21 ? 0 : 1));
    }
    await world.request(prompt, { type: 'prompt/edit', text: 'An oak tree alone in a snowy field' });
    const state = (await world.request(prompt, { type: 'webview/ready', restore: null })).body as PanelState;
    const dirs = await world.runDirs(imagesParent(prompt));
    const traces = await Promise.all(dirs.map((d) => readJson<GenerationTrace>(join(d, 'generation_trace.json'))));
    assert.equal(state.history.length, 2);
    const newestFirst = [...traces].sort((a, b) => b.created_at.localeCompare(a.created_at));
    assert.deepEqual(state.history.map((h: HistoryEntry) => h.runId), newestFirst.map((t) => t.run_id));
    for (const [i, entry] of state.history.entries()) {
      const trace = newestFirst[i];
      const best = trace.images[trace.ranking!.order[0]];
      assert.equal(entry.bestOverall, best.overall);
      assert.equal(entry.totalUsd, trace.costs.total_usd);
      assert.match(entry.bestThumbnailUri ?? '', new RegExp(`\\.thumbnails/seed_${best.seed}_\\d{3}\\.webp`));
      assert.ok(entry.promptDiff.some((s) => s.op === 'add' && /snowy/.test(s.text)), 'the diff shows today\'s new word');
    }
    assert.equal(state.run?.runId, newestFirst[0].run_id, 'the latest run is shown');
    assert.deepEqual((await world.request(prompt, { type: 'prompt/save' })).body, { saved: true });
    assert.match(await fs.readFile(prompt.fsPath, 'utf8'), /snowy field/, 'saved from the panel');
    const older = (await world.request(prompt, { type: 'history/open', runId: newestFirst[1].run_id })).body as RunView;
    assert.equal(older.runId, newestFirst[1].run_id);
    assert.equal(older.images.filter((i) => i.imageUri).length, 2);

    // Open Run from the explorer on the older run's trace file: its prompt's panel shows it.
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const olderDir = dirs[traces.findIndex((t) => t.run_id === newestFirst[1].run_id)];
    const postedBefore = world.posted.length;
    await vscode.commands.executeCommand('contactSheet.openRun', vscode.Uri.file(join(olderDir, 'generation_trace.json')));
    const shown = await until('the opened run in the panel', () =>
      world.posted.slice(postedBefore).find((p) => {
        const m = p.message as { kind: string; body?: { type?: string; run?: { runId?: string } } };
        return p.promptUri === prompt.toString() && ((m.kind === 'event' && m.body?.type === 'run/show') || m.kind === 'response') && m.body?.run?.runId === newestFirst[1].run_id;
      }),
    );
    assert.ok(shown);
    assert.ok(world.api.panel(prompt), 'the prompt\'s panel is open');

    // The real webview ran through all of this: it dropped none of the host's messages (but the
    // answers to the requests these tests sent in its name, which it never asked for).
    const dropped = (await world.logText()).split('\n').filter((line) => /ignored a message/.test(line) && !/response to no pending request/.test(line));
    assert.deepEqual(dropped, []);
  });
});
