/**
 * The results panel's webview in Chromium, driven through its message protocol by a FakeHost:
 * rendering, live fill-in, compare, keyboard, prompt editing, run controls, history, persistence,
 * and what happens to malformed messages.
 */
import * as assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import type { PanelState, RunView } from '../../src/shared/protocol';
import {
  FAILED_INDEX,
  FIXTURE_MODEL,
  FIXTURE_PROMPT,
  FIXTURE_RUN_ID,
  fixtureHistory,
  fixturePanelState,
  fixtureRanking,
  fixtureScores,
  finishedRun,
  NO_VQA_INDEX,
  NO_VQA_REASON,
  rankedMessage,
  savedMessage,
  scoredMessage,
  startedRun,
} from '../support/panelFixture';
import { FakeHost, HostError, openPanel, pageErrors, sharedEnvironment, type Environment, type PanelOptions } from './harness';
import { DARK } from './themes';

let env: Environment;
let opened: { context: BrowserContext; host: FakeHost }[] = [];

/** Opens the panel with `state` as the answer to the ready request. */
async function open(state: PanelState, options: Partial<PanelOptions> = {}): Promise<{ page: Page; host: FakeHost }> {
  const result = await openPanel(env.browser, env.server, { theme: DARK, ...options, handlers: { 'webview/ready': () => state, ...options.handlers } });
  opened.push(result);
  return result;
}

const card = (page: Page, index: number) => page.locator(`.card[data-index="${index}"]`);
const byTestId = (page: Page, id: string) => page.locator(`[data-testid=${id}]`);

async function cardOrder(page: Page): Promise<number[]> {
  return page.$$eval('.card', (cards) => cards.map((c) => Number((c as HTMLElement).dataset.index)));
}

async function activeIndex(page: Page): Promise<number | null> {
  return page.evaluate(() => {
    const a = document.activeElement as HTMLElement | null;
    return a?.classList.contains('card') ? Number(a.dataset.index) : null;
  });
}

