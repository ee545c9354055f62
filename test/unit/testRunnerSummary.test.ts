import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// scripts/test-all.mjs decides pass/fail for CI from mocha's summary lines; check its parser.
type Summary = { passing: number | null; failing: number | null };
let parseMochaSummary: (output: string) => Summary;

describe('npm test summary parsing (scripts/test-all.mjs)', () => {
  before(async () => {
    const url = pathToFileURL(join(__dirname, '..', '..', 'scripts', 'test-all.mjs')).href;
    ({ parseMochaSummary } = (await import(url)) as { parseMochaSummary: typeof parseMochaSummary });
  });

  it('reads passing and failing counts, colours or not', () => {
    assert.deepEqual(parseMochaSummary('\n  12 passing (3s)\n  1 pending\n  2 failing\n\n  1) a test:\n'), { passing: 12, failing: 2 });
    assert.deepEqual(parseMochaSummary('\u001b[32m  7 passing\u001b[0m\u001b[90m (40ms)\u001b[0m\n'), { passing: 7, failing: null });
  });

  it('takes the last summary and ignores counts inside test titles', () => {
    const output = '    ✔ shows 3 passing badges\n\n  0 passing (1ms)\n  1 failing\n\n  4 passing (2s)\n';
    assert.deepEqual(parseMochaSummary(output), { passing: 4, failing: 1 });
  });

  it('reports no counts when mocha never printed a summary', () => {
    assert.deepEqual(parseMochaSummary('Error: Cannot find module\n'), { passing: null, failing: null });
  });
});
