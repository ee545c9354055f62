// The Contact Sheet results panel as the e2e tests drive it: starting runs the way a user does,
// waiting for the ranked grid, reading cards, and reading what the run wrote next to the prompt.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { activeWebview, pickQuickItem, runCommand } from './workbench.mjs';

const UI_TIMEOUT_MS = 30_000;
/** A DEMO run on this machine: first use makes, serves and converts the tiny models (≈ 1 min under load). */
export const RUN_TIMEOUT_MS = 240_000;
/** How long a finished grid may take to load its last pictures. */
const PICTURE_GRACE_MS = 15_000;

export const METRICS = [
  { id: 'pickscore', label: 'PickScore' },
  { id: 'clip_score', label: 'CLIP-Score' },
  { id: 'vqascore', label: 'VQAScore' },
  { id: 'aesthetic', label: 'Aesthetic' },
];

export const byTestId = (scope, id) => scope.locator(`[data-testid=${id}]`);

/**
 * F1 → "Generate Images from Prompt" with no prompt editor open: picks `promptPath` (relative to
 * the workspace) in the prompt quick pick, then takes the quick options step as it comes (Run
 * with what it shows).
 */
export async function generateFromPalette(page, promptPath) {
  await runCommand(page, 'Contact Sheet: Generate Images from Prompt');
  await pickQuickItem(page, basename(promptPath), promptPath);
  await acceptRunOptions(page, basename(promptPath));
}

/** The quick options step before a run ("Generate Images from <file>"): its first item, Run. */
export async function acceptRunOptions(page, promptName) {
  const title = page.locator('.quick-input-widget .quick-input-title', { hasText: `Generate Images from ${promptName}` });
  await title.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  const first = page.locator('.quick-input-list .monaco-list-row').first();
  await first.waitFor({ timeout: UI_TIMEOUT_MS });
  const label = (await first.textContent()) ?? '';
  if (!label.includes('Run')) throw new Error(`the options step's first item is not Run: ${label}`);
  // A click, not Enter: the panel opening underneath can take the keyboard focus from the pick.
  await first.click();
  await title.waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
}

/** The notification that offers Set Token / Run DEMO when no token is stored; returns it. */
export function demoOffer(page) {
  return page.locator('.notification-toast', { hasText: 'needs a Replicate API token' });
}

/** Clicks a button of a notification toast. */
export async function clickToastButton(toast, label) {
  await toast.waitFor({ timeout: UI_TIMEOUT_MS });
  await toast.locator('.monaco-button', { hasText: label }).click();
  await toast.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
}

/** The visible Contact Sheet panel's content frame (a FrameLocator). */
export function panel(page) {
  return activeWebview(page);
}

/** The panel's content frame as a Frame, for page.evaluate inside the webview. */
export async function panelFrame(page) {
  const outer = await page.locator('iframe.webview.ready').last().elementHandle({ timeout: UI_TIMEOUT_MS });
  const outerFrame = await outer.contentFrame();
  const inner = await outerFrame.locator('#active-frame').elementHandle({ timeout: UI_TIMEOUT_MS });
  return inner.contentFrame();
}

/**
 * Waits for run number `nth` (1-based, oldest first) of `promptFile` to finish on disk and for the
 * panel to show it: a final ranking of `count` scored cards, each with its picture, in the order of
 * the run's image_NNN_metadata.json files, and "Run again". Returns the run folder. `pictures:
 * false` leaves the pictures out of it (for a test about something else). Fails early when the
 * panel says the run failed or was canceled.
 */
