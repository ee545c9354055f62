/**
 * Screenshots of realistic panel states in the light, dark and high-contrast themes, written to
 * test-output/webview/ for people to look at (and for the README). Each also checks that the
 * page took the theme's colours and loaded the codicon font.
 */
import * as assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import type { PanelState, RunView } from '../../src/shared/protocol';
import { FIXTURE_MODEL, fixtureHistory, fixturePanelState, fixtureRanking, fixtureScores, finishedRun, startedRun } from '../support/panelFixture';
import { openPanel, OUTPUT_DIR, sharedEnvironment, type Environment } from './harness';
import { DARK, LIGHT, THEMES, type WebviewTheme } from './themes';

let env: Environment;
const contexts: BrowserContext[] = [];

async function shoot(theme: WebviewTheme, state: PanelState, name: string, options: { width?: number; height?: number; fullPage?: boolean; act?: (page: Page) => Promise<void> } = {}): Promise<void> {
  const { context, page } = await openPanel(env.browser, env.server, {
    theme,
    reducedMotion: true,
    viewport: { width: options.width ?? 1400, height: options.height ?? 1000 },
    handlers: { 'webview/ready': () => state },
  });
  contexts.push(context);
  // Every picture in, and the icon font ready, before the shot.
  await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete) && document.fonts.status === 'loaded');
  await options.act?.(page);
  await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
  const file = join(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: options.fullPage ?? true });
  assert.ok(statSync(file).size > 10_000, `${name}.png has content`);
  const looks = await page.evaluate(() => ({
    background: getComputedStyle(document.body).backgroundColor,
    codicons: document.fonts.check('16px codicon'),
  }));
  assert.equal(looks.background, hexToRgb(theme.vars['--vscode-editor-background']), 'the theme background');
  assert.equal(looks.codicons, true, 'the codicon font loaded under the CSP');
}

function hexToRgb(hex: string): string {
  const n = parseInt(hex.slice(1, 7), 16);
  return `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
}

/** A run caught mid-way: two images ranked (provisionally), one scoring, the rest at Replicate. */
function liveRun(): RunView {
  const run = startedRun();
  const uris = env.server.uris;
  const stages = ['scored', 'processing', 'scored', 'scoring', 'downloading', 'processing', 'starting', 'queued'] as const;
  const { entries, comparison } = fixtureRanking([0, 2]);
  run.images.forEach((image, i) => {
    image.stage = stages[i];
    if (stages[i] !== 'queued') image.model = FIXTURE_MODEL;
    if (stages[i] === 'scored' || stages[i] === 'scoring') {
      Object.assign(image, { thumbnailUri: uris.thumbnail(i), imageUri: uris.full(i), width: 1344, height: 768, cost: { usd: 0.003, source: 'official price', pricingDate: '2026-11-01' } });
    }
    if (stages[i] === 'scored') {
      const entry = entries.find((e) => e.index === i)!;
      Object.assign(image, { scores: fixtureScores(i), overall: entry.overall, preferenceProbability: entry.preferenceProbability, rank: entry.rank });
    }
  });
  const now = Date.now();
  return {
    ...run,
    startedAt: now - 21_400,
    phase: 'score',
    phaseDetail: 'PickScore loaded',
    comparison,
    cost: { totalUsd: 0.009, unknownCount: 0, estimateUsd: 0.024 },
    notices: [{ level: 'wait', message: "Replicate's rate limit: waiting before creating image #8", at: now - 2000, until: now + 9000 }],
  };
}

describe('results panel screenshots (light, dark, high contrast)', function () {
  this.timeout(120_000);

  before(async () => {
    env = await sharedEnvironment();
  });

  after(async () => {
    for (const c of contexts.splice(0)) await c.close();
  });

  for (const theme of THEMES) {
    it(`finished run with history and compare view: ${theme.name}`, async () => {
      const state = fixturePanelState(finishedRun(env.server.uris), fixtureHistory(env.server.uris));
      await shoot(theme, state, `panel-${theme.name}`);
      const order = [...fixtureRanking([0, 1, 2, 3, 4, 5, 6, 7]).entries.map((e) => e.index)];
      await shoot(theme, state, `compare-${theme.name}`, {
        fullPage: false,
        act: async (page) => {
          for (const i of order.slice(0, 3)) await page.locator(`.card[data-index="${i}"] [data-testid=select]`).click();
          await page.locator('[data-testid=compare-button]').click();
          await page.locator('[data-testid=compare]').waitFor({ state: 'visible' });
        },
      });
    });
  }

  it('keyboard focus and a selection of two: dark', async () => {
    const state = fixturePanelState(finishedRun(env.server.uris), fixtureHistory(env.server.uris));
    await shoot(DARK, state, 'keyboard-dark', {
      fullPage: false,
      act: async (page) => {
        await page.locator('.card[tabindex="0"]').focus();
        await page.keyboard.press('Space');
        await page.keyboard.press('ArrowRight');
        await page.keyboard.press('Space');
        await page.keyboard.press('ArrowDown');
      },
    });
  });

  it('live run mid-way: dark', async () => {
    await shoot(DARK, fixturePanelState(liveRun(), fixtureHistory(env.server.uris).slice(1)), 'live-dark');
  });

  it('first visit without a token: light, narrow panel', async () => {
    const state: PanelState = { ...fixturePanelState(null), token: { status: 'missing', account: null, demoAvailable: true } };
    await shoot(LIGHT, state, 'first-run-light', { width: 720, height: 640 });
  });

  it('narrow panel beside an editor: dark', async () => {
    const state = fixturePanelState(finishedRun(env.server.uris), fixtureHistory(env.server.uris));
    await shoot(DARK, state, 'narrow-dark', { width: 560, height: 900, fullPage: false });
  });
});
