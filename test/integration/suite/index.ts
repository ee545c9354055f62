/**
 * Entry point VS Code loads as extensionTestsPath: runs the integration tests with mocha inside
 * the real extension host and writes the outcome to results.json beside this bundle, where the
 * runner (test/integration/run.mjs) reads it. A file works because the extension host runs on
 * the same machine, and it does not depend on how the workbench reports exit codes.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

export interface IntegrationResults {
  passed: number;
  failed: number;
  tests: { title: string; state: 'passed' | 'failed'; ms?: number; error?: string }[];
}

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 30_000, color: false, reporter: 'spec' });
  // CONTACT_SHEET_INTEGRATION_GREP=history npm run test:integration runs only the matching tests.
  const grep = process.env.CONTACT_SHEET_INTEGRATION_GREP;
  if (grep) mocha.grep(grep);
  for (const file of readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) {
    mocha.addFile(join(__dirname, file));
  }
  const results: IntegrationResults = { passed: 0, failed: 0, tests: [] };
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    runner.on('pass', (test) => {
      results.passed++;
      results.tests.push({ title: test.fullTitle(), state: 'passed', ms: test.duration });
    });
    runner.on('fail', (test, err: Error) => {
      results.failed++;
      results.tests.push({ title: test.fullTitle(), state: 'failed', ms: test.duration, error: err?.stack ?? String(err) });
    });
  });
  writeFileSync(join(__dirname, 'results.json'), JSON.stringify(results, null, 2));
  if (results.failed > 0) throw new Error(`${results.failed} integration test(s) failed`);
}
