// The packaged VSIX, installed into a fresh code-server and used the way a person uses it.
import * as assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, startCodeServer } from '../../scripts/codeServer.mjs';
import { packageExtension } from '../../scripts/package.mjs';
import {
  activeWebview,
  chooseContextMenuItem,
  closeAllEditors,
  explorerRow,
  openWorkbench,
  pickQuickItem,
  runCommand,
  waitForValue,
  waitForWorkbench,
} from './workbench.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outputDir = join(root, 'test-output', 'e2e');
const LIGHTHOUSE = 'A lighthouse on a basalt cliff at dusk, long exposure, waves turned to mist, 35mm film grain';
const FOX = 'A red fox curled up asleep in fresh snow, soft morning light';

describe('Contact Sheet VSIX in code-server (e2e)', function () {
  let server;
  let browser;
  let page;

  before(async function () {
    this.timeout(600_000);
    rmSync(outputDir, { recursive: true, force: true });
    mkdirSync(outputDir, { recursive: true });
    const { vsix } = packageExtension({ build: process.env.CONTACT_SHEET_SKIP_BUILD !== '1' });
    const workspace = join(outputDir, 'workspace');
    cpSync(join(root, 'test', 'workspace'), workspace, { recursive: true });
    const logFile = join(outputDir, 'code-server.log');
    writeFileSync(logFile, '');
    server = await startCodeServer({ folder: workspace, label: 'e2e', logFile, vsix });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    try {
      await openWorkbench(page, server.url, workspace, 'prompts');
    } catch (e) {
      await page.screenshot({ path: join(outputDir, 'failed-open-workbench.png') }).catch(() => {});
      throw e;
    }
  });

  after(async function () {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      const name = this.currentTest.title.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
      await page.screenshot({ path: join(outputDir, `failed-${name}.png`) }).catch(() => {});
    }
  });

  it('runs "Generate Images from Prompt" from the command palette and shows the prompt and plan', async () => {
    await runCommand(page, 'Contact Sheet: Generate Images from Prompt');
    await pickQuickItem(page, 'lighthouse', 'lighthouse.txt');
    const webview = activeWebview(page);
    assert.equal(await waitForValue(webview.locator('[data-testid=prompt-text]'), LIGHTHOUSE), LIGHTHOUSE);
    await waitForValue(webview.locator('[data-testid=plan-model]'), 'black-forest-labs/flux-schnell');
    assert.equal(await webview.locator('[data-testid=plan-fallbacks]').textContent(), 'stability-ai/sdxl');
    assert.equal(await webview.locator('[data-testid=plan-count]').inputValue(), '8');
    assert.equal(await webview.locator('[data-testid=plan-aspect-ratio]').inputValue(), '16:9');
    assert.equal(await webview.locator('[data-testid=plan-seed]').inputValue(), '');
    assert.equal(await webview.locator('[data-testid=plan-seed-range]').textContent(), 'random');
    assert.equal(await webview.locator('[data-testid=plan-output]').textContent(), 'prompts/lighthouse.images/<timestamp>');
    await page.screenshot({ path: join(outputDir, 'palette-lighthouse.png') });
    await closeAllEditors(page);
  });

  it('runs it from the explorer context menu, with the front matter applied to the plan', async () => {
    await explorerRow(page, 'prompts').click();
    const fox = explorerRow(page, 'fox.md');
    await fox.waitFor({ timeout: 30_000 });
    await fox.click({ button: 'right' });
    await chooseContextMenuItem(page, 'Generate Images from Prompt');
    const webview = activeWebview(page);
    assert.equal(await waitForValue(webview.locator('[data-testid=prompt-text]'), FOX), FOX);
    assert.equal(await webview.locator('[data-testid=prompt-extras-negative]').textContent(), 'text, watermark');
    assert.equal(await webview.locator('[data-testid=plan-aspect-ratio]').inputValue(), '1:1');
    assert.equal(await webview.locator('[data-testid=plan-seed]').inputValue(), '42');
    assert.equal(await webview.locator('[data-testid=plan-seed-range]').textContent(), '42 … 49');
    await page.screenshot({ path: join(outputDir, 'explorer-menu-fox.png') });
  });

  it('stores a Replicate token through "Set Replicate API Token", refusing an empty one', async () => {
    await runCommand(page, 'Contact Sheet: Set Replicate API Token');
    // The token box replaces the palette's input; it must be a password field.
    const input = page.locator('.quick-input-widget input[type=password]');
    await input.waitFor({ state: 'visible', timeout: 30_000 });
    assert.equal(await input.getAttribute('placeholder'), 'r8_…');
    await input.fill('   ');
    await page.locator('.quick-input-widget', { hasText: 'The token cannot be empty.' }).waitFor({ timeout: 30_000 });
    await input.fill('r8_e2eFakeToken0123456789');
    await page.keyboard.press('Enter');
    const toast = page.locator('.notification-toast', { hasText: 'Replicate API token saved' });
    await toast.waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(outputDir, 'token-saved.png') });
  });

  it('restores the open panel after the window reloads', async () => {
    await runCommand(page, 'Developer: Reload Window');
    await waitForWorkbench(page, 'prompts');
    const webview = activeWebview(page);
    assert.equal(await waitForValue(webview.locator('[data-testid=prompt-text]'), FOX, 60_000), FOX);
    await page.screenshot({ path: join(outputDir, 'restored-after-reload.png') });
  });
});
