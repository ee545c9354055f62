// One build script, one build() helper: every bundle of Contact Sheet.
//   node esbuild.mjs            production build into dist/
//   node esbuild.mjs --watch    rebuild on change
//   node esbuild.mjs --dev      unminified with source maps
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));

const watch = process.argv.includes('--watch');
const dev = watch || process.argv.includes('--dev');

/**
 * Native packages stay outside the bundles and ship in node_modules. tsx is only reached when a
 * module runs from source (tests); bundles never load it.
 */
const nodeExternals = ['vscode', 'onnxruntime-node', 'sharp', 'tsx'];

/** @param {esbuild.BuildOptions} options */
export async function build(options) {
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

/** The webview UI (browser, no Node, no vscode, no engine code); the webview tests build it with these options too. */
export const webviewBundle = { platform: 'browser', target: 'es2022', format: 'esm', entryPoints: { webview: join(root, 'src/webview/main.ts') } };

/** Every bundle, by name (test/unit/webviewBundle.test.ts builds the webview from this too). */
export const bundles = {
  // Extension host entry (VS Code loads dist/extension.js).
  extension: { ...node, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist' },
  // Scoring worker: owns the ONNX sessions, off the extension host's thread.
  scoringWorker: { ...node, entryPoints: { scoringWorker: 'src/core/scoring/worker.ts' }, outdir: 'dist' },
  // Command-line tool (bin/contact-sheet.js requires dist/cli.js).
  cli: { ...node, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist' },
  // Webview UI.
  webview: { ...webviewBundle, outdir: 'dist' },
};

/** The codicon font and its stylesheet beside the bundles: the panel's CSP takes fonts only from its own resources. */
export function copyCodicons(outdir) {
  const from = join(root, 'node_modules', '@vscode', 'codicons', 'dist');
  const to = join(outdir, 'codicons');
  mkdirSync(to, { recursive: true });
  for (const file of ['codicon.css', 'codicon.ttf']) copyFileSync(join(from, file), join(to, file));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  copyCodicons(join(root, 'dist'));
  await Promise.all(Object.values(bundles).map(build));
}
