// Page helpers for the VS Code workbench that code-server serves. Every wait is bounded.
const UI_TIMEOUT_MS = 30_000;

/** Opens the workbench on a folder and waits until the explorer shows it. */
export async function openWorkbench(page, serverUrl, folder, firstEntry) {
  await page.goto(`${serverUrl}/?folder=${encodeURIComponent(folder)}`, { timeout: 60_000 });
  await waitForWorkbench(page, firstEntry);
}

export async function waitForWorkbench(page, firstEntry) {
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await explorerRow(page, firstEntry).waitFor({ timeout: 60_000 });
  // Best effort: let the extension host finish starting before driving the UI.
  await page
    .locator('.statusbar-item', { hasText: 'Activating Extensions' })
    .waitFor({ state: 'detached', timeout: 60_000 })
    .catch(() => {});
}

export function explorerRow(page, name) {
  const exact = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return page.locator('.explorer-folders-view .monaco-list-row', { hasText: exact });
}

/**
 * Runs a command by its title through F1, the way a user does. Retries while the command is not
 * listed yet: right after start-up the workbench may still be reading installed extensions.
 */
export async function runCommand(page, title, timeoutMs = 120_000) {
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`command "${title}" never appeared in the command palette`);
    if (!(await input.isVisible())) await page.keyboard.press('F1');
    const opened = await input.waitFor({ state: 'visible', timeout: 5_000 }).then(() => true, () => false);
    if (!opened) continue;
    // The palette closes when something else takes focus (the workbench is still starting).
    const filled = await input.fill(`>${title}`, { timeout: 5_000 }).then(() => true, () => false);
    if (!filled) continue;
    const listed = await row.waitFor({ timeout: 10_000 }).then(() => true, () => false);
    if (listed) break;
    await page.keyboard.press('Escape');
  }
  await page.keyboard.press('Enter');
}

/**
 * Chooses an item of the open context menu. The menu may drop a click that lands right after it
 * opened (it guards against the right-click's own mouse-up), so the hovered item is confirmed
 * with Enter while the menu stays open.
 */
export async function chooseContextMenuItem(page, label) {
  const menu = page.locator('.monaco-menu');
  const item = menu.locator('.action-item', { hasText: label });
  await item.waitFor({ timeout: UI_TIMEOUT_MS });
  await item.hover();
  await item.click();
  const deadline = Date.now() + UI_TIMEOUT_MS;
  while ((await menu.first().isVisible()) && Date.now() < deadline) {
    // The menu may be closing after the click: a short hover, and Enter only while the item is there.
    const hovered = await item.hover({ timeout: 2_000 }).then(() => true, () => false);
    if (hovered) await page.keyboard.press('Enter');
    await menu.first().waitFor({ state: 'hidden', timeout: 2_000 }).catch(() => {});
  }
  if (await menu.first().isVisible()) throw new Error(`the context menu stayed open after choosing "${label}"`);
}

/** Picks an entry in an open quick pick by (part of) its label. */
export async function pickQuickItem(page, filter, label) {
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await input.fill(filter);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first().waitFor({ timeout: UI_TIMEOUT_MS });
  await page.keyboard.press('Enter');
}

/** The content frame of the visible webview (outer iframe.webview → inner #active-frame). */
export function activeWebview(page) {
  return page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
}

/** Waits until a locator's text contains `expected`; returns the text. */
export async function waitForText(locator, expected, timeoutMs = UI_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = (await locator.textContent({ timeout: 2_000 }).catch(() => null)) ?? '';
    if (last.includes(expected)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`expected text containing ${JSON.stringify(expected)}, last seen ${JSON.stringify(last)}`);
}

/** Waits until an input's (textarea's, select's) value equals `expected`; returns it. */
export async function waitForValue(locator, expected, timeoutMs = UI_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = (await locator.inputValue({ timeout: 2_000 }).catch(() => null)) ?? '';
    if (last === expected) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`expected the value ${JSON.stringify(expected)}, last seen ${JSON.stringify(last)}`);
}

export async function closeAllEditors(page) {
  await runCommand(page, 'View: Close All Editors');
  await page.locator('.tabs-container .tab').first().waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS }).catch(() => {});
}