export async function waitForRankedGrid(webview, promptFile, nth, count, { timeoutMs = RUN_TIMEOUT_MS, pictures = true } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no run folder yet';
  let rankedSince = null;
  let runDir;
  let seeds;
  while (Date.now() < deadline) {
    runDir ??= runFolders(promptFile)[nth - 1];
    if (runDir && !seeds && existsSync(join(runDir, 'summary.md'))) seeds = readRunFolder(runDir).metadata.map((m) => m.seed);
    const status = ((await byTestId(webview, 'run-status').textContent({ timeout: 2_000 }).catch(() => null)) ?? '').trim();
    if (/^(Failed|Canceled)/.test(status)) {
      const error = await byTestId(webview, 'run-error').textContent().catch(() => '');
      throw new Error(`the run ended ${status}: ${error}`);
    }
    const runButton = ((await byTestId(webview, 'run-button').textContent({ timeout: 2_000 }).catch(() => null)) ?? '').trim();
    // Cards are read only once the run is over: polling the webview harder would slow what it measures.
    if (seeds && status.startsWith('Succeeded') && runButton === 'Run again') {
      const cards = await readCards(webview).catch(() => []);
      const provisional = await webview.locator('.rank-badge.provisional:visible').count().catch(() => 0);
      const shownSeeds = cards.map((c) => Number(/^seed (\d+)/.exec(c.seedLine ?? '')?.[1]));
      last = `status "${status}", ${cards.length} cards (seeds ${shownSeeds.join(',')}; on disk ${seeds.join(',')}), ${provisional} provisional badges`;
      const ranked = cards.length === count && seeds.length === count && shownSeeds.every((seed, k) => seed === seeds[k]) && cards.every((c) => c.stage === 'scored');
      const missing = pictures ? cards.filter((c) => !c.imageShown).map((c) => `image #${c.index + 1}`) : [];
      if (ranked && provisional === 0 && !missing.length) return runDir;
      // A picture still missing well after the final ranking will not come.
      if (ranked && provisional === 0) rankedSince ??= Date.now();
      if (rankedSince !== null && Date.now() - rankedSince > PICTURE_GRACE_MS) {
        throw new Error(`run ${nth} of ${basename(promptFile)} is ranked, but ${missing.join(', ')} never showed a picture (${PICTURE_GRACE_MS / 1000} s after the final ranking)`);
      }
    } else if (runDir) last = `run folder ${basename(runDir)} not finished yet, panel status "${status}"`;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`run ${nth} of ${basename(promptFile)} not shown as a finished ranked grid of ${count} within ${timeoutMs} ms; last seen: ${last}`);
}

/** Every card as shown, in grid order: index, rank, overall, preference, seed line, cost, and each metric's bar. */
export async function readCards(webview) {
  return webview.locator('.card').evaluateAll((cards) =>
    cards.map((card) => {
      const text = (id) => card.querySelector(`[data-testid=${id}]`)?.textContent?.trim() ?? null;
      const metrics = {};
      for (const row of card.querySelectorAll('.metric')) {
        const meter = row.querySelector('[role=meter]');
        metrics[row.getAttribute('data-testid').replace('metric-', '')] = {
          state: row.getAttribute('data-state'),
          ariaLabel: meter?.getAttribute('aria-label') ?? null,
          ariaValueNow: meter?.getAttribute('aria-valuenow') ?? null,
          reason: row.querySelector('.metric-reason')?.textContent ?? '',
        };
      }
      const img = card.querySelector('img.card-image');
      return {
        index: Number(card.dataset.index),
        stage: card.dataset.stage,
        rank: text('rank'),
        badge: card.querySelector('[data-testid=rank-badge]:not([hidden])')?.textContent?.trim() ?? null,
        overall: text('overall'),
        preference: text('preference'),
        seedLine: text('meta-seed'),
        cost: text('meta-cost'),
        imageShown: !!img && !img.hidden && img.naturalWidth > 0,
        metrics,
      };
    }),
  );
}

/** The run folders of a prompt (`<stem>.images/<timestamp>`), oldest first. */
export function runFolders(promptFile) {
  const parent = promptFile.replace(/\.(txt|md)$/, '.images');
  if (!existsSync(parent)) return [];
  return readdirSync(parent, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(parent, d.name))
    .sort();
}

/** What a finished run wrote: the trace, every image_NNN_metadata.json (by rank), and the file names. */
export function readRunFolder(runDir) {
  const files = readdirSync(runDir);
  const metadata = files
    .filter((f) => /^image_\d{3}_metadata\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(join(runDir, f), 'utf8')))
    .sort((a, b) => a.rank - b.rank);
  const trace = JSON.parse(readFileSync(join(runDir, 'generation_trace.json'), 'utf8'));
  return { files, metadata, trace };
}

/** Every regular file under `dir` (recursively), hidden ones included. */
export function filesUnder(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** mtime (ms) of a run's image file, by generation index. */
export function imageMtimes(runDir) {
  const { metadata, trace } = readRunFolder(runDir);
  const out = {};
  for (const m of metadata) {
    const image = trace.images.find((i) => i.seed === m.seed);
    if (image) out[image.index] = statSync(join(runDir, m.file)).mtimeMs;
  }
  return out;
}

/** The score text the panel shows for a 0–100 value (one decimal), as displayFormat.formatScore. */
export const shownScore = (value) => value.toFixed(1);

/** Waits until `read()` returns a truthy value; returns it. */
export async function eventually(what, read, timeoutMs = UI_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await read();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}
