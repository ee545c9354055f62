/**
 * The results panel's HTML document, as a pure function of its resource URIs (no vscode import),
 * so the webview tests load exactly the document VS Code gets. Strict CSP: nothing but the
 * nonce'd script runs; styles, fonts and images come only from the webview's own resources
 * (images also as data: URIs, the previews a live run sends inline).
 * Nothing user-provided goes in here: the prompt and the runs arrive by postMessage.
 */
export interface WebviewShellOptions {
  /** webview.cspSource: the origin of the panel's local resources. */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  /** Stylesheets in order (codicons first, then the panel's). */
  styleUris: string[];
}

export function webviewShellHtml(options: WebviewShellOptions): string {
  const { cspSource, nonce } = options;
  const csp = [
    "default-src 'none'",
    // data: for the live previews the host sends inline (no resource round trip per image).
    `img-src ${cspSource} data:`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const styles = options.styleUris.map((uri) => `  <link rel="stylesheet" href="${attr(uri)}">`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
${styles}
  <title>Contact Sheet</title>
</head>
<body>
  <main id="app" aria-busy="true"><p class="status">Loading…</p></main>
  <script type="module" nonce="${attr(nonce)}" src="${attr(options.scriptUri)}"></script>
</body>
</html>`;
}

function attr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
