import * as assert from 'node:assert/strict';
import { applyRunUpdate, displayOrder, isRunActive, runCounts } from '../../src/webview/runModel';
import { FAILED_INDEX, FIXTURE_RUN_ID, fixtureRanking, rankedMessage, savedMessage, scoredMessage, startedRun } from '../support/panelFixture';

// The webview's run state (pure): how host run messages change the run shown and the card order.
const uris = { thumbnail: (i: number) => `t${i}`, full: (i: number) => `f${i}` };

describe('webview run model', () => {
  it('moves an image forward through its stages, never back', () => {
    const run = startedRun();
    assert.deepEqual(applyRunUpdate(run, { type: 'run/imageStatus', runId: FIXTURE_RUN_ID, index: 1, stage: 'processing', model: 'a/b' }), { images: [1], order: false });
    assert.equal(run.images[1].stage, 'processing');
    applyRunUpdate(run, savedMessage(1, uris, 123));
    assert.equal(run.images[1].stage, 'scoring');
    assert.equal(run.images[1].thumbnailUri, 't1');
    assert.equal(run.images[1].savedAt, 123);
    // A late status message (polls can overtake downloads) does not undo the save.
    applyRunUpdate(run, { type: 'run/imageStatus', runId: FIXTURE_RUN_ID, index: 1, stage: 'processing', model: 'a/b' });
    assert.equal(run.images[1].stage, 'scoring');
    applyRunUpdate(run, scoredMessage(1));
    assert.equal(run.images[1].stage, 'scored');
    assert.ok(run.images[1].overall !== null);
  });

  it('ignores messages for another run or an image the run does not have', () => {
    const run = startedRun();
    const before = structuredClone(run);
    assert.equal(applyRunUpdate(run, { ...savedMessage(0, uris), runId: 'another' }), null);
    assert.equal(applyRunUpdate(run, savedMessage(99, uris)), null);
    assert.deepEqual(run, before);
  });

  it('orders ranked images by rank, then the rest by index, failures last', () => {
    const run = startedRun();
    for (const i of [0, 2, 4]) {
      applyRunUpdate(run, savedMessage(i, uris));
      applyRunUpdate(run, scoredMessage(i));
    }
    applyRunUpdate(run, { type: 'run/imageFailed', runId: FIXTURE_RUN_ID, index: FAILED_INDEX, stage: 'generate', error: { code: 'prediction-failed', message: 'no' } });
    assert.deepEqual(displayOrder(run), [0, 1, 2, 3, 4, 6, 7, FAILED_INDEX]);
    applyRunUpdate(run, rankedMessage([0, 2, 4], false));
    const ranked = fixtureRanking([0, 2, 4]).entries.map((e) => e.index);
    assert.deepEqual(displayOrder(run), [...ranked, 1, 3, 6, 7, FAILED_INDEX]);
    assert.equal(run.rankingFinal, false);
    assert.equal(run.comparison?.bestIndex, ranked[0]);
  });

  it('a final ranking replaces ranks and URIs (renamed files) and redraws every card once', () => {
    const run = startedRun(3);
    for (const i of [0, 1, 2]) {
      applyRunUpdate(run, savedMessage(i, uris));
      applyRunUpdate(run, scoredMessage(i));
    }
    const message = rankedMessage([0, 1, 2], true);
    message.entries[0].imageUri = 'renamed.png';
    const change = applyRunUpdate(run, message);
    assert.deepEqual(change?.images.sort(), [0, 1, 2]);
    assert.equal(run.rankingFinal, true);
    assert.equal(run.images[message.entries[0].index].imageUri, 'renamed.png');
    assert.equal(run.images[message.entries[0].index].rank, 1);
  });

  it('ends the run on run/finished: no longer active, cost and status taken', () => {
    const run = startedRun();
    assert.equal(isRunActive(run), true);
    applyRunUpdate(run, { type: 'run/finished', runId: FIXTURE_RUN_ID, status: 'canceled', finishedAt: 5, cost: { totalUsd: 0.006, unknownCount: 1, estimateUsd: null }, error: null });
    assert.equal(isRunActive(run), false);
    assert.equal(run.status, 'canceled');
    assert.equal(run.cost.unknownCount, 1);
    assert.deepEqual(runCounts(run), { planned: 8, onDisk: 0, scored: 0, failed: 0 });
  });
});
