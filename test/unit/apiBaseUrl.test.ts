import * as assert from 'node:assert/strict';
import { parseApiBaseUrl, REPLICATE_API_BASE_URL } from '../../src/extension/settings/apiBaseUrl';

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
