/**
 * The webview bundle carries no engine code: built with esbuild.mjs's own webview options, every
 * input from src/ is under src/webview or src/shared, and nothing else is bundled except the
 * UI packages named here.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = join(__dirname, '..', '..');
/** Packages the webview may bundle (icons and UI elements only). */
const UI_PACKAGES = ['node_modules/@vscode/codicons/', 'node_modules/@vscode-elements/'];

describe('webview bundle', function () {
  this.timeout(60_000);

  it('bundles only src/webview and src/shared (no core, extension, CLI or Node code)', async () => {
    const { bundles } = (await import(pathToFileURL(join(ROOT, 'esbuild.mjs')).href)) as { bundles: Record<string, esbuild.BuildOptions> };
    const result = await esbuild.build({ ...bundles.webview, absWorkingDir: ROOT, bundle: true, write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.includes('src/webview/main.ts') && inputs.some((i) => i.startsWith('src/shared/')), `inputs: ${inputs.join(', ')}`);
    const foreign = inputs.filter((i) => !i.startsWith('src/webview/') && !i.startsWith('src/shared/') && !UI_PACKAGES.some((p) => i.startsWith(p)));
    assert.deepEqual(foreign, []);
  });
});
