import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// The VS Code test layers find code-server where scripts/setup-code-server.sh put it: both sides
// must name the same folder, keyed by the script's own content, so a changed script is a cold install.
const root = join(__dirname, '..', '..');
const script = join(root, 'scripts', 'setup-code-server.sh');

describe('setup-code-server.sh and the test launcher agree on the install folder', () => {
  let setupDir: (env?: NodeJS.ProcessEnv) => string;
  let cache: string;

  before(async () => {
    ({ setupDir } = (await import(pathToFileURL(join(root, 'scripts', 'setupDir.mjs')).href)) as { setupDir: typeof setupDir });
    cache = mkdtempSync(join(tmpdir(), 'contact-sheet-setup-key-'));
  });
  after(() => rmSync(cache, { recursive: true, force: true }));

  it('names the same vscode-<key> folder as the script, under CONTACT_SHEET_CACHE', () => {
    const env = { ...process.env, CONTACT_SHEET_CACHE: cache };
    const fromScript = execFileSync('bash', [script, '--print-dir'], { env, encoding: 'utf8' }).trim();
    assert.equal(fromScript, setupDir(env));
    assert.match(fromScript, new RegExp(`^${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/vscode-[0-9a-f]{12}$`));
  });

  it('derives the key from the script content, so any edit of the script starts a cold install', () => {
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    const key = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
    assert.equal(setupDir({ CONTACT_SHEET_CACHE: cache }), join(cache, `vscode-${key}`));
  });

  it('clears inherited npm_config_* settings before its own npm runs (code-server reads the Node version from the user agent)', () => {
    const text = readFileSync(script, 'utf8');
    const clear = text.indexOf("compgen -e | grep -i '^npm_'");
    const firstInstall = text.indexOf('\ninstall_tools\n');
    assert.ok(clear > 0, 'the script unsets npm_* variables');
    assert.ok(firstInstall > clear, 'before the first install step runs');
    assert.match(text, /"\$NODE24" "\$NPM10_CLI" install/, 'code-server is installed by npm running under Node 24');
  });
});
