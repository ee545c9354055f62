// One build script, one build() helper: every bundle of Contact Sheet.
//   node esbuild.mjs            production build into dist/
//   node esbuild.mjs --watch    rebuild on change
//   node esbuild.mjs --dev      unminified with source maps
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const dev = watch || process.argv.includes('--dev');

/**
 * Native packages stay outside the bundles and ship in node_modules. tsx is only reached when a
 * module runs from source (tests); bundles never load it.
 */
const nodeExternals = ['vscode', 'onnxruntime-node', 'sharp', 'tsx'];

/** @param {esbuild.BuildOptions} options */
async function build(options) {
  const common = {
    bundle: true,
    minify: !dev,
    sourcemap: dev ? 'linked' : false,
    logLevel: 'info',
    legalComments: 'none',
  };
  const ctx = await esbuild.context({ ...common, ...options });
  if (watch) {
    await ctx.watch();
  } else {
    await ctx.rebuild();
    await ctx.dispose();
  }
}

const node = { platform: 'node', target: 'node20', format: 'cjs', external: nodeExternals };

/** Every bundle, by name (test/unit/webviewBundle.test.ts builds the webview from this too). */
export const bundles = {
  // Extension host entry (VS Code loads dist/extension.js).
  extension: { ...node, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist' },
  // Scoring worker: owns the ONNX sessions, off the extension host's thread.
  scoringWorker: { ...node, entryPoints: { scoringWorker: 'src/core/scoring/worker.ts' }, outdir: 'dist' },
  // Command-line tool (bin/contact-sheet.js requires dist/cli.js).
  cli: { ...node, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist' },
  // Webview UI (browser, no Node, no vscode, no engine code).
  webview: { platform: 'browser', target: 'es2022', format: 'esm', entryPoints: { webview: 'src/webview/main.ts' }, outdir: 'dist' },
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await Promise.all(Object.values(bundles).map(build));
}
