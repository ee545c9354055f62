// npm run test:e2e: packages the VSIX (builds first unless CONTACT_SHEET_SKIP_BUILD=1) and runs
// the Playwright tests in test/e2e against it. Screenshots land in test-output/e2e/.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const result = spawnSync(process.execPath, [mocha, '--config', 'test/e2e/.mocharc.cjs', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
