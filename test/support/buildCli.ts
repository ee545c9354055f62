/**
 * Makes sure dist/cli.js (and the scoring worker bundle) is current before a test spawns
 * `node bin/contact-sheet.js`: builds when it is missing or older than any source file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..');
export const CLI_BIN = join(REPO_ROOT, 'bin', 'contact-sheet.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export function ensureCliBuilt(): void {
  const outputs = ['cli.js', 'scoringWorker.js'].map((f) => join(REPO_ROOT, 'dist', f));
  const built = outputs.every(existsSync) ? Math.min(...outputs.map((f) => statSync(f).mtimeMs)) : 0;
  const sources = Math.max(newestMtime(join(REPO_ROOT, 'src')), statSync(join(REPO_ROOT, 'package.json')).mtimeMs);
  if (built > sources) return;
  execFileSync(process.execPath, [join(REPO_ROOT, 'esbuild.mjs')], { cwd: REPO_ROOT, stdio: 'pipe', timeout: 180_000 });
}
