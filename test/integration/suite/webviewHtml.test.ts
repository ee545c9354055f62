import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { getHtmlForWebview, getWebviewOptions } from '../../../src/extension/panel/webviewHtml';

// The HTML shell and options of the results panel, built with the real vscode.Uri in the host.
const extensionUri = vscode.Uri.file('/opt/contact-sheet');
const fakeWebview = {
  cspSource: 'https://webview.test',
  asWebviewUri: (uri: vscode.Uri) => uri.with({ scheme: 'https', authority: 'webview.test' }),
} as unknown as vscode.Webview;

describe('results panel HTML and options', () => {
  it('limits local resources to dist/ and media/', () => {
    const options = getWebviewOptions(extensionUri);
    assert.equal(options.enableScripts, true);
    assert.deepEqual(options.localResourceRoots?.map((u) => u.path), ['/opt/contact-sheet/dist', '/opt/contact-sheet/media']);
  });

  it('has a strict CSP with a fresh nonce that the only script carries', () => {
    const first = getHtmlForWebview(fakeWebview, extensionUri);
    const second = getHtmlForWebview(fakeWebview, extensionUri);
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(first)?.[1] ?? '';
    assert.match(csp, /^default-src 'none';/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce && nonce.length >= 16, 'a nonce of at least 16 characters');
    const scripts = [...first.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    assert.equal(scripts.length, 1);
    assert.ok(scripts[0].includes(`nonce="${nonce}"`));
    assert.ok(scripts[0].includes('https://webview.test/opt/contact-sheet/dist/webview.js'));
    assert.notEqual(/script-src 'nonce-([^']+)'/.exec(second)?.[1], nonce, 'each document gets its own nonce');
  });

  it('loads the codicons and the panel stylesheet from the extension, fonts allowed from the same source', () => {
    const html = getHtmlForWebview(fakeWebview, extensionUri);
    const styles = [...html.matchAll(/<link rel="stylesheet" href="([^"]+)">/g)].map((m) => m[1]);
    assert.deepEqual(styles, ['https://webview.test/opt/contact-sheet/dist/codicons/codicon.css', 'https://webview.test/opt/contact-sheet/media/webview.css']);
    assert.match(html, /font-src https:\/\/webview\.test;/);
    assert.doesNotMatch(html, /style=/, 'no inline styles (the CSP forbids them)');
  });
});
