// Bundles test/integration/suite/*.ts into out/integration/ for VS Code's extensionTestsPath.
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const suiteOutDir = join(root, 'out', 'integration');

export async function buildSuite() {
  rmSync(suiteOutDir, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: [join(root, 'test/integration/suite/*.ts')],
    outdir: suiteOutDir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // mocha and the native packages are resolved from this checkout's node_modules at run time;
    // vscode from the host.
    external: ['vscode', 'mocha', 'sharp', 'onnxruntime-node'],
    logLevel: 'warning',
  });
  return join(suiteOutDir, 'index.js');
}
