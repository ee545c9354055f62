// A new user without a Replicate token, in the packaged VSIX: the DEMO offer, a run that fills the
// ranked grid, compare, edit and run again, history, the keyboard, the latency of the grid, and
// screenshots in three themes. One code-server for the group; every test writes its own prompt
// file and starts from a clean editor area, so each passes alone (npm run test:e2e -- --grep …).
import * as assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { installLatencyProbe, median, readLatencySamples } from './latencyProbe.mjs';
import {
  byTestId,
  clickToastButton,
  demoOffer,
  eventually,
  generateFromPalette,
  METRICS,
  panel,
  panelFrame,
  readCards,
  readRunFolder,
  runFolders,
  shownScore,
  waitForRankedGrid,
} from './resultsPanel.mjs';
import { openSession, outputRoot, screenshotsDir } from './session.mjs';
import { runCommand, waitForValue } from './workbench.mjs';

const IMAGES = 8;

describe('DEMO loop without a token (packaged VSIX in code-server)', function () {
  this.timeout(300_000);
  /** @type {import('./session.mjs').Session} */
  let session;

  before(async function () {
    this.timeout(600_000);
    // VS Code for the web (code-server) saves edits after 1 s by default; desktop VS Code does not.
    // Off, as on the desktop, so an edit from the panel stays an unsaved change the test can see.
    session = await openSession('demo', {
      userSettings: {
        'files.autoSave': 'off',
        // The screenshots start from this theme (the Color Theme picker only searches the
        // marketplace here, which this machine cannot reach; the test edits settings.json instead).
        'workbench.colorTheme': 'Light Modern',
        // Settings JSON opens in a tab, not a modal editor (VS Code 1.10x opens some editors modally).
        'workbench.editor.useModal': 'off',
        // The new settings text goes in as typed: nothing indented or closed for it.
        'editor.autoIndent': 'none',
        'editor.autoClosingBrackets': 'never',
        'editor.autoClosingQuotes': 'never',
        'editor.autoSurround': 'never',
      },
    });
  });

  after(async () => {
    await session?.close();
  });

  beforeEach(async () => {
    await session.resetEditors();
  });

  afterEach(async function () {
    await session.screenshotFailure(this.currentTest);
  });

  /** Writes a prompt of this test's own, and runs the DEMO on it from the palette; returns the prompt file. */
  async function demoRunFromPalette(name, text, { beforeRun } = {}) {
    const file = session.writePrompt(name, text);
    await generateFromPalette(session.page, relative(session.workspace, file));
    const offer = demoOffer(session.page);
    await offer.waitFor({ timeout: 60_000 });
    if (beforeRun) await beforeRun();
    await clickToastButton(offer, 'Run DEMO');
    return file;
  }

  it('runs "Generate Images from Prompt" from the palette, offers the DEMO without a token, and fills the ranked grid that matches the files the run wrote', async () => {
    const prompt = 'A lighthouse on a basalt cliff at dusk, long exposure, waves turned to mist';
    const file = await demoRunFromPalette('palette-demo.txt', prompt);
    const webview = panel(session.page);
    assert.equal(await waitForValue(byTestId(webview, 'prompt-text'), prompt), prompt);
    const runDir = await waitForRankedGrid(webview, file, 1, IMAGES);
    assert.equal(runFolders(file).length, 1, 'one run folder next to the prompt');
    const { files, metadata, trace } = readRunFolder(runDir);
    assert.equal(trace.demo, true, 'the trace says DEMO');
    assert.equal(metadata.length, IMAGES);
    assert.deepEqual(metadata.map((m) => m.rank), Array.from({ length: IMAGES }, (_, i) => i + 1));
    for (const f of ['generation_trace.json', 'best_candidate.png', 'summary.md', ...metadata.map((m) => m.file)]) assert.ok(files.includes(f), `${f} in the run folder`);
    assert.ok(await byTestId(webview, 'summary').locator('.demo-badge:visible').count(), 'the run is labelled DEMO');

    // The grid, in order, is the ranking on disk: rank, overall, preference and every bar.
    const cards = await readCards(webview);
    assert.equal(cards.length, IMAGES);
    for (const [k, card] of cards.entries()) {
      const m = metadata[k];
      const where = `card ${k + 1} (image index ${card.index})`;
      assert.equal(card.stage, 'scored', where);
      assert.ok(card.imageShown, `${where}: picture shown`);
      assert.equal(card.rank, `#${m.rank}`, `${where}: rank`);
      assert.equal(card.seedLine, `seed ${m.seed} · ${m.model.name.split('/').pop()}`, `${where}: seed and model`);
      assert.equal(trace.images[card.index].seed, m.seed, `${where}: the card's index is the generation index of that seed`);
      assert.equal(card.overall, m.overall.value === null ? '—' : shownScore(m.overall.value), `${where}: overall`);
      if (m.preference_probability !== null) assert.equal(card.preference, `${(m.preference_probability * 100).toFixed(1)} % preferred`, `${where}: preference`);
      for (const { id, label } of METRICS) {
        const value = m.scores[id].value;
        const bar = card.metrics[id];
        if (value === null) {
          assert.equal(bar.state, 'absent', `${where}: ${id} absent`);
          assert.equal(bar.reason, `absent: ${m.scores[id].reason}`, `${where}: ${id} reason`);
        } else {
          assert.equal(bar.ariaLabel, `${label} ${shownScore(value)} out of 100`, `${where}: ${id} bar`);
          assert.equal(bar.ariaValueNow, shownScore(value), `${where}: ${id} value`);
        }
      }
      assert.equal(card.badge, m.rank <= 3 ? ['1st', '2nd', '3rd'][m.rank - 1] : null, `${where}: top-3 badge`);
    }
    assert.ok(cards.some((c) => Object.values(c.metrics).some((b) => b.state === 'value')), 'some bars carry values');
  });

  it('compares two cards selected with Space: both side by side, rows aligned, values from the files; Escape closes', async () => {
    const file = await demoRunFromPalette('compare-demo.txt', 'A red fox curled up asleep in fresh snow, soft morning light');
    const webview = panel(session.page);
    const { metadata } = readRunFolder(await waitForRankedGrid(webview, file, 1, IMAGES));
    const cards = await readCards(webview);

    await webview.locator(`.card[data-index="${cards[0].index}"]`).focus();
    await session.page.keyboard.press('Space');
    await session.page.keyboard.press('ArrowRight');
    await session.page.keyboard.press('Space');
    assert.equal(await byTestId(webview, 'selection-count').textContent(), '2 selected');
    await byTestId(webview, 'compare-button').click();
    const dialog = byTestId(webview, 'compare');
    await dialog.waitFor({ state: 'visible', timeout: 30_000 });
    assert.equal(await dialog.locator('[data-testid=compare-column]').count(), 2);
    assert.match((await dialog.locator('.compare-title').textContent()) ?? '', /Compare 2 images/);
    // Both full-size pictures load.
    await eventually('both pictures loaded', () => dialog.locator('img.compare-image').evaluateAll((imgs) => imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0)));

    // Row by row, every cell shares its top edge with the row's label: the breakdowns line up.
    const misaligned = await dialog.evaluate((d) =>
      Array.from(d.querySelectorAll('tbody tr')).flatMap((row) => {
        const tops = Array.from(row.children).map((c) => Math.round(c.getBoundingClientRect().top));
        return tops.every((t) => t === tops[0]) ? [] : [`${row.getAttribute('data-testid')}: ${tops.join(',')}`];
      }),
    );
    assert.deepEqual(misaligned, []);
    const rowText = (id) => dialog.locator(`[data-testid=compare-row-${id}] td`).allTextContents();
    assert.deepEqual(await rowText('rank'), ['#1', '#2']);
    assert.deepEqual(await rowText('overall'), metadata.slice(0, 2).map((m) => (m.overall.value === null ? '—' : shownScore(m.overall.value))));
    assert.deepEqual(await rowText('seed'), metadata.slice(0, 2).map((m) => String(m.seed)));
    for (const { id, label } of METRICS) {
      const labels = await dialog.locator(`[data-testid=compare-row-${id}] td`).evaluateAll((tds) => tds.map((td) => td.querySelector('[role=meter]')?.getAttribute('aria-label') ?? null));
      assert.deepEqual(
        labels,
        metadata.slice(0, 2).map((m) => (m.scores[id].value === null ? null : `${label} ${shownScore(m.scores[id].value)} out of 100`)),
        `${id} row`,
      );
    }

    await session.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
    assert.equal(await webview.locator(':focus').getAttribute('data-testid'), 'compare-button', 'focus back where it was');
  });

  it('edits the prompt in the panel as an editor edit (dirty, not saved), runs again, lists both runs in History with the diff, and opens the older run', async () => {
    const before = 'A paper boat on a rain puddle, city lights reflected';
    const file = await demoRunFromPalette('edit-demo.txt', before);
    const webview = panel(session.page);
    const firstRun = await waitForRankedGrid(webview, file, 1, IMAGES);

    const textarea = byTestId(webview, 'prompt-text');
    await textarea.click();
    await session.page.keyboard.press('End');
    await session.page.keyboard.type(', at golden hour');
    const after = `${before}, at golden hour`;
    await byTestId(webview, 'prompt-dirty').waitFor({ state: 'visible', timeout: 30_000 });
    // The edit went to the document: the prompt's editor shows it, dirty; the file on disk is as it was.
    await byTestId(webview, 'prompt-file').click();
    const tab = session.page.locator('.tabs-container .tab[data-resource-name="edit-demo.txt"]');
    await tab.waitFor({ timeout: 30_000 });
    await eventually('the editor tab marked dirty', async () => /\bdirty\b/.test((await tab.getAttribute('class')) ?? ''));
    await eventually('the edit in the editor', async () => ((await session.page.locator('.editor-instance .view-lines').first().textContent()) ?? '').replace(/\u00a0/g, ' ').includes('at golden hour'));
    assert.equal(readFileSync(file, 'utf8'), before, 'nothing saved');

    // Run again with the unsaved text (the DEMO, as there is still no token).
    await byTestId(webview, 'run-demo').click();
    const secondRun = await waitForRankedGrid(webview, file, 2, IMAGES);
    const second = readRunFolder(secondRun).trace;
    assert.equal(second.prompts.enhanced, after);
    assert.equal(second.prompts.unsaved_edits, true, 'the trace says the text came from unsaved edits');

    const entries = byTestId(webview, 'history-entry');
    await eventually('two history entries', async () => (await entries.count()) === 2);
    assert.equal(await entries.nth(0).locator('[data-testid=history-diff]').textContent(), 'Same prompt as now');
    assert.equal(await entries.nth(0).getAttribute('aria-current'), 'true');
    const added = (await entries.nth(1).locator('ins').allTextContents()).join('');
    assert.match(added, /at golden hour/, 'the older run lacks the words added since');

    await entries.nth(1).click();
    await eventually('the older run shown', async () => (await entries.nth(1).getAttribute('aria-current')) === 'true');
    const older = readRunFolder(firstRun).metadata;
    await eventually('the grid shows the older run', async () => {
      const cards = await readCards(webview);
      return cards.length === IMAGES && cards.every((c, k) => c.seedLine?.startsWith(`seed ${older[k].seed} `) && c.rank === `#${older[k].rank}`);
    });
  });

  it('works keyboard-only: Tab from the panel into the grid, arrows move focus, Space selects, Enter enlarges, Escape closes', async () => {
    const file = await demoRunFromPalette('keyboard-demo.txt', 'A glass greenhouse in a snowstorm at night, warm light inside');
    const webview = panel(session.page);
    await waitForRankedGrid(webview, file, 1, IMAGES);
    const frame = await panelFrame(session.page);
    const order = (await readCards(webview)).map((c) => c.index);
    const focused = () =>
      frame.evaluate(() => {
        const a = document.activeElement;
        return { testid: a?.getAttribute('data-testid') ?? a?.tagName ?? null, index: a?.classList.contains('card') ? Number(a.dataset.index) : null, hasFocus: document.hasFocus() };
      });

    // Into the panel with the keyboard: the editor group holding it takes the focus.
    await runCommand(session.page, 'View: Focus Active Editor Group');
    await eventually('focus inside the panel', async () => (await focused()).hasFocus);
    let reached = null;
    for (let i = 0; i < 40 && reached === null; i++) {
      await session.page.keyboard.press('Tab');
      reached = (await focused()).index;
    }
    assert.ok(reached !== null && order.includes(reached), 'Tab reaches a card of the grid');
    await session.page.keyboard.press('Home');
    assert.equal((await focused()).index, order[0], 'Home: the first card');
    const columns = await frame.$$eval('.card', (cards) => cards.filter((c) => c.offsetTop === cards[0].offsetTop).length);
    assert.ok(columns >= 2 && columns < order.length, `a grid of several rows (${columns} columns)`);

    await session.page.keyboard.press('ArrowRight');
    assert.equal((await focused()).index, order[1]);
    await session.page.keyboard.press('ArrowDown');
    assert.equal((await focused()).index, order[1 + columns]);
    await session.page.keyboard.press('ArrowLeft');
    assert.equal((await focused()).index, order[columns]);
    await session.page.keyboard.press('ArrowUp');
    assert.equal((await focused()).index, order[0]);
    const ring = await frame.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(ring, 'solid', 'a visible focus ring');

    await session.page.keyboard.press('Space');
    const toggle = webview.locator(`.card[data-index="${order[0]}"] [data-testid=select]`);
    assert.equal(await toggle.getAttribute('aria-checked'), 'true', 'Space selects');
    await session.page.keyboard.press('Enter');
    const dialog = byTestId(webview, 'compare');
    await dialog.waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await dialog.locator('[data-testid=compare-column]').count(), 1, 'Enter enlarges the card');
    await session.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
    assert.equal((await focused()).index, order[0], 'focus back on the card');
    await session.page.keyboard.press('Escape');
    assert.equal(await toggle.getAttribute('aria-checked'), 'false', 'Escape on the grid clears the selection');
  });

  // Measured and printed, not a pass/fail on time (machines here are noisy): npm run bench reads
  // test-output/e2e/panel-latency.json and reports it against the ≤ 300 ms target.
  it('measures the time from each image reaching the disk to it being shown in the panel (target ≤ 300 ms), and writes it for the benchmark', async () => {
    const samples = [];
    let frame;
    const file = await demoRunFromPalette('latency-demo.txt', 'Three hot air balloons over a misty valley at sunrise', {
      beforeRun: async () => {
        frame = await panelFrame(session.page);
        await installLatencyProbe(frame);
      },
    });
    const webview = panel(session.page);
    await waitForRankedGrid(webview, file, 1, IMAGES);
    // A second, warm run from the panel: the models are loaded, as for most runs of a session.
    await byTestId(webview, 'run-demo').click();
    await waitForRankedGrid(webview, file, 2, IMAGES);
    samples.push(...(await readLatencySamples(frame)));
    assert.equal(samples.length, 2 * IMAGES, `one sample per image of both runs (${samples.length})`);

    const ms = samples.map((s) => s.ms);
    const report = {
      samples: samples.map((s) => ({ run: s.runId, index: s.index, ms: s.ms, host_to_webview_ms: s.receivedAt - s.savedAt, webview_load_ms: s.shownAt - s.receivedAt })),
      median_ms: median(ms),
      max_ms: Math.max(...ms),
      min_ms: Math.min(...ms),
      target_ms: 300,
      measured: 'run/imageSaved.savedAt (host Date.now() once the PNG is on disk) → the card picture\'s load event (Date.now() in the webview), same machine clock; packaged VSIX in code-server, DEMO runs of 8',
    };
    writeFileSync(join(outputRoot, 'panel-latency.json'), JSON.stringify(report, null, 2));
    console.log(`      image on disk → shown: median ${report.median_ms} ms, max ${report.max_ms} ms, min ${report.min_ms} ms over ${ms.length} images (target ≤ ${report.target_ms} ms)`);
    assert.ok(ms.every((m) => m >= 0), 'never shown before it was saved');
    // Every picture shown is the thumbnail of its own image, in a card of that index.
    assert.deepEqual(samples.filter((s) => s.runId === samples[0].runId).map((s) => s.index).sort((a, b) => a - b), Array.from({ length: IMAGES }, (_, i) => i));
  });

  it('screenshots the panel, the compare view and the history in the light, dark and high-contrast themes', async () => {
    const page = session.page;
    const before = 'A lighthouse on a basalt cliff at dusk, long exposure, waves turned to mist';
    const file = await demoRunFromPalette('screenshots-demo.txt', before);
    const webview = panel(page);
    await waitForRankedGrid(webview, file, 1, IMAGES);
    // One input event, then the host's Unsaved: the run below starts from the edited text.
    await byTestId(webview, 'prompt-text').fill(`${before}, 35mm film grain`);
    await byTestId(webview, 'prompt-dirty').waitFor({ state: 'visible', timeout: 30_000 });
    await byTestId(webview, 'run-demo').click();
    // The pictures of the live grid are the other tests' business; these shots show the runs as
    // History opens them from disk (older, then the newest again).
    await waitForRankedGrid(webview, file, 2, IMAGES, { pictures: false });
    const entries = byTestId(webview, 'history-entry');
    await eventually('two history entries', async () => (await entries.count()) === 2);
    await entries.nth(1).click();
    await eventually('the older run shown', async () => (await entries.nth(1).getAttribute('aria-current')) === 'true');
    await entries.nth(0).click();
    await eventually('the newest run shown again', async () => (await entries.nth(0).getAttribute('aria-current')) === 'true');
    await waitForRankedGrid(webview, file, 2, IMAGES, { timeoutMs: 30_000 });
    // Saved from the panel: the file on disk has the edit, and the panel no longer says Unsaved.
    await byTestId(webview, 'prompt-save').click();
    await byTestId(webview, 'prompt-dirty').waitFor({ state: 'hidden', timeout: 30_000 });
    assert.equal(readFileSync(file, 'utf8'), `${before}, 35mm film grain`);

    // The panel gets the whole window: no side bar, no toasts.
    await runCommand(page, 'View: Close Primary Side Bar');
    await runCommand(page, 'Notifications: Clear All Notifications');
    try {
      for (const theme of THEMES) {
        await session.changeUserSettings({ 'workbench.colorTheme': theme.setting });
        await page.locator('.tabs-container .tab[aria-label^="Contact Sheet: "]').click();
        await page.locator(`.monaco-workbench.${theme.workbenchClass}`).waitFor({ timeout: 30_000 });
        // Back in view, the panel's webview is a new one, restored with the newest run.
        await waitForRankedGrid(webview, file, 2, IMAGES, { timeoutMs: 60_000 });
        const frame = await panelFrame(page);
        await eventually(`the panel in ${theme.name}`, () => frame.evaluate((cls) => document.body.classList.contains(cls), theme.webviewClass));
        await settle(frame);
        await webview.locator('body').evaluate(() => window.scrollTo(0, 0));
        await shoot(page, `panel-${theme.name}`);

        const cards = await readCards(webview);
        for (const card of cards.slice(0, 3)) await webview.locator(`.card[data-index="${card.index}"] [data-testid=select]`).click();
        await byTestId(webview, 'compare-button').click();
        await byTestId(webview, 'compare').waitFor({ state: 'visible', timeout: 10_000 });
        await settle(frame);
        await shoot(page, `compare-${theme.name}`);
        await page.keyboard.press('Escape');
        await byTestId(webview, 'compare').waitFor({ state: 'hidden', timeout: 10_000 });
        await byTestId(webview, 'clear-selection').click();

        await entries.nth(1).click();
        await eventually('the older run shown', async () => (await entries.nth(1).getAttribute('aria-current')) === 'true');
        await settle(frame);
        await byTestId(webview, 'history').scrollIntoViewIfNeeded();
        await shoot(page, `history-${theme.name}`);
        await entries.nth(0).click();
        await eventually('the newest run shown again', async () => (await entries.nth(0).getAttribute('aria-current')) === 'true');
      }
    } finally {
      await session.changeUserSettings({ 'workbench.colorTheme': 'Light Modern' }).catch(() => {});
      await runCommand(page, 'View: Toggle Primary Side Bar Visibility').catch(() => {});
    }
  });
});

const THEMES = [
  // Theme ids as VS Code's theme-defaults extension declares them.
  { name: 'light', setting: 'Light Modern', workbenchClass: 'vs', webviewClass: 'vscode-light' },
  { name: 'dark', setting: 'Dark Modern', workbenchClass: 'vs-dark', webviewClass: 'vscode-dark' },
  { name: 'high-contrast', setting: 'Default High Contrast', workbenchClass: 'hc-black', webviewClass: 'vscode-high-contrast' },
];

/** Every picture of the panel loaded and the icon font ready (then one more frame). */
async function settle(frame) {
  await frame.waitForFunction(() => Array.from(document.images).every((i) => i.complete) && document.fonts.status === 'loaded', undefined, { timeout: 30_000 });
  await frame.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

async function shoot(page, name) {
  const path = join(screenshotsDir, `${name}.png`);
  await page.screenshot({ path });
  assert.ok(statSync(path).size > 20_000, `${name}.png has content`);
}
