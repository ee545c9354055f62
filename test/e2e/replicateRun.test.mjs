// A user with a Replicate token, in the packaged VSIX: the token through "Set Replicate API Token"
// (checked with Replicate), a run from the explorer's context menu, the token in no file, and the
// panel restored after a reload. "Replicate" is the sandbox's fake server, started by this process
// and named in contactSheet.apiBaseUrl; the scoring models are tiny ones in the published formats,
// served by the sandbox's hub server (contactSheet.scoring.hubEndpoint) and described by their
// manifest (CONTACT_SHEET_MODELS_MANIFEST). One code-server for the group; every test writes its
// own prompt and stores the token itself, so each passes alone.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tsImport } from 'tsx/esm/api';
import { byTestId, filesUnder, generateFromPalette, panel, readCards, readRunFolder, runFolders, waitForRankedGrid } from './resultsPanel.mjs';
import { openSession } from './session.mjs';
import { chooseContextMenuItem, explorerRow, runCommand, waitForValue, waitForWorkbench } from './workbench.mjs';

const MODEL = 'black-forest-labs/flux-schnell';

describe('Replicate run with a stored token (packaged VSIX in code-server, fake Replicate)', function () {
  this.timeout(300_000);
  /** @type {import('./session.mjs').Session} */
  let session;
  let fake;
  let hub;
  // A token of this session only, so a search for it finds nothing but real leaks.
  const token = `r8_e2e${randomBytes(16).toString('hex')}`;

  before(async function () {
    this.timeout(600_000);
    const sandbox = (path) => tsImport(`../../src/sandbox/${path}`, import.meta.url);
    const [{ startFakeReplicate }, { startHubServer }, { makeTinyModels }] = await Promise.all([
      sandbox('fakeReplicate/server.ts'),
      sandbox('hub/server.ts'),
      sandbox('tinyModels/makeTinyModels.ts'),
    ]);
    const { outputRoot } = await import('./session.mjs');
    const tinyDir = join(outputRoot, 'tiny-models');
    const tiny = existsSync(join(tinyDir, 'manifest.json')) ? { manifestPath: join(tinyDir, 'manifest.json'), hubRoot: join(tinyDir, 'hub') } : await makeTinyModels(tinyDir);
    fake = await startFakeReplicate({ token, processingMs: 800 });
    hub = await startHubServer(tiny.hubRoot);
    session = await openSession('replicate', {
      userSettings: {
        'contactSheet.apiBaseUrl': fake.url,
        'contactSheet.scoring.hubEndpoint': hub.url,
      },
      env: { CONTACT_SHEET_MODELS_MANIFEST: tiny.manifestPath },
    });
  });

  after(async () => {
    await session?.close();
    await fake?.close();
    await hub?.close();
  });

  beforeEach(async () => {
    await session.resetEditors();
  });

  afterEach(async function () {
    await session.screenshotFailure(this.currentTest);
  });

  /** "Set Replicate API Token" with `value`; resolves once the input box took it. */
  async function enterToken(value) {
    const page = session.page;
    await runCommand(page, 'Contact Sheet: Set Replicate API Token');
    const input = page.locator('.quick-input-widget input[type=password]');
    await input.waitFor({ state: 'visible', timeout: 30_000 });
    await input.fill(value);
    await page.keyboard.press('Enter');
    await input.waitFor({ state: 'hidden', timeout: 30_000 });
  }

  /** Stores this session's token (again, if an earlier test did): the toast names the fake's account. */
  async function storeToken() {
    await enterToken(token);
    await session.page.locator('.notification-toast', { hasText: 'Replicate API token saved' }).first().waitFor({ timeout: 30_000 });
    await runCommand(session.page, 'Notifications: Clear All Notifications');
  }

  it('stores the token through "Set Replicate API Token": refuses an empty one, refuses one Replicate rejects, keeps one it accepts', async () => {
    const page = session.page;
    await runCommand(page, 'Contact Sheet: Set Replicate API Token');
    const input = page.locator('.quick-input-widget input[type=password]');
    await input.waitFor({ state: 'visible', timeout: 30_000 });
    assert.equal(await input.getAttribute('placeholder'), 'r8_…');
    await input.fill('   ');
    await page.locator('.quick-input-widget', { hasText: 'The token cannot be empty.' }).waitFor({ timeout: 30_000 });
    await page.keyboard.press('Escape');

    const checksBefore = fake.requests.filter((r) => r.path === '/v1/account').length;
    await enterToken('r8_notTheRightToken0123456789');
    await page.locator('.notification-toast', { hasText: 'did not accept this token' }).waitFor({ timeout: 30_000 });
    const refused = fake.requests.filter((r) => r.path === '/v1/account').slice(checksBefore);
    assert.ok(refused.length >= 1 && refused.every((r) => !r.authorized), 'checked with Replicate, and refused');
    await runCommand(page, 'Notifications: Clear All Notifications');

    await enterToken(token);
    await page.locator('.notification-toast', { hasText: 'Replicate API token saved' }).waitFor({ timeout: 30_000 });
    assert.ok(fake.requests.some((r) => r.path === '/v1/account' && r.authorized), 'the accepted token was checked with Replicate');
    await page.screenshot({ path: join(session.dir, 'token-saved.png') });
  });

  it('runs "Generate Images from Prompt" from the explorer context menu with the stored token against the fake Replicate; front matter applied; the token in no file', async () => {
    await storeToken();
    const page = session.page;
    const file = session.writePrompt('explorer-run.md', '---\nnegative: text, watermark\naspect_ratio: 1:1\nseed: 42\nnum_variations: 4\n---\n# Sleeping fox\nA red fox curled up asleep in fresh snow, soft morning light\n');
    const createsBefore = fake.creates[MODEL] ?? 0;

    const prompts = explorerRow(page, 'prompts');
    if ((await prompts.getAttribute('aria-expanded')) !== 'true') await prompts.click();
    const row = explorerRow(page, 'explorer-run.md');
    await row.waitFor({ timeout: 30_000 });
    await row.click({ button: 'right' });
    await chooseContextMenuItem(page, 'Generate Images from Prompt');
    // The quick options step shows what the front matter set, then Enter runs it.
    const first = page.locator('.quick-input-list .monaco-list-row').first();
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Generate Images from explorer-run.md' }).waitFor({ timeout: 30_000 });
    assert.match((await first.textContent()) ?? '', /4 images · black-forest-labs\/flux-schnell · 1:1 · seed 42/);
    await page.keyboard.press('Enter');

    const webview = panel(page);
    assert.equal(await waitForValue(byTestId(webview, 'prompt-text'), 'A red fox curled up asleep in fresh snow, soft morning light'), 'A red fox curled up asleep in fresh snow, soft morning light');
    const runDir = await waitForRankedGrid(webview, file, 1, 4);
    assert.equal(await byTestId(webview, 'prompt-extras-negative').textContent(), 'text, watermark');
    assert.equal(await byTestId(webview, 'plan-aspect-ratio').inputValue(), '1:1');
    assert.equal(await byTestId(webview, 'plan-seed').inputValue(), '42');
    assert.equal(await byTestId(webview, 'token-banner').isVisible(), false, 'no token call to action');
    assert.equal(await byTestId(webview, 'summary').locator('.demo-badge:visible').count(), 0, 'not a DEMO run');

    // It ran on "Replicate": one create per image, every request with the token.
    assert.equal((fake.creates[MODEL] ?? 0) - createsBefore, 4, 'one create per image on the fake Replicate');
    const apiCalls = fake.requests.filter((r) => r.path.startsWith('/v1/') && r.path !== '/v1/account');
    assert.ok(apiCalls.length > 4 && apiCalls.every((r) => r.authorized), 'every API request carried the token');
    const { metadata, trace } = readRunFolder(runDir);
    assert.equal(trace.demo, false);
    assert.deepEqual(metadata.map((m) => m.seed).sort(), [42, 43, 44, 45]);
    assert.ok(metadata.every((m) => m.aspect_ratio === '1:1' && m.prompt.negative === 'text, watermark'));
    const cards = await readCards(webview);
    assert.deepEqual(cards.map((c) => c.rank), ['#1', '#2', '#3', '#4']);

    // The token is in no file of the run (images, thumbnails, JSON, summary), of the workspace, or of VS Code's logs.
    session.keepLogs();
    const searched = [...filesUnder(session.workspace), ...filesUnder(join(session.dir, 'logs'))];
    assert.ok(searched.some((f) => f.startsWith(runDir)), 'the run folder is searched');
    assert.ok(searched.some((f) => f.endsWith('Contact Sheet.log')), 'the Contact Sheet log is searched');
    const leaks = searched.filter((f) => readFileSync(f).includes(token));
    assert.deepEqual(leaks, [], 'files containing the token');
  });

  it('restores the open panel with its run after the window reloads', async () => {
    await storeToken();
    const page = session.page;
    const text = 'A lighthouse on a basalt cliff at dusk, long exposure, waves turned to mist';
    const file = session.writePrompt('reload-run.txt', `${text}\n`);
    await generateFromPalette(page, 'prompts/reload-run.txt');
    const webview = panel(page);
    await waitForRankedGrid(webview, file, 1, 8);
    const before = (await readCards(webview)).map((c) => c.seedLine);

    await runCommand(page, 'Developer: Reload Window');
    await waitForWorkbench(page, 'prompts');
    assert.equal(await waitForValue(byTestId(panel(page), 'prompt-text'), text, 60_000), text);
    assert.equal(runFolders(file).length, 1, 'no new run on reload');
    await waitForRankedGrid(panel(page), file, 1, 8, { timeoutMs: 60_000 });
    assert.deepEqual((await readCards(panel(page))).map((c) => c.seedLine), before, 'the same run in the grid');
  });
});
