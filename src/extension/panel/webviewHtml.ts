import * as vscode from 'vscode';
import { createNonce } from './nonce';
import { webviewShellHtml } from './webviewShell';

export const RESULTS_VIEW_TYPE = 'contactSheet.results';

/**
 * Webview options: scripts on; resources only from dist/, media/ and the folders that hold this
 * prompt's runs (its images and their previews), nothing else on disk.
 */
export function getWebviewOptions(extensionUri: vscode.Uri, runRoots: readonly vscode.Uri[] = []): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media'), ...runRoots],
  };
}

/** The static shell of the panel (webviewShell.ts) with this webview's resource URIs and a fresh nonce. */
export function getHtmlForWebview(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const resource = (...path: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...path)).toString();
  return webviewShellHtml({
    cspSource: webview.cspSource,
    nonce: createNonce(),
    scriptUri: resource('dist', 'webview.js'),
    // codicon.css loads codicon.ttf next to it, which font-src ${cspSource} allows.
    styleUris: [resource('dist', 'codicons', 'codicon.css'), resource('media', 'webview.css')],
  });
}