/** Waits until `read` returns `expected` (deep-equal), or fails with the last value. */
async function eventually<T>(what: string, read: () => Promise<T>, expected: T, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    try {
      assert.deepEqual(last, expected);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  assert.deepEqual(last, expected, what);
}

const finalOrder = () => [...fixtureRanking([0, 1, 2, 3, 4, 5, 6, 7]).entries.map((e) => e.index), FAILED_INDEX];

describe('results panel webview (Chromium)', function () {
  this.timeout(120_000);

  before(async () => {
    env = await sharedEnvironment();
  });

  afterEach(async function () {
    for (const { context, host } of opened) {
      if (this.currentTest?.state === 'passed') {
        assert.deepEqual(pageErrors(host), [], 'no uncaught errors in the page');
        assert.deepEqual(await host.cspViolations(), [], 'no CSP violations');
      }
      await context.close();
    }
    opened = [];
  });

  it('renders a finished run: ranked cards, top 3 badged, bars with ARIA values, an absent metric with its reason, the failure last', async () => {
    const { page } = await open(fixturePanelState(finishedRun(env.server.uris)));
    const { entries, comparison } = fixtureRanking([0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(await cardOrder(page), finalOrder());

    for (const [k, label] of ['1st', '2nd', '3rd'].entries()) {
      const badge = card(page, entries[k].index).locator('[data-testid=rank-badge]');
      assert.equal((await badge.textContent())?.trim(), label);
      assert.ok(await badge.isVisible(), `${label} badge visible`);
    }
    assert.equal(await card(page, entries[3].index).locator('[data-testid=rank-badge]').isVisible(), false, 'no badge below 3rd');

    // Every present metric is a meter named with its value; image 3 lacks VQAScore, image 5 failed.
    assert.equal(await page.locator('[role=meter]').count(), 7 * 4 - 1);
    const best = entries[0].index;
    const pick = fixtureScores(best).pickscore;
    assert.ok(pick.value !== null);
    const meter = card(page, best).locator('[data-testid=metric-pickscore] [role=meter]');
    assert.equal(await meter.getAttribute('aria-label'), `PickScore ${pick.value.toFixed(1)} out of 100`);
    assert.equal(await meter.getAttribute('aria-valuenow'), pick.value.toFixed(1));
    assert.equal(await meter.getAttribute('aria-valuemin'), '0');
    assert.equal(await meter.getAttribute('aria-valuemax'), '100');
    assert.equal(await card(page, best).locator('[data-testid=overall]').textContent(), entries[0].overall!.toFixed(1));
    assert.equal(await card(page, best).locator('[data-testid=preference]').textContent(), `${(entries[0].preferenceProbability! * 100).toFixed(1)} % preferred`);
    assert.equal(await card(page, best).locator('[data-testid=meta-seed]').textContent(), `seed ${1000 + best} · flux-schnell`);
    assert.equal(await card(page, best).locator('[data-testid=meta-cost]').textContent(), '$0.003 · official price');

    const absent = card(page, NO_VQA_INDEX).locator('[data-testid=metric-vqascore]');
    assert.equal(await absent.textContent(), `VQAScoreabsent: ${NO_VQA_REASON}`);
    assert.equal(await absent.getAttribute('title'), `VQAScore absent: ${NO_VQA_REASON}`);
    assert.equal(await absent.locator('[role=meter]').count(), 0);
    assert.ok(await absent.getByText(`absent: ${NO_VQA_REASON}`).isVisible());

    const failed = card(page, FAILED_INDEX);
    assert.match((await failed.locator('[data-testid=card-status]').textContent()) ?? '', /Failed.*NSFW content detected/);
    assert.equal(await failed.locator('[data-testid=action-open]').isDisabled(), true);

    assert.match((await byTestId(page, 'run-status').textContent()) ?? '', /Partly succeeded/);
    assert.equal(await byTestId(page, 'run-cost').textContent(), 'Cost $0.021');
    assert.equal(await byTestId(page, 'run-elapsed').textContent(), 'Elapsed 48 s');
    assert.match((await byTestId(page, 'run-why').textContent()) ?? '', new RegExp(`Best: image_001\\.png \\(seed ${1000 + best}\\)`));
    assert.ok(((await byTestId(page, 'run-why').textContent()) ?? '').includes(comparison!.text));
    assert.match((await byTestId(page, 'run-notices').textContent()) ?? '', /rate limit: waited 4 s/);
    assert.equal(await byTestId(page, 'run-button').textContent(), 'Run again');
  });

  for (const reducedMotion of [false, true]) {
    it(`fills in live, keyed per card: placeholders, images as saved (image/shown), scores, provisional then final ranking${reducedMotion ? ', with reduced motion: no animation' : ''}`, async () => {
      const { page, host } = await open(fixturePanelState(null), { reducedMotion });
      assert.ok(await byTestId(page, 'empty-state').isVisible());
      await host.send({ type: 'run/show', run: startedRun() });
      await eventually('eight queued placeholders', () => page.$$eval('[data-testid=card-status]', (s) => s.map((e) => e.textContent)), Array(8).fill('Queued'));
      assert.ok(await byTestId(page, 'cancel-button').isVisible(), 'a live run can be canceled');
      assert.equal(await byTestId(page, 'run-button').isVisible(), false);
      // Mark each card node: keyed updates must keep them.
      await page.$$eval('.card', (cards) => cards.forEach((c) => ((c as HTMLElement & { marker?: string }).marker = (c as HTMLElement).dataset.index)));

      await host.send({ type: 'run/imageStatus', runId: FIXTURE_RUN_ID, index: 0, stage: 'processing', model: FIXTURE_MODEL });
      await eventually('image 0 generating', () => card(page, 0).locator('[data-testid=card-status]').textContent(), 'Generating…');

      const savedAt = Date.now();
      await host.send(savedMessage(2, env.server.uris, savedAt));
      const shown = await host.waitForEvent<{ runId: string; index: number; variant: string; at: number }>('image/shown', (e) => e.index === 2);
      assert.equal(shown.runId, FIXTURE_RUN_ID);
      assert.equal(shown.variant, 'thumbnail');
      assert.ok(shown.at >= savedAt, 'shown after it was saved (same clock)');
      assert.ok(await card(page, 2).locator('.card-image').isVisible());
      assert.equal(await card(page, 2).locator('[data-testid=metric-pickscore] .metric-value').textContent(), '…', 'scores pending');

      await host.send(scoredMessage(2));
      await host.send(savedMessage(0, env.server.uris));
      await host.send(scoredMessage(0));
      await host.send(rankedMessage([0, 2], false));
      const provisional = fixtureRanking([0, 2]).entries.map((e) => e.index);
      await eventually('provisional order: ranked first, the rest by index', () => cardOrder(page), [...provisional, 1, 3, 4, 5, 6, 7]);
      const animations = await page.evaluate(() => document.getAnimations().filter((a) => !(a instanceof CSSAnimation) && !(a instanceof CSSTransition)).length);
      if (reducedMotion) assert.equal(await page.evaluate(() => document.getAnimations().length), 0, 'nothing moves with reduced motion');
      else assert.ok(animations > 0, 'cards glide to their new places');
      const firstBadge = card(page, provisional[0]).locator('[data-testid=rank-badge]');
      assert.match((await firstBadge.getAttribute('class')) ?? '', /provisional/);

      await host.send({ type: 'run/imageFailed', runId: FIXTURE_RUN_ID, index: FAILED_INDEX, stage: 'generate', error: { code: 'prediction-failed', message: 'NSFW content detected.' } });
      for (const i of [1, 3, 4, 6, 7]) {
        // Image 3's preview is gone (its file moved before the host made it): the card falls back to the PNG.
        const saved = savedMessage(i, env.server.uris);
        await host.send(i === 3 ? { ...saved, thumbnailUri: env.server.uris.thumbnail(i).replace(/[^/]+$/, 'moved-away.webp') } : saved);
        await host.send(scoredMessage(i));
      }
      await host.send(rankedMessage([0, 1, 2, 3, 4, 5, 6, 7], true));
      await host.send({ type: 'run/finished', runId: FIXTURE_RUN_ID, status: 'partial', finishedAt: Date.now(), cost: { totalUsd: 0.021, unknownCount: 0, estimateUsd: 0.024 }, error: null });
      await eventually('final order', () => cardOrder(page), finalOrder());
      assert.doesNotMatch((await firstBadge.getAttribute('class')) ?? '', /provisional/);
      await eventually('Run again after the run', () => byTestId(page, 'run-button').textContent(), 'Run again');
      assert.equal(await byTestId(page, 'cancel-button').isVisible(), false);

      const kept = await page.$$eval('.card', (cards) => cards.every((c) => (c as HTMLElement & { marker?: string }).marker === (c as HTMLElement).dataset.index));
      assert.ok(kept, 'the same card nodes, moved, not re-rendered');
      await host.waitFor('7 thumbnails shown', () => host.events('image/shown').length >= 7);
      const shownIndices = host.events<{ index: number }>('image/shown').map((e) => e.index).sort();
      assert.deepEqual(shownIndices, [0, 1, 2, 3, 4, 6, 7], 'each saved image reported shown exactly once');
      assert.equal(await card(page, 3).locator('.card-image').getAttribute('src'), env.server.uris.full(3), 'a preview that fails to load gives way to the full image');
      assert.ok(await card(page, 3).locator('.card-image').isVisible());
    });
  }

  it('compares two selected images side by side with their score rows aligned; Escape closes', async () => {
    const { page, host } = await open(fixturePanelState(finishedRun(env.server.uris)));
    const order = finalOrder();
    await card(page, order[0]).focus();
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Space');
    assert.equal(await byTestId(page, 'selection-count').textContent(), '2 selected');
    await byTestId(page, 'compare-button').click();
    const dialog = byTestId(page, 'compare');
    await dialog.waitFor({ state: 'visible' });
    assert.equal(await dialog.locator('[data-testid=compare-column]').count(), 2);
    assert.match((await dialog.locator('.compare-title').textContent()) ?? '', /Compare 2 images/);

    // Row by row, every cell of a row shares its top edge with the row's label.
    const misaligned = await dialog.evaluate((d) =>
      Array.from(d.querySelectorAll('tbody tr')).flatMap((row) => {
        const tops = Array.from(row.children).map((c) => Math.round(c.getBoundingClientRect().top));
        return tops.every((t) => t === tops[0]) ? [] : [`${row.getAttribute('data-testid')}: ${tops.join(',')}`];
      }),
    );
    assert.deepEqual(misaligned, []);
    const rows = await dialog.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-testid')));
    assert.deepEqual(rows, ['compare-row-rank', 'compare-row-overall', 'compare-row-pickscore', 'compare-row-clip_score', 'compare-row-vqascore', 'compare-row-aesthetic', 'compare-row-preference', 'compare-row-cost', 'compare-row-seed', 'compare-row-model']);
    const pickRow = dialog.locator('[data-testid=compare-row-pickscore] [role=meter]');
    assert.deepEqual(
      await pickRow.evaluateAll((ms) => ms.map((m) => m.getAttribute('aria-valuenow'))),
      order.slice(0, 2).map((i) => (fixtureScores(i).pickscore.value as number).toFixed(1)),
    );
    await host.waitFor('both full images shown', () => host.events<{ variant: string }>('image/shown').filter((e) => e.variant === 'full').length === 2);

    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.testid), 'compare-button', 'focus returns to where it was');
  });

  it('is fully keyboard-driven: arrows move by rows and columns, Space selects, Enter enlarges, Escape closes; visible focus', async () => {
    const { page } = await open(fixturePanelState(finishedRun(env.server.uris), fixtureHistory(env.server.uris)));
    const order = await cardOrder(page);
    const columns = await page.$$eval('.card', (cards) => cards.filter((c) => (c as HTMLElement).offsetTop === (cards[0] as HTMLElement).offsetTop).length);
    assert.ok(columns >= 2 && columns < order.length, `a multi-row grid (${columns} columns)`);

    // Tab from the top reaches every control once, and exactly one card (roving tab stop).
    const stops: string[] = [];
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      const id = await page.evaluate(() => {
        const a = document.activeElement as HTMLElement;
        return a.dataset.testid ?? a.id ?? a.tagName;
      });
      if (stops.includes(id) && id === stops[0]) break;
      stops.push(id);
    }
    for (const id of ['prompt-text', 'plan-model', 'plan-count', 'plan-aspect-ratio', 'plan-seed', 'run-button', 'card', 'select', 'action-open', 'action-reveal', 'action-copySeed', 'action-copyPath', 'action-rerun', 'history-entry']) {
      assert.ok(stops.includes(id), `Tab reaches ${id} (stops: ${stops.join(' ')})`);
    }
    assert.equal(stops.filter((s) => s === 'card').length, 1, 'one tab stop for the whole grid');

    await card(page, order[0]).focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await activeIndex(page), order[1]);
    const ring = await page.evaluate(() => {
      const s = getComputedStyle(document.activeElement!);
      return `${s.outlineStyle} ${s.outlineColor}`;
    });
    assert.equal(ring, 'solid rgb(0, 120, 212)', 'focus ring in --vscode-focusBorder');
    await page.keyboard.press('ArrowDown');
    assert.equal(await activeIndex(page), order[1 + columns]);
    await page.keyboard.press('ArrowLeft');
    assert.equal(await activeIndex(page), order[columns]);
    await page.keyboard.press('ArrowUp');
    assert.equal(await activeIndex(page), order[0]);
    await page.keyboard.press('End');
    assert.equal(await activeIndex(page), order[order.length - 1]);
    await page.keyboard.press('Home');
    assert.equal(await activeIndex(page), order[0]);

    const toggle = card(page, order[0]).locator('[data-testid=select]');
    await page.keyboard.press('Space');
    assert.equal(await toggle.getAttribute('aria-checked'), 'true');
    await page.keyboard.press('Space');
    assert.equal(await toggle.getAttribute('aria-checked'), 'false');

    await page.keyboard.press('Enter');
    const dialog = byTestId(page, 'compare');
    await dialog.waitFor({ state: 'visible' });
    assert.equal(await dialog.locator('[data-testid=compare-column]').count(), 1, 'Enter enlarges one image');
    assert.match((await dialog.getAttribute('class')) ?? '', /single/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await activeIndex(page), order[0], 'focus back on the card');

    // A fifth selection is refused: compare takes 2–4.
    for (const i of order.slice(0, 5)) {
      await card(page, i).focus();
      await page.keyboard.press('Space');
    }
    assert.equal(await byTestId(page, 'selection-count').textContent(), '4 selected');
    assert.equal(await card(page, order[4]).locator('[data-testid=select]').getAttribute('aria-disabled'), 'true');
    await page.keyboard.press('Escape');
    assert.equal(await byTestId(page, 'selection-count').textContent(), 'Select 2–4 to compare', 'Escape on the grid clears the selection');
  });

  it('sends prompt edits as prompt/edit with the full text, shows dirty state from the host, saves on request', async () => {
    const { page, host } = await open(fixturePanelState(null), {
      handlers: { 'prompt/edit': () => ({ applied: true }), 'prompt/save': () => ({ saved: true }), 'run/start': () => ({ runId: 'r2' }) },
    });
    const textarea = byTestId(page, 'prompt-text');
    assert.equal(await textarea.inputValue(), FIXTURE_PROMPT);
    assert.equal(await byTestId(page, 'prompt-dirty').isVisible(), false);
    await textarea.click();
    await page.keyboard.press('End');
    await page.keyboard.type(', golden hour');
    const edited = `${FIXTURE_PROMPT}, golden hour`;
    await host.waitForRequest('prompt/edit', (r) => r.text === edited);
    for (const r of host.requests('prompt/edit')) assert.ok(r.text.startsWith(FIXTURE_PROMPT), 'each edit carries the whole text');

    const prompt = fixturePanelState(null).prompt;
    await host.send({ type: 'prompt/changed', prompt: { ...prompt, text: edited }, dirty: true });
    await byTestId(page, 'prompt-dirty').waitFor({ state: 'visible' });
    await byTestId(page, 'prompt-save').click();
    await host.waitForRequest('prompt/save');

    // An edit from the editor replaces the text when nothing is being typed…
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await host.send({ type: 'prompt/changed', prompt: { ...prompt, text: 'A red fox asleep in snow' }, dirty: false });
    await eventually('external edit shown', () => textarea.inputValue(), 'A red fox asleep in snow');
    assert.equal(await byTestId(page, 'prompt-dirty').isVisible(), false);
    // …but not over keystrokes still on their way to the host.
    await textarea.click();
    await page.keyboard.press('End');
    await page.keyboard.type('!');
    await host.send({ type: 'prompt/changed', prompt: { ...prompt, text: 'A red fox asleep in snow' }, dirty: false });
    assert.equal(await textarea.inputValue(), 'A red fox asleep in snow!');
    await host.waitForRequest('prompt/edit', (r) => r.text === 'A red fox asleep in snow!');

    await page.keyboard.press('Control+Enter');
    const start = await host.waitForRequest('run/start');
    assert.equal(start.demo, false);
  });

  it('ignores malformed messages, reports each back as webview/invalidMessage, and keeps working', async () => {
    const { page, host } = await open(fixturePanelState(finishedRun(env.server.uris)));
    const before = await cardOrder(page);
    const badRun = finishedRun(env.server.uris) as RunView;
    (badRun.images[0].scores!.pickscore as unknown as { value: string }).value = 'high';
    await host.post('not an envelope');
    await host.post({ kind: 'event', body: { type: 'run/imageSaved', runId: FIXTURE_RUN_ID, index: 'x' } });
    await host.post({ kind: 'event', body: { type: 'run/selfDestruct' } });
    await host.post({ kind: 'event', body: { type: 'run/show', run: badRun } });
    await host.post({ kind: 'response', inReplyTo: 4242, ok: true, body: {} });
    await host.post({ kind: 'request', id: 77, body: { type: 'run/explode' } });
    const reasons = await host.waitFor('six reports', () => {
      const r = host.events<{ messageType: string | null; reason: string }>('webview/invalidMessage');
      return r.length >= 6 && r;
    });
    assert.equal(reasons[0].reason, 'not an envelope');
    assert.match(reasons[1].reason, /run\/imageSaved\.index/);
    assert.equal(reasons[1].messageType, 'run/imageSaved');
    assert.match(reasons[2].reason, /unknown message type "run\/selfDestruct"/);
    assert.match(reasons[3].reason, /run\.images\[0\]\.scores\.pickscore/);
    assert.match(reasons[4].reason, /response to no pending request/);
    assert.match(reasons[5].reason, /invalid request/);
    const answer = await host.waitFor('an error answer to the unknown request', () => host.received.find((e) => e.kind === 'response' && e.inReplyTo === 77));
    assert.equal((answer as unknown as { ok: boolean }).ok, false, 'the request still settles');
    assert.deepEqual(await cardOrder(page), before, 'the grid is untouched');

    await host.send({ type: 'run/notice', runId: FIXTURE_RUN_ID, notice: { level: 'warning', message: 'Still listening.', at: Date.now() } });
    await eventually('a valid message after the bad ones applies', async () => ((await byTestId(page, 'run-notices').textContent()) ?? '').includes('Still listening.'), true);
  });

  it('offers Set token and Run DEMO when the token is missing; a token-missing answer to Run brings the offer back', async () => {
    const missing = { ...fixturePanelState(null), token: { status: 'missing' as const, account: null, demoAvailable: true } };
    const { page, host } = await open(missing, {
      handlers: { 'token/set': () => ({ status: 'set', account: 'ada', demoAvailable: true }), 'run/start': () => ({ runId: 'demo-run' }) },
    });
    const banner = byTestId(page, 'token-banner');
    assert.ok(await banner.isVisible());
    assert.match((await banner.textContent()) ?? '', /No Replicate API token is set/);
    await byTestId(page, 'run-demo').click();
    const demo = await host.waitForRequest('run/start');
    assert.deepEqual({ demo: demo.demo, plan: demo.plan }, { demo: true, plan: { model: FIXTURE_MODEL, numVariations: 8, aspectRatio: '16:9', seed: null } });
    await byTestId(page, 'set-token').click();
    await host.waitForRequest('token/set');
    await banner.waitFor({ state: 'hidden' });

    host.handle({
      'run/start': () => {
        throw new HostError('token-invalid', 'Replicate refused the token.', 'Set a new token.');
      },
    });
    await byTestId(page, 'run-button').click();
    await banner.waitFor({ state: 'visible' });
    assert.match((await banner.textContent()) ?? '', /did not accept the stored API token/);
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.testid), 'set-token');
  });

  it('runs with the plan controls, refuses a bad plan, re-runs from an image seed, and sends image actions by reference', async () => {
    const run = finishedRun(env.server.uris);
    const { page, host } = await open(fixturePanelState(run), {
      handlers: {
        'run/start': () => ({ runId: 'next' }),
        'image/open': () => undefined,
        'image/reveal': () => undefined,
        'image/copySeed': () => undefined,
        'image/copyPath': () => undefined,
      },
    });
    await byTestId(page, 'plan-count').fill('4');
    await byTestId(page, 'plan-aspect-ratio').selectOption('1:1');
    await byTestId(page, 'plan-seed').fill('42');
    assert.equal(await byTestId(page, 'plan-seed-range').textContent(), '42 … 45');
    await byTestId(page, 'run-button').click();
    const start = await host.waitForRequest('run/start');
    assert.deepEqual(
      { plan: start.plan, demo: start.demo, fromImage: start.fromImage },
      { plan: { model: FIXTURE_MODEL, numVariations: 4, aspectRatio: '1:1', seed: 42 }, demo: false, fromImage: null },
    );

    await byTestId(page, 'plan-count').fill('17');
    await byTestId(page, 'run-button').click();
    assert.match((await byTestId(page, 'plan-problem').textContent()) ?? '', /Images must be a whole number from 1 to 16/);
    assert.equal(host.requests('run/start').length, 1, 'no run with a bad plan');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.testid), 'plan-count');
    await byTestId(page, 'plan-count').fill('8');

    const best = finalOrder()[0];
    const ref = { runId: FIXTURE_RUN_ID, index: best };
    for (const action of ['open', 'reveal', 'copySeed', 'copyPath'] as const) {
      await card(page, best).locator(`[data-testid=action-${action}]`).click();
      const sent = await host.waitForRequest(`image/${action}`);
      assert.deepEqual(sent.image, ref);
    }
    await eventually('copy announced', () => byTestId(page, 'announcer').textContent(), `Path of image #${best + 1} copied`);

    const other = finalOrder()[3];
    await card(page, other).locator('[data-testid=action-rerun]').click();
    const rerun = await host.waitFor('the re-run', () => host.requests('run/start')[1]);
    assert.deepEqual(rerun.fromImage, { runId: FIXTURE_RUN_ID, index: other });
    assert.equal(rerun.plan.seed, 1000 + other);
    assert.equal(rerun.plan.model, FIXTURE_MODEL);
    assert.equal(await byTestId(page, 'plan-seed').inputValue(), String(1000 + other), 'the controls show the seed used');

    host.handle({
      'image/open': () => {
        throw new HostError('write-failed', 'Cannot open image_001.png.', 'Check that the run folder still exists.');
      },
    });
    await card(page, best).locator('[data-testid=action-open]').click();
    await byTestId(page, 'error-banner').waitFor({ state: 'visible' });
    assert.equal(await byTestId(page, 'error-banner').textContent(), 'Cannot open image_001.png. Check that the run folder still exists.');
  });

  it('cancels a live run: Cancel sends run/cancel, shows Canceling…, and the run ends as canceled', async () => {
    const { page, host } = await open(fixturePanelState(startedRun()), { handlers: { 'run/cancel': () => ({ canceling: true }) } });
    await byTestId(page, 'cancel-button').click();
    const cancel = await host.waitForRequest('run/cancel');
    assert.equal(cancel.runId, FIXTURE_RUN_ID);
    await eventually('canceling', () => byTestId(page, 'cancel-button').textContent(), 'Canceling…');
    assert.equal(await byTestId(page, 'cancel-button').isDisabled(), true);
    await host.send({ type: 'run/finished', runId: FIXTURE_RUN_ID, status: 'canceled', finishedAt: Date.now(), cost: { totalUsd: 0, unknownCount: 0, estimateUsd: null }, error: null });
    await byTestId(page, 'run-button').waitFor({ state: 'visible' });
    assert.match((await byTestId(page, 'run-status').textContent()) ?? '', /Canceled/);
  });

  it('lists history with prompt diffs and opens an earlier run with history/open', async () => {
    const older = { ...finishedRun(env.server.uris), runId: '20261124_131955', status: 'succeeded' as const };
    const { page, host } = await open(fixturePanelState(finishedRun(env.server.uris), fixtureHistory(env.server.uris)), {
      handlers: { 'history/open': (r) => ({ ...older, runId: r.runId }) },
    });
    const entries = byTestId(page, 'history-entry');
    assert.equal(await entries.count(), 3);
    assert.equal(await entries.nth(0).getAttribute('aria-current'), 'true');
    assert.equal(await entries.nth(0).locator('[data-testid=history-diff]').textContent(), 'Same prompt as now');
    assert.deepEqual(await entries.nth(1).locator('ins').allTextContents(), ['basalt ', ', 35mm film grain']);
    assert.ok((await entries.nth(2).locator('del').allTextContents()).includes('stormy'));
    await entries.nth(1).click();
    const request = await host.waitForRequest('history/open');
    assert.equal(request.runId, '20261124_131955');
    await eventually('the old run shown', () => entries.nth(1).getAttribute('aria-current'), 'true');
    assert.equal(await entries.nth(0).getAttribute('aria-current'), null);
    assert.match((await byTestId(page, 'run-status').textContent()) ?? '', /Succeeded/);
  });

  it('persists only its identity (prompt, run, selection, scroll) and restores the selection after a reload', async () => {
    const state = fixturePanelState(finishedRun(env.server.uris), fixtureHistory(env.server.uris));
    const { page, host } = await open(state, { viewport: { width: 1000, height: 600 } });
    const order = finalOrder();
    await card(page, order[1]).locator('[data-testid=select]').click();
    await card(page, order[2]).locator('[data-testid=select]').click();
    await page.evaluate(() => window.scrollTo(0, 300));
    await eventually('persisted identity', () => host.persisted(), { promptUri: state.prompt.uri, runId: FIXTURE_RUN_ID, selection: [order[1], order[2]], scroll: 300 });

    const persisted = await host.persisted();
    const reloaded = await open(state, { persisted, viewport: { width: 1000, height: 600 } });
    const ready = await reloaded.host.waitForRequest('webview/ready');
    assert.deepEqual(ready.restore, { runId: FIXTURE_RUN_ID });
    assert.equal(await card(reloaded.page, order[1]).locator('[data-testid=select]').getAttribute('aria-checked'), 'true');
    assert.equal(await byTestId(reloaded.page, 'selection-count').textContent(), '2 selected');
    await eventually('scroll restored', () => reloaded.page.evaluate(() => Math.round(window.scrollY)), 300);
  });
});
