import * as assert from 'node:assert/strict';
import type { FromWebviewEvent, FromWebviewRequest, ToWebviewEvent } from '../../src/shared/protocol';
import { checkFromWebview, checkResponseFromWebview, checkResponseToWebview, checkToWebview } from '../../src/shared/protocolGuards';
import { finishedRun, fixtureHistory, fixturePanelState, rankedMessage, savedMessage, scoredMessage, startedRun } from '../support/panelFixture';

const uris = { thumbnail: (i: number) => `https://file+.vscode-resource.test/run/thumb_${i}.webp`, full: (i: number) => `https://file+.vscode-resource.test/run/image_${i}.png` };
const clone = <T>(v: T): T => structuredClone(v);

describe('protocol receipt checks', () => {
  it('accepts every well-formed host event of the fixture run', () => {
    const run = finishedRun(uris);
    const events: ToWebviewEvent[] = [
      { type: 'panel/state', state: fixturePanelState(run, fixtureHistory(uris)) },
      { type: 'panel/state', state: fixturePanelState(null) },
      { type: 'run/show', run: startedRun() },
      { type: 'run/phase', runId: run.runId, phase: 'score', detail: 'loading PickScore (first use)' },
      { type: 'run/imageStatus', runId: run.runId, index: 2, stage: 'processing', model: 'black-forest-labs/flux-schnell' },
      savedMessage(2, uris),
      scoredMessage(3),
      rankedMessage([0, 1, 2, 3], false),
      { type: 'run/imageFailed', runId: run.runId, index: 5, stage: 'generate', error: { code: 'prediction-failed', message: 'NSFW' } },
      { type: 'run/cost', runId: run.runId, cost: { totalUsd: 0.006, unknownCount: 1, estimateUsd: null } },
      { type: 'run/notice', runId: run.runId, notice: { level: 'wait', message: 'rate limit', at: 1, until: 5 } },
      { type: 'run/finished', runId: run.runId, status: 'partial', finishedAt: 2, cost: run.cost, error: null },
      { type: 'history/changed', entries: fixtureHistory(uris) },
      { type: 'prompt/changed', prompt: fixturePanelState(null).prompt, dirty: true },
      { type: 'plan/changed', plan: fixturePanelState(null).plan },
      { type: 'token/changed', token: { status: 'missing', account: null, demoAvailable: true } },
    ];
    for (const e of events) assert.equal(checkToWebview(e, 'event'), null, e.type);
  });

  it('names the problem of a malformed host event', () => {
    const run = finishedRun(uris);
    const badScore = clone(run);
    (badScore.images[0].scores!.pickscore as { value: unknown }).value = '71';
    assert.match(checkToWebview({ type: 'run/show', run: badScore } as ToWebviewEvent, 'event')!, /run\.images\[0\]\.scores\.pickscore/);
    const absentWithoutReason = clone(run);
    absentWithoutReason.images[1].scores!.vqascore = { value: null } as never;
    assert.match(checkToWebview({ type: 'run/show', run: absentWithoutReason } as ToWebviewEvent, 'event')!, /vqascore/);
    const outOfOrder = clone(run);
    outOfOrder.images.reverse();
    assert.match(checkToWebview({ type: 'run/show', run: outOfOrder } as ToWebviewEvent, 'event')!, /not listed by index/);
    assert.match(checkToWebview({ type: 'run/imageSaved', runId: 'r', index: -1 } as never, 'event')!, /index/);
    assert.match(checkToWebview({ type: 'run/explode' } as never, 'event')!, /unknown message type "run\/explode"/);
    assert.match(checkToWebview({ type: 'run/cost', runId: 'r', cost: { totalUsd: Number.NaN, unknownCount: 0, estimateUsd: null } } as never, 'event')!, /totalUsd/);
    // Requests have their own table: an event name is not a request.
    assert.match(checkToWebview({ type: 'run/show' } as never, 'request')!, /unknown/);
  });

  it('checks webview requests before the host acts on them', () => {
    const ok: FromWebviewRequest[] = [
      { type: 'webview/ready', restore: null },
      { type: 'webview/ready', restore: { runId: '20261124_140312' } },
      { type: 'prompt/edit', text: 'a fox' },
      { type: 'run/start', plan: { model: 'a/b', numVariations: 16, aspectRatio: '9:16', seed: 4294967295 }, demo: false, fromImage: null },
      { type: 'run/start', plan: { model: 'a/b', numVariations: 1, aspectRatio: '1:1', seed: null }, demo: true, fromImage: { runId: 'r', index: 3 } },
      { type: 'image/copyPath', image: { runId: 'r', index: 0 } },
      { type: 'history/open', runId: 'r' },
    ];
    for (const r of ok) assert.equal(checkFromWebview(r, 'request'), null, r.type);
    const plan = { model: 'a/b', numVariations: 8, aspectRatio: '16:9', seed: null };
    assert.match(checkFromWebview({ type: 'run/start', plan: { ...plan, numVariations: 17 }, demo: false, fromImage: null } as never, 'request')!, /outside 1–16/);
    assert.match(checkFromWebview({ type: 'run/start', plan: { ...plan, aspectRatio: '2:1' }, demo: false, fromImage: null } as never, 'request')!, /aspectRatio/);
    assert.match(checkFromWebview({ type: 'run/start', plan: { ...plan, seed: 1.5 }, demo: false, fromImage: null } as never, 'request')!, /seed/);
    assert.match(checkFromWebview({ type: 'image/open', image: { runId: 'r', index: '../../etc/passwd' } } as never, 'request')!, /index/);
    assert.match(checkFromWebview({ type: 'prompt/edit', text: 'x'.repeat(100 * 1024 + 1) } as never, 'request')!, /100 KB/);
    const shown: FromWebviewEvent = { type: 'image/shown', runId: 'r', index: 0, variant: 'thumbnail', at: Date.now() };
    assert.equal(checkFromWebview(shown, 'event'), null);
    assert.match(checkFromWebview({ type: 'image/shown', runId: 'r', index: 0, variant: 'huge', at: 1 } as never, 'event')!, /variant/);
  });

  it('checks answers by the request they answer', () => {
    assert.equal(checkResponseToWebview('webview/ready', fixturePanelState(finishedRun(uris))), null);
    assert.match(checkResponseToWebview('webview/ready', { prompt: {} })!, /answer to webview\/ready\.prompt\.uri/);
    assert.equal(checkResponseToWebview('run/start', { runId: 'r' }), null);
    assert.equal(checkResponseToWebview('image/open', undefined), null);
    assert.match(checkResponseToWebview('history/open', null)!, /not an object/);
    assert.equal(checkResponseFromWebview('webview/ping', 'pong'), null);
    assert.match(checkResponseFromWebview('webview/ping', 'ping')!, /pong/);
  });
});
