/**
 * The panel's view of a run, live and from disk, fed with the events of a real run (fake
 * Replicate + tiny models through the front door): every message it makes passes the webview's
 * receipt checks, and the run reads the same live and reopened from its trace.
 */
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine, type RunEvent } from '../../src/core/engine';
import { readRecordedRun } from '../../src/extension/history/recordedRuns';
import { historyEntryFromRun, runViewFromTrace } from '../../src/extension/history/traceRunView';
import { LiveRunView } from '../../src/extension/run/liveRunView';
import { checkToWebview } from '../../src/shared/protocolGuards';
import type { ToWebviewEvent } from '../../src/shared/protocol';
import { startSourceScoringWorker } from '../../src/sandbox/sourceScoringWorker';
import { startRunFixture, writePrompt, type RunFixture } from '../support/runFixture';

const uri = (path: string) => `https://file+.vscode-resource.test${path}`;

describe('the panel\'s view of a run (live events and the trace on disk)', function () {
  this.timeout(120_000);
  let fx: RunFixture;
  let events: { e: RunEvent; at: number }[];
  let runDir: string;

  before(async () => {
    fx = await startRunFixture({ processingMs: 200 });
    const { path } = await writePrompt(fx.root, 'cat.txt', 'A cat wearing a tiny golden crown');
    const engine = createEngine({
      token: fx.fake.token,
      apiBaseUrl: fx.fake.url,
      pollIntervalMs: 50,
      modelsDir: fx.modelsDir,
      hubEndpoint: fx.hub.url,
      manifestPath: fx.tiny.manifestPath,
      intraOpNumThreads: 1,
      startScoringWorker: startSourceScoringWorker,
    });
    events = [];
    const result = await engine.start({ prompt: path, options: { numVariations: 3, seed: 40, disabledMetrics: ['vqascore'] } }, { onEvent: (e) => events.push({ e, at: Date.now() }) });
    assert.equal(result.status, 'succeeded');
    runDir = result.runDir;
  });

  after(async () => {
    await fx?.close();
  });

  async function replay(view: LiveRunView, withPanel = true): Promise<ToWebviewEvent[]> {
    const messages: ToWebviewEvent[] = [];
    for (const { e, at } of events) messages.push(...(await view.translate(e, at, withPanel ? uri : null)));
    return messages;
  }

  it('makes only messages the webview accepts, in the order it needs them', async () => {
    const thumbnails: string[] = [];
    const view = new LiveRunView(async (dir, file, index, seed) => {
      thumbnails.push(file);
      return join(dir, '.thumbnails', `seed_${seed}_${index}.webp`);
    });
    const messages = await replay(view);
    for (const m of messages) assert.equal(checkToWebview(m, 'event'), null, `${m.type} passes the webview's check`);
    assert.equal(messages[0].type, 'run/show');
    assert.equal(messages.at(-1)?.type, 'run/finished');
    const saved = messages.filter((m) => m.type === 'run/imageSaved');
    assert.equal(saved.length, 3);
    assert.equal(thumbnails.length, 3, 'a preview per image, made before it is announced');
    for (const m of saved) if (m.type === 'run/imageSaved') assert.match(m.thumbnailUri, /^https:\/\/file\+\.vscode-resource\.test\/.*\.thumbnails\//);
    const final = messages.find((m) => m.type === 'run/ranked' && m.final);
    assert.ok(final?.type === 'run/ranked');
    for (const entry of final.entries) assert.match(entry.imageUri ?? '', new RegExp(`image_00${entry.rank}\\.png$`), 'the renamed file');
  });

  it('an image whose file was renamed before its preview was made gets it from the ranked name, in the final ranking', async () => {
    // A fast run ranks (and renames) before the panel has made every preview: the pending file is
    // gone by then, so the preview is made from the name the final ranking gives.
    const asked: string[] = [];
    const view = new LiveRunView(async (dir, file, index, seed) => {
      asked.push(file);
      return file.startsWith('image_') ? join(dir, '.thumbnails', `seed_${seed}_${index}.webp`) : null;
    });
    const messages = await replay(view);
    for (const m of messages) assert.equal(checkToWebview(m, 'event'), null, `${m.type} passes the webview's check`);
    const saved = messages.filter((m) => m.type === 'run/imageSaved');
    assert.equal(saved.length, 3);
    for (const m of saved) if (m.type === 'run/imageSaved') assert.equal(m.thumbnailUri, m.imageUri, 'the PNG meanwhile');
    const final = messages.find((m) => m.type === 'run/ranked' && m.final);
    assert.ok(final?.type === 'run/ranked');
    assert.equal(final.entries.length, 3);
    for (const entry of final.entries) {
      assert.match(entry.imageUri ?? '', new RegExp(`image_00${entry.rank}\\.png$`));
      assert.match(entry.thumbnailUri ?? '', /\.thumbnails\/seed_\d+_\d\.webp$/, 'the preview, made from the ranked file');
    }
    assert.deepEqual(asked.filter((f) => f.startsWith('image_')).sort(), ['image_001.png', 'image_002.png', 'image_003.png']);
    assert.ok(view.view!.images.every((i) => i.thumbnailUri?.includes('.thumbnails')), 'the state keeps the preview too (a panel opened later)');
    // Previews made in time are not made again.
    const again = new LiveRunView(async (dir, _file, index, seed) => join(dir, '.thumbnails', `seed_${seed}_${index}.webp`));
    const finalAgain = (await replay(again)).find((m) => m.type === 'run/ranked' && m.final);
    assert.ok(finalAgain?.type === 'run/ranked' && finalAgain.entries.every((e) => e.thumbnailUri === undefined));
  });

  it('sends a live preview inline (data: URI) when it can, and keeps its path for a panel opened later', async () => {
    const read: string[] = [];
    const view = new LiveRunView(
      async (dir, _file, index, seed) => join(dir, '.thumbnails', `seed_${seed}_${index}.webp`),
      async (path) => {
        read.push(path);
        return `data:image/webp;base64,${Buffer.from(path).toString('base64')}`;
      },
    );
    const messages = await replay(view);
    for (const m of messages) assert.equal(checkToWebview(m, 'event'), null, `${m.type} passes the webview's check`);
    const saved = messages.filter((m) => m.type === 'run/imageSaved');
    assert.equal(saved.length, 3);
    for (const m of saved) {
      if (m.type !== 'run/imageSaved') continue;
      assert.match(m.thumbnailUri, /^data:image\/webp;base64,/);
      assert.match(Buffer.from(m.thumbnailUri.split(',')[1], 'base64').toString(), new RegExp(`seed_${m.seed}_${m.index}\\.webp$`), 'its own preview');
      assert.match(m.imageUri, /^https:\/\/file\+\.vscode-resource\.test\//, 'the full image by URI');
    }
    assert.equal(read.length, 3);
    const snapshot = view.snapshot(uri)!;
    assert.ok(snapshot.images.every((i) => i.thumbnailUri?.startsWith('https://file+.vscode-resource.test/')), 'a later panel loads the previews by URI');
    // No panel listening: nothing is read for it.
    const quiet = new LiveRunView(async (dir, _file, index, seed) => join(dir, `p_${seed}_${index}.webp`), async () => {
      throw new Error('read with no panel open');
    });
    assert.deepEqual(await replay(quiet, false), []);
  });

  it('keeps paths inside and gives each panel its own URIs; with no panel open it still keeps up', async () => {
    const view = new LiveRunView(async () => null);
    assert.deepEqual(await replay(view, false), [], 'no panel: no messages');
    const run = view.view!;
    assert.equal(run.status, 'succeeded');
    assert.ok(run.images.every((i) => i.imageUri?.startsWith(runDir)), 'paths, not URIs, inside');
    const snapshot = view.snapshot(uri)!;
    for (const image of snapshot.images) {
      assert.equal(image.imageUri, uri(join(runDir, `image_00${image.rank}.png`)));
      assert.ok(existsSync(join(runDir, view.fileOf(image.index)!)), 'fileOf names the file where it is now');
    }
    assert.notEqual(snapshot, view.snapshot(uri), 'a copy per call');
  });

  it('reads the same reopened from the trace as it did live, and makes its history entry', async () => {
    const live = new LiveRunView(async () => null);
    await replay(live, false);
    const recorded = await readRecordedRun(runDir);
    const fromDisk = await runViewFromTrace(recorded, { webview: uri, thumbnail: async () => null });
    const liveView = live.snapshot(uri)!;
    const key = (v: typeof liveView) => ({
      runId: v.runId,
      status: v.status,
      demo: v.demo,
      baseSeed: v.baseSeed,
      rankingFinal: v.rankingFinal,
      comparison: v.comparison,
      cost: { totalUsd: v.cost.totalUsd, unknownCount: v.cost.unknownCount },
      images: v.images.map((i) => ({ seed: i.seed, stage: i.stage, rank: i.rank, overall: i.overall, scores: i.scores, imageUri: i.imageUri, preference: i.preferenceProbability })),
    });
    assert.deepEqual(key(fromDisk), key(liveView));
    assert.equal(checkToWebview({ type: 'run/show', run: fromDisk } as ToWebviewEvent, 'event'), null);

    const entry = await historyEntryFromRun(recorded, 'A cat wearing a tiny silver crown', { webview: uri, thumbnail: async () => 'thumb' });
    assert.equal(entry.runId, recorded.runId);
    assert.equal(entry.imageCount, 3);
    assert.equal(entry.bestOverall, recorded.trace.images[recorded.trace.ranking!.order[0]].overall);
    assert.equal(entry.totalUsd, recorded.trace.costs.total_usd);
    assert.deepEqual(entry.promptDiff.filter((s) => s.op !== 'same').map((s) => `${s.op}:${s.text}`), ['del:golden', 'add:silver']);
  });

  it('shows a rate-limit wait as a notice with its end, and keeps only the last 50 notices', async () => {
    const view = new LiveRunView(async () => null);
    const started = events.find(({ e }) => e.type === 'run-started')!;
    await view.translate(started.e, started.at, uri);
    const until = new Date(Date.now() + 30_000).toISOString();
    const wait = { window: 1, lane: 'create' as const, started_at: new Date().toISOString(), until, wait_ms: 30_000, source: 'retry-after' as const, retry_after: '30', call: 'POST /v1/predictions' };
    const [notice] = await view.translate({ type: 'rate-limited', wait }, Date.now(), uri);
    assert.ok(notice?.type === 'run/notice');
    assert.equal(notice.notice.level, 'wait');
    assert.equal(notice.notice.until, Date.parse(until));
    assert.match(notice.notice.message, /new predictions wait 30 s/);
    assert.equal(checkToWebview(notice, 'event'), null);
    for (let i = 0; i < 60; i++) await view.translate({ type: 'warning', message: `w${i}` }, Date.now(), null);
    assert.equal(view.view!.notices.length, 50);
    assert.equal(view.view!.notices.at(-1)?.message, 'w59');
  });
});
