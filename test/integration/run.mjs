// Integration layer: runs test/integration/suite inside the real extension host of VS Code
// (code-server + headless Chromium), with this checkout as the extension under development.
//   node test/integration/run.mjs         (needs `npm run build` and `npm run setup:vscode` first)
// Prints a mocha-style summary ("N passing", "N failing") and exits non-zero on any failure.
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { delay, launchChromium, startCodeServer } from '../../scripts/codeServer.mjs';
import { buildSuite, root, suiteOutDir } from './buildSuite.mjs';

const outDir = suiteOutDir;
const resultsFile = join(outDir, 'results.json');
const outputDir = join(root, 'test-output', 'integration');
// The run tests make real runs (fake Replicate, tiny models): about 2–3 minutes on a busy 2-core machine.
const TOTAL_TIMEOUT_MS = 300_000;

async function main() {
  if (!existsSync(join(root, 'dist', 'extension.js')) || !existsSync(join(root, 'dist', 'webview.js'))) {
    throw new Error('dist/ is not built: run `npm run build` first');
  }
  await buildSuite();
  mkdirSync(outputDir, { recursive: true });
  const logFile = join(outputDir, 'code-server.log');
  writeFileSync(logFile, '');

  const workspace = join(outputDir, 'workspace');
  rmSync(workspace, { recursive: true, force: true });
  cpSync(join(root, 'test', 'workspace'), workspace, { recursive: true });

  const server = await startCodeServer({
    folder: workspace,
    label: 'integration',
    logFile,
    extraArgs: ['--vscode-option', 'enable-smoke-test-driver'],
  });
  let browser;
  try {
    browser = await launchChromium();
    const page = await browser.newPage();
    let exitCode;
    // The workbench forwards its whole console here; keep it in a file, print only on failure.
    const hostLog = join(outputDir, 'workbench.log');
    writeFileSync(hostLog, '');
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const text = Array.isArray(args) ? args.map(String).join(' ') : String(args);
      appendFileSync(hostLog, `[${type}] ${text}\n`);
    });
    await page.exposeFunction('codeAutomationExit', (code) => {
      exitCode = code;
    });
    const remote = (path) => `vscode-remote://${server.host}${path}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(root)],
      ['extensionTestsPath', remote(join(outDir, 'index.js'))],
    ]);
    const url = `${server.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`;
    await page.goto(url, { timeout: 60_000 });

    const deadline = Date.now() + TOTAL_TIMEOUT_MS;
    while (!existsSync(resultsFile) && exitCode === undefined && Date.now() < deadline) await delay(250);
    if (!existsSync(resultsFile)) {
      await page.screenshot({ path: join(outputDir, 'no-results.png') }).catch(() => {});
      throw new Error(
        exitCode === undefined
          ? `no integration results within ${TOTAL_TIMEOUT_MS / 1000} s (see ${logFile})`
          : `the extension host exited with ${exitCode} before writing results (see ${logFile})`,
      );
    }
    return report(JSON.parse(readFileSync(resultsFile, 'utf8')));
  } finally {
    await browser?.close().catch(() => {});
    await server.stop();
  }
}

function report(results) {
  console.log('\n  Integration (extension host in code-server)');
  for (const test of results.tests) {
    console.log(`    ${test.state === 'passed' ? '✔' : '✗'} ${test.title}${test.ms !== undefined ? ` (${test.ms} ms)` : ''}`);
    if (test.error) console.log(test.error.replace(/^/gm, '        '));
  }
  console.log(`\n  ${results.passed} passing`);
  if (results.failed) console.log(`  ${results.failed} failing`);
  return results.failed === 0 && results.passed > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`integration layer failed: ${e.message}`);
    console.log('\n  0 passing\n  1 failing');
    process.exit(1);
  },
);
