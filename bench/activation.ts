/**
 * Extension activation, measured for real: the integration layer's activation suite runs inside
 * code-server's extension host (test/integration/suite/activation.test.ts) and times
 * `extension.activate()` — VS Code loading dist/extension.js and calling activate() — then writes
 * it to out/integration/activation.json. For the breakdown, the same bundle is also required in
 * plain Node with `vscode` resolved to a recording shim (module load + activate() body only).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(__dirname, '..');

export type ActivationFigure =
  | { measured: true; activateMs: number; vscode: string; nodeShimMs: number | null }
  | { measured: false; reason: string; nodeShimMs: number | null };

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, env, timeout: timeoutMs, maxBuffer: 8 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? 1 : 0, out: `${stdout}${stderr}` });
    });
  });
}

/** Null when code-server, its Node and Chromium are installed (the test runners' own check), else why not. */
async function missingTools(): Promise<string | null> {
  try {
    const { assertToolsInstalled } = (await import(pathToFileURL(join(ROOT, 'scripts', 'codeServer.mjs')).href)) as { assertToolsInstalled: () => void };
    assertToolsInstalled();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * `require('dist/extension.js')` + `activate(context)` in this Node, `vscode` being a shim that
 * records calls and returns disposables: NOT what a user sees (no extension host), a breakdown.
 */
async function nodeShimMs(): Promise<number | null> {
  const shimRoot = mkdtempSync(join(tmpdir(), 'cs-vscode-shim-'));
  try {
    mkdirSync(join(shimRoot, 'node_modules', 'vscode'), { recursive: true });
    writeFileSync(
      join(shimRoot, 'node_modules', 'vscode', 'index.js'),
      // Every property and call result is another such proxy (a disposable, a channel, an enum…).
      `const any = () => new Proxy(function () {}, { get: (_t, k) => (k === 'then' ? undefined : k === Symbol.toPrimitive ? () => 0 : any()), apply: () => any(), construct: () => any() });
const names = ['window', 'commands', 'workspace', 'extensions', 'env', 'l10n', 'languages', 'Uri', 'ViewColumn', 'RelativePattern', 'FileType', 'EventEmitter', 'Disposable', 'ProgressLocation', 'ThemeIcon', 'TabInputWebview', 'ConfigurationTarget'];
module.exports = Object.fromEntries(names.map((n) => [n, any()]));`,
    );
    const script = `const t0 = performance.now();
const ext = require(${JSON.stringify(join(ROOT, 'dist', 'extension.js'))});
ext.activate({ subscriptions: [], secrets: {}, globalStorageUri: {}, extensionUri: {} });
process.stdout.write(String(performance.now() - t0));`;
    const r = await run(process.execPath, ['-e', script], { ...process.env, NODE_PATH: join(shimRoot, 'node_modules') }, 60_000);
    const ms = Number(r.out.trim().split('\n').pop());
    return r.code === 0 && Number.isFinite(ms) ? ms : null;
  } finally {
    rmSync(shimRoot, { recursive: true, force: true });
  }
}

export async function measureActivation(): Promise<ActivationFigure> {
  const build = await run(process.execPath, [join(ROOT, 'esbuild.mjs')], process.env, 300_000);
  if (build.code !== 0) return { measured: false, reason: `npm run build failed: ${build.out.trim().split('\n').pop()}`, nodeShimMs: null };
  const shim = await nodeShimMs();
  const missing = await missingTools();
  if (missing) return { measured: false, reason: missing, nodeShimMs: shim };
  const resultFile = join(ROOT, 'out', 'integration', 'activation.json');
  rmSync(resultFile, { force: true });
  const r = await run(process.execPath, [join(ROOT, 'test', 'integration', 'run.mjs')], { ...process.env, CONTACT_SHEET_INTEGRATION_ONLY: 'activation' }, 600_000);
  if (r.code !== 0 || !existsSync(resultFile)) {
    return { measured: false, reason: `the integration run failed: ${r.out.trim().split('\n').slice(-3).join(' | ')}`, nodeShimMs: shim };
  }
  const result = JSON.parse(readFileSync(resultFile, 'utf8')) as { activate_ms: number; active_before: boolean; vscode: string };
  if (result.active_before) return { measured: false, reason: 'the extension was already active before the measurement', nodeShimMs: shim };
  return { measured: true, activateMs: result.activate_ms, vscode: result.vscode, nodeShimMs: shim };
}

/** The e2e layer's measurement (another test writes it), if a run left one. */
export function readPanelLatency(): { medianMs: number; maxMs: number; samples: number; file: string } | null {
  const file = join(ROOT, 'test-output', 'e2e', 'panel-latency.json');
  if (!existsSync(file)) return null;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as { median_ms: number; max_ms: number; samples?: unknown[] };
    return { medianMs: r.median_ms, maxMs: r.max_ms, samples: Array.isArray(r.samples) ? r.samples.length : 0, file };
  } catch {
    return null;
  }
}
