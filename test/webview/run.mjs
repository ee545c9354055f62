// npm run test:webview: the results panel's webview in a real Chromium (test/webview/*.test.ts).
// The tests build the webview bundle themselves (production esbuild options) into test-output/webview
// and write screenshots there. Needs Chromium: `npm run setup:vscode` installs it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_PATH } from '../../scripts/codeServer.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
if (!existsSync(CHROMIUM_PATH)) {
  console.error(`Chromium is missing (${CHROMIUM_PATH}). Run: npm run setup:vscode`);
  process.exit(1);
}
const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const child = spawn(process.execPath, [mocha, '--config', 'test/webview/.mocharc.cjs', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
child.on('close', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
