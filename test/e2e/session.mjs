// One e2e session: a throwaway code-server with the packaged VSIX installed, its own copy of
// test/workspace, its own user settings and environment, and a Chromium page on the workbench.
// A test group (describe) opens one; every test in it writes its own prompt file, so no test
// depends on what another left behind.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, startCodeServer } from '../../scripts/codeServer.mjs';
import { packageExtension } from '../../scripts/package.mjs';
import { openWorkbench, runCommand } from './workbench.mjs';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const outputRoot = join(root, 'test-output', 'e2e');
export const screenshotsDir = join(outputRoot, 'screenshots');

let vsix;

/** The VSIX under test, packaged once per mocha process (built first unless CONTACT_SHEET_SKIP_BUILD=1). */
export function packagedVsix() {
  vsix ??= packageExtension({ build: process.env.CONTACT_SHEET_SKIP_BUILD !== '1' }).vsix;
  return vsix;
}

/**
 * Starts a session named `label` (its files go to test-output/e2e/<label>/).
 * @param {string} label
 * @param {{ userSettings?: Record<string, unknown>, env?: Record<string, string> }} [options]
 */
export async function openSession(label, options = {}) {
  const dir = join(outputRoot, label);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  mkdirSync(screenshotsDir, { recursive: true });
  const workspace = join(dir, 'workspace');
  cpSync(join(root, 'test', 'workspace'), workspace, { recursive: true });
  const logFile = join(dir, 'code-server.log');
  writeFileSync(logFile, '');
  const server = await startCodeServer({ folder: workspace, label: `e2e-${label}`, logFile, vsix: packagedVsix(), userSettings: options.userSettings, env: options.env });
  let browser;
  try {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    try {
      await openWorkbench(page, server.url, workspace, 'prompts');
    } catch (e) {
      await page.screenshot({ path: join(dir, 'failed-open-workbench.png') }).catch(() => {});
      throw e;
    }
    return new Session({ label, dir, workspace, server, browser, page });
  } catch (e) {
    await browser?.close().catch(() => {});
    await server.stop();
    throw e;
  }
}

export class Session {
  constructor({ label, dir, workspace, server, browser, page }) {
    this.label = label;
    this.dir = dir;
    this.workspace = workspace;
    this.server = server;
    this.browser = browser;
    this.page = page;
  }

  /** Writes `prompts/<name>` in the workspace (a fresh prompt per test) and returns its path. */
  writePrompt(name, text) {
    const file = join(this.workspace, 'prompts', name);
    if (existsSync(file)) throw new Error(`${name} exists already: every test needs a prompt of its own`);
    writeFileSync(file, text);
    return file;
  }

  /**
   * Changes user settings the way a user can: "Preferences: Open User Settings (JSON)", the new
   * text, save, close. (VS Code does not notice the file changing under it in code-server; the
   * session turns modal editors off so the file opens in a tab.)
   */
  async changeUserSettings(patch) {
    const page = this.page;
    const file = join(this.server.dirs.userData, 'User', 'settings.json');
    const text = JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...patch }, null, 2);
    await runCommand(page, 'Preferences: Open User Settings (JSON)');
    const tab = page.locator('.tabs-container .tab.active[data-resource-name="settings.json"]');
    await tab.waitFor({ timeout: 30_000 });
    await page.locator('.editor-instance .monaco-editor .view-lines').last().click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(text);
    await page.keyboard.press('Control+S');
    const deadline = Date.now() + 30_000;
    // Read until it is the new text (a read can land mid-write and see a partial file).
    const saved = () => {
      try {
        return JSON.stringify(JSON.parse(readFileSync(file, 'utf8'))) === JSON.stringify(JSON.parse(text));
      } catch {
        return false;
      }
    };
    while (!saved()) {
      if (Date.now() > deadline) throw new Error(`settings.json was not saved with ${JSON.stringify(patch)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // Saved in the editor too (not dirty), or closing it would ask whether to save.
    await page.locator('.tabs-container .tab.active[data-resource-name="settings.json"]:not(.dirty)').waitFor({ timeout: 30_000 });
    // Its own close button: the palette's "Close Editor" lists "Close Editor Group" too.
    await tab.hover();
    await tab.locator('.tab-actions [role=button][aria-label^="Close"]').click();
    await tab.waitFor({ state: 'detached', timeout: 30_000 });
  }

  /**
   * A clean editor area (no panel of an earlier test in the way); the explorer stays. Unsaved
   * prompt edits an earlier test left are dropped ("Don't Save"), never written.
   */
  async resetEditors() {
    const page = this.page;
    await page.keyboard.press('Escape');
    await runCommand(page, 'View: Close All Editors');
    const dialog = page.locator('.monaco-dialog-box');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (await page.locator('.tabs-container .tab').count()) > 0) {
      if (await dialog.isVisible()) await dialog.locator('.monaco-button', { hasText: "Don't Save" }).click();
      await new Promise((r) => setTimeout(r, 200));
    }
    if ((await page.locator('.tabs-container .tab').count()) > 0) throw new Error('editors stayed open after Close All Editors');
  }

  /** Saves a screenshot of the failed test under the session's folder. */
  async screenshotFailure(test) {
    if (test?.state !== 'failed') return;
    const name = test.title.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 80);
    await this.page.screenshot({ path: join(this.dir, `failed-${name}.png`) }).catch(() => {});
  }

  /** Copies VS Code's logs (the "Contact Sheet" channel, the extension host's) next to the session's output. */
  keepLogs() {
    const logs = join(this.server.dirs.userData, 'logs');
    if (existsSync(logs)) cpSync(logs, join(this.dir, 'logs'), { recursive: true });
  }

  async close() {
    await this.browser?.close().catch(() => {});
    try {
      this.keepLogs();
    } catch {
      // best effort: the logs only help diagnose a failure
    }
    await this.server?.stop();
  }
}
