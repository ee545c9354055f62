// Where setup-code-server.sh installs Node 24 and code-server: `vscode-<key>` in the cache, <key>
// being the first 12 hex digits of the script's own sha256. A changed script never reuses an
// install made by an older one, so the first run after a change (CI's too) takes the cold path.
// The script computes the same folder (`bash scripts/setup-code-server.sh --print-dir`).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SETUP_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'setup-code-server.sh');

export function setupDir(env = process.env) {
  const cacheRoot = env.CONTACT_SHEET_CACHE || join(homedir(), '.cache', 'contact-sheet');
  const key = createHash('sha256').update(readFileSync(SETUP_SCRIPT)).digest('hex').slice(0, 12);
  return join(cacheRoot, `vscode-${key}`);
}
