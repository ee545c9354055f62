// npm test: compile, then the four test layers, then one totals line.
//   1. npm run compile            (typecheck + bundles)
//   2. unit                       mocha, test/unit/**/*.test.ts
//   3. webview                    the results panel's webview in Chromium, through a fake host
//   4. integration                mocha inside VS Code's extension host (code-server)
//   5. e2e                        the packaged VSIX driven through Chromium
// Each layer prints mocha's spec output; its "N passing" / "N failing" lines are parsed. The last
// line is exactly `N passed, N failed` (totals). A failed compile, a layer that crashes without a
// summary, or a layer that runs 0 tests counts as one failure and makes the exit code non-zero.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const MINUTE = 60_000;

const layers = [
  { name: 'unit', command: process.execPath, args: [mocha, '--config', 'test/unit/.mocharc.cjs'], timeoutMs: 20 * MINUTE },
  { name: 'webview', command: process.execPath, args: ['test/webview/run.mjs'], timeoutMs: 10 * MINUTE },
  { name: 'integration', command: process.execPath, args: ['test/integration/run.mjs'], timeoutMs: 10 * MINUTE },
  // compile has just built dist/: the e2e layer packages it without building again.
  { name: 'e2e', command: process.execPath, args: ['test/e2e/run.mjs'], timeoutMs: 15 * MINUTE, env: { CONTACT_SHEET_SKIP_BUILD: '1' } },
];

/** Runs a command in its own process group, echoing its output; kills the group on timeout. */
function run(command, args, { timeoutMs, env = {} }) {
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    const echo = (stream) => (chunk) => {
      output += chunk;
      stream.write(chunk);
    };
    child.stdout.on('data', echo(process.stdout));
    child.stderr.on('data', echo(process.stderr));
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    process.once('exit', killGroup);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', killGroup);
      resolvePromise({ code: timedOut ? null : code, signal, timedOut, output });
    });
  });
}

/** Reads mocha's spec summary ("  12 passing (3s)", "  2 failing"). */
export function parseMochaSummary(output) {
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
  const last = (re) => {
    const all = [...plain.matchAll(re)];
    return all.length ? Number(all[all.length - 1][1]) : null;
  };
  return { passing: last(/^\s*(\d+) passing\b/gm), failing: last(/^\s*(\d+) failing\b/gm) };
}

async function main() {
  const results = [];
  const started = Date.now();

  console.log('\n=== compile (npm run compile) ===');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const compile = await run(npm, ['run', 'compile'], { timeoutMs: 10 * MINUTE });
  const compiled = compile.code === 0;
  if (!compiled) console.error(`\ncompile failed (${compile.timedOut ? 'timed out' : `exit ${compile.code}`}); running the layers anyway`);

  for (const layer of layers) {
    console.log(`\n=== ${layer.name} ===`);
    const layerStarted = Date.now();
    const outcome = await run(layer.command, layer.args, layer);
    const { passing, failing } = parseMochaSummary(outcome.output);
    const passed = passing ?? 0;
    let failed = failing ?? 0;
    const problems = [];
    if (outcome.timedOut) problems.push(`timed out after ${layer.timeoutMs / MINUTE} min`);
    if (passed + failed === 0) problems.push('ran 0 tests');
    if (outcome.code !== 0 && failed === 0) problems.push(`exited with ${outcome.code ?? outcome.signal} without a failing test`);
    if (problems.length) failed += 1;
    results.push({ name: layer.name, passed, failed, problems, seconds: (Date.now() - layerStarted) / 1000 });
  }

  console.log('\n=== summary ===');
  console.log(`compile      ${compiled ? 'ok' : 'FAILED'}`);
  for (const r of results) {
    const note = r.problems.length ? `  (${r.problems.join('; ')})` : '';
    console.log(`${r.name.padEnd(12)} ${r.passed} passed, ${r.failed} failed in ${r.seconds.toFixed(0)} s${note}`);
  }
  console.log(`total time   ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0) + (compiled ? 0 : 1);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      console.log('0 passed, 1 failed');
      process.exit(1);
    },
  );
}
