/**
 * The Replicate API base URL carries the token: https anywhere, plain http only to this machine
 * (127.0.0.0/8, ::1, localhost). The one rule lives in core (checkApiBaseUrl); the CLI's flag and
 * environment variable, and every engine, go through it.
 */
import { strict as assert } from 'node:assert';
import { checkApiBaseUrl } from '../../src/core/replicate/apiBaseUrl';
import { parseApiBaseUrl, REPLICATE_API_BASE_URL } from '../../src/extension/settings/apiBaseUrl';
import { createEngine } from '../../src/core/engine';
import { main } from '../../src/cli/main';
import { capturedIO } from '../support/runFixture';
import type { ContactSheetError } from '../../src/shared/errors';

const refused = (source: string) => (e: ContactSheetError) =>
  e.code === 'bad-usage' && e.message.includes(source) && /https:\/\//.test(e.action ?? '') && /127\.0\.0\.1/.test(e.action ?? '');

describe('API base URL rule', () => {
  it('accepts https anywhere and http only on loopback, normalized without trailing slashes', () => {
    for (const [given, expected] of [
      ['https://api.replicate.com', 'https://api.replicate.com'],
      ['https://proxy.example.com/replicate/', 'https://proxy.example.com/replicate'],
      ['http://127.0.0.1:8787', 'http://127.0.0.1:8787'],
      ['http://127.5.6.7:1/', 'http://127.5.6.7:1'],
      ['http://localhost:9000', 'http://localhost:9000'],
      ['http://LOCALHOST:9000', 'http://localhost:9000'],
      ['http://[::1]:8080', 'http://[::1]:8080'],
    ]) {
      assert.equal(checkApiBaseUrl(given, '--api-base-url'), expected, given);
    }
  });

  it('refuses http to any other host, other schemes, credentials in the URL and non-URLs, with an action', () => {
    for (const bad of [
      'http://api.replicate.com',
      'http://example.com:80',
      'http://10.0.0.1',
      'http://192.168.1.20:8787',
      'http://128.0.0.1',
      'http://localhost.example.com',
      'http://127.0.0.1.nip.io',
      'http://[::2]',
      'http://[::ffff:8.8.8.8]',
      'ftp://127.0.0.1',
      'file:///etc/passwd',
      'https://user:secret@api.replicate.com',
      'not a url',
      '',
    ]) {
      assert.throws(() => checkApiBaseUrl(bad, 'REPLICATE_API_BASE_URL'), refused('REPLICATE_API_BASE_URL'), bad);
    }
  });

  it('the engine factory refuses an insecure URL before anything runs', () => {
    assert.throws(() => createEngine({ apiBaseUrl: 'http://example.com', token: 'r8_notUsedNotUsed0000' }), refused('API base URL'));
    assert.doesNotThrow(() => createEngine({ apiBaseUrl: 'http://127.0.0.1:1' }));
  });

  it('the CLI refuses --api-base-url and REPLICATE_API_BASE_URL over plain http to another host (exit 2), and never sends the token', async () => {
    const env = { PATH: process.env.PATH, REPLICATE_API_TOKEN: 'r8_wouldLeakInClearText000' };
    const flag = capturedIO({ isTTY: false, env, signal: new AbortController().signal, cwd: process.cwd() });
    assert.equal(await main(['generate', 'nope.txt', '--dry-run', '--api-base-url', 'http://example.com'], flag), 2);
    assert.match(flag.stderrText, /\[bad-usage\]: --api-base-url .*http:\/\/example\.com/);
    assert.match(flag.stderrText, /→ Use an https:\/\/ URL/);

    const fromEnv = capturedIO({ isTTY: false, env: { ...env, REPLICATE_API_BASE_URL: 'http://192.168.0.9:8787' }, signal: new AbortController().signal, cwd: process.cwd() });
    assert.equal(await main(['resume', 'some-run'], fromEnv), 2);
    assert.match(fromEnv.stderrText, /\[bad-usage\]: REPLICATE_API_BASE_URL /);
    assert.ok(!fromEnv.stderrText.includes('r8_wouldLeakInClearText000'));
  });
});

describe('contactSheet.apiBaseUrl setting', () => {
  it('is Replicate when empty', () => {
    assert.equal(parseApiBaseUrl(undefined), REPLICATE_API_BASE_URL);
    assert.equal(parseApiBaseUrl('  '), REPLICATE_API_BASE_URL);
  });

  it('accepts https anywhere and http only to this machine', () => {
    assert.equal(parseApiBaseUrl('https://replicate.example.com/'), 'https://replicate.example.com');
    assert.equal(parseApiBaseUrl('http://127.0.0.1:8787'), 'http://127.0.0.1:8787');
    assert.equal(parseApiBaseUrl('http://localhost:9000/'), 'http://localhost:9000');
    assert.equal(parseApiBaseUrl('http://[::1]:9000'), 'http://[::1]:9000');
  });

  it('refuses what would send the token in the clear or carries extras, saying what to do', () => {
    for (const bad of ['http://api.replicate.com', 'http://192.168.1.5:8787', 'ftp://127.0.0.1', 'not a url', 'https://user:pw@example.com', 'https://example.com/?x=1']) {
      assert.throws(() => parseApiBaseUrl(bad), (e: { code?: string; action?: string; message?: string }) => e.code === 'bad-usage' && !!e.action && /apiBaseUrl/.test(e.message ?? ''), bad);
    }
  });
});
