// npm run test:electron: the same integration suite in desktop VS Code via @vscode/test-electron.
// It downloads VS Code, so it needs internet; CI runs the code-server variant (run.mjs) instead.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { buildSuite, root } from './buildSuite.mjs';

const extensionTestsPath = await buildSuite();
const sandbox = mkdtempSync(join(tmpdir(), 'contact-sheet-electron-'));
const workspace = join(sandbox, 'workspace');
cpSync(join(root, 'test', 'workspace'), workspace, { recursive: true });
try {
  await runTests({
    version: process.env.VSCODE_VERSION ?? '1.100.0',
    extensionDevelopmentPath: root,
    extensionTestsPath,
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--user-data-dir', join(sandbox, 'user-data')],
  });
} catch (e) {
  console.error(`integration tests failed: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
} finally {
  rmSync(sandbox, { recursive: true, force: true });
}
