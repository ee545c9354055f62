// Builds a platform-specific VSIX:
//   node scripts/package.mjs [--target linux-x64] [--skip-build] [--out-dir out/vsix]
// The bundles keep onnxruntime-node and sharp external (native code), so the VSIX carries those
// packages in node_modules with only the target's binaries. They are staged into
// out/package/<target>/ and `vsce package --target` runs there, so vsce's dependency walk
// (`npm list --production`) sees exactly the staged tree. Fails when a binary is missing, and for
// linux-x64 when the VSIX exceeds 30 MB. Prints the VSIX path last.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MAX_LINUX_X64_BYTES = 30 * 1024 * 1024;

/**
 * What each VS Code target needs: onnxruntime-node's bin folder, its required files, and the
 * sharp packages (@img/sharp-<p> and, where separate, @img/sharp-libvips-<p>).
 * darwin-x64 is absent: onnxruntime-node 1.30 ships no macOS Intel binary.
 */
const TARGETS = {
  'linux-x64': { ort: 'linux/x64', ortFiles: ['onnxruntime_binding.node', 'libonnxruntime.so.1'], sharp: 'linux-x64', libvips: 'linux-x64' },
  'linux-arm64': { ort: 'linux/arm64', ortFiles: ['onnxruntime_binding.node', 'libonnxruntime.so.1'], sharp: 'linux-arm64', libvips: 'linux-arm64' },
  'darwin-arm64': { ort: 'darwin/arm64', ortFiles: ['onnxruntime_binding.node', 'libonnxruntime.1.dylib'], sharp: 'darwin-arm64', libvips: 'darwin-arm64' },
  'win32-x64': { ort: 'win32/x64', ortFiles: ['onnxruntime_binding.node', 'onnxruntime.dll'], sharp: 'win32-x64', libvips: null },
  'win32-arm64': { ort: 'win32/arm64', ortFiles: ['onnxruntime_binding.node', 'onnxruntime.dll'], sharp: 'win32-arm64', libvips: null },
};

/** Files in an onnxruntime bin folder that the CPU runtime never loads (GPU providers, copies). */
const ORT_DROP = [/providers_cuda/i, /providers_tensorrt/i, /providers_shared/i, /^libonnxruntime\.\d+\.\d+\.\d+\.dylib$/];

/** Only used by onnxruntime-node's install script (downloading CUDA binaries), never at run time. */
const ORT_INSTALL_ONLY_DEPS = ['adm-zip', 'global-agent'];

/** Files of a JS package that are not needed at run time. */
const JS_PACKAGE_DROP = [/\.map$/, /\.d\.ts$/, /\.d\.mts$/, /\.d\.cts$/, /(^|\/)(test|tests|docs?|script|src|lib\/.*\.ts)$/i];

class PackagingError extends Error {}

function parseArgs(argv) {
  const args = { target: `${process.platform}-${process.arch}`, build: true, outDir: join(root, 'out', 'vsix') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--target') args.target = argv[++i];
    else if (a.startsWith('--target=')) args.target = a.slice('--target='.length);
    else if (a === '--skip-build') args.build = false;
    else if (a === '--out-dir') args.outDir = resolve(argv[++i]);
    else throw new PackagingError(`Unknown argument ${a}. Usage: node scripts/package.mjs [--target linux-x64] [--skip-build] [--out-dir DIR]`);
  }
  return args;
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function requireFile(path, fix) {
  if (!existsSync(path)) throw new PackagingError(`Missing ${relative(root, path)}. ${fix}`);
}

/** Copies a package directory, leaving out files matching `drop` (tested against the relative path). */
function copyPackage(name, stageModules, drop = JS_PACKAGE_DROP) {
  const from = join(root, 'node_modules', name);
  requireFile(join(from, 'package.json'), 'Run `ONNXRUNTIME_NODE_INSTALL=skip npm ci`.');
  const to = join(stageModules, name);
  cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const rel = relative(from, src);
      return rel === '' || rel.startsWith('node_modules') ? rel === '' : !drop.some((re) => re.test(rel));
    },
  });
  return to;
}

/** Runtime dependencies of a package, transitively (skipping optional and install-only ones). */
function runtimeDependencies(name, seen = new Set()) {
  if (seen.has(name)) return seen;
  seen.add(name);
  const pkg = readJson(join(root, 'node_modules', name, 'package.json'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    if (!ORT_INSTALL_ONLY_DEPS.includes(dep)) runtimeDependencies(dep, seen);
  }
  return seen;
}

function stageOnnxRuntime(spec, stageModules) {
  const binRoot = join(root, 'node_modules', 'onnxruntime-node', 'bin');
  requireFile(binRoot, 'Run `ONNXRUNTIME_NODE_INSTALL=skip npm ci`.');
  const napi = readdirSync(binRoot).find((d) => d.startsWith('napi-v'));
  if (!napi) throw new PackagingError('onnxruntime-node has no bin/napi-v* folder; its layout changed.');
  const binDir = join(binRoot, napi, spec.ort);
  for (const f of spec.ortFiles) {
    requireFile(join(binDir, f), `onnxruntime-node ${spec.ort} binaries are missing; reinstall with \`ONNXRUNTIME_NODE_INSTALL=skip npm ci\`.`);
  }
  const dest = join(stageModules, 'onnxruntime-node');
  copyPackage('onnxruntime-node', stageModules, [...JS_PACKAGE_DROP, /^bin(\/|$)/, /^lib(\/|$)/, /^script(\/|$)/]);
  const destBin = join(dest, 'bin', napi, spec.ort);
  mkdirSync(destBin, { recursive: true });
  for (const f of readdirSync(binDir)) {
    if (!ORT_DROP.some((re) => re.test(f))) cpSync(join(binDir, f), join(destBin, f));
  }
  // The staged package.json loses its install script and install-only deps, so `npm list` is clean.
  const pkgPath = join(dest, 'package.json');
  const pkg = readJson(pkgPath);
  for (const dep of ORT_INSTALL_ONLY_DEPS) delete pkg.dependencies?.[dep];
  delete pkg.scripts;
  delete pkg.devDependencies;
  writeFileSync(pkgPath, JSON.stringify(pkg, null, 2));
}

function stageSharp(spec, stageModules, target) {
  const fix = (pkg) =>
    `Install it with \`npm install --no-save --os=${target.split('-')[0]} --cpu=${target.split('-')[1]} ${pkg}\` and package again.`;
  const sharpPkg = `@img/sharp-${spec.sharp}`;
  const version = readJson(join(root, 'node_modules', 'sharp', 'package.json')).optionalDependencies?.[sharpPkg];
  requireFile(join(root, 'node_modules', sharpPkg, 'lib', `sharp-${spec.sharp}.node`), fix(`${sharpPkg}@${version}`));
  copyPackage(sharpPkg, stageModules);
  if (spec.libvips) {
    const vipsPkg = `@img/sharp-libvips-${spec.libvips}`;
    const libDir = join(root, 'node_modules', vipsPkg, 'lib');
    const hasLib = existsSync(libDir) && readdirSync(libDir).some((f) => /^libvips-cpp\./.test(f));
    if (!hasLib) throw new PackagingError(`Missing the libvips library of ${vipsPkg}. ${fix(vipsPkg)}`);
    copyPackage(vipsPkg, stageModules);
  }
}

function stageExtension(target) {
  const spec = TARGETS[target];
  if (!spec) throw new PackagingError(`Unsupported target ${target}. Supported: ${Object.keys(TARGETS).join(', ')}.`);
  const stage = join(root, 'out', 'package', target);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });

  for (const f of ['dist/extension.js', 'dist/webview.js', 'dist/scoringWorker.js', 'dist/cli.js', 'dist/codicons/codicon.css', 'dist/codicons/codicon.ttf']) {
    requireFile(join(root, f), 'Run `npm run build`.');
    cpSync(join(root, f), join(stage, f));
  }
  for (const f of ['README.md', 'CHANGELOG.md', 'LICENSE', '.vscodeignore']) {
    requireFile(join(root, f), 'It belongs in the repository root.');
    cpSync(join(root, f), join(stage, f));
  }
  cpSync(join(root, 'media'), join(stage, 'media'), { recursive: true });
  // The scoring models' manifest is read at run time; Replicate's prices are bundled into dist/.
  mkdirSync(join(stage, 'models'));
  requireFile(join(root, 'models', 'manifest.json'), 'It belongs in models/.');
  cpSync(join(root, 'models', 'manifest.json'), join(stage, 'models', 'manifest.json'));

  const manifest = readJson(join(root, 'package.json'));
  const external = ['onnxruntime-node', 'sharp'];
  // The VSIX runs the bundles, not the sources: only the external packages are dependencies,
  // and the CLI's bin, scripts and dev tooling stay out.
  const staged = { ...manifest, dependencies: Object.fromEntries(external.map((d) => [d, manifest.dependencies[d]])) };
  for (const key of ['scripts', 'devDependencies', 'bin']) delete staged[key];
  writeFileSync(join(stage, 'package.json'), JSON.stringify(staged, null, 2));

  const stageModules = join(stage, 'node_modules');
  stageOnnxRuntime(spec, stageModules);
  for (const dep of runtimeDependencies('onnxruntime-node')) if (dep !== 'onnxruntime-node') copyPackage(dep, stageModules);
  for (const dep of runtimeDependencies('sharp')) copyPackage(dep, stageModules, dep === 'sharp' ? [...JS_PACKAGE_DROP, /^src(\/|$)/, /^install(\/|$)/] : JS_PACKAGE_DROP);
  stageSharp(spec, stageModules, target);
  return { stage, version: manifest.version, name: manifest.name };
}

/** On the build's own platform, proves the staged native packages load and work. */
function checkNativeModulesLoad(stage) {
  const probe = `
    const ort = require('onnxruntime-node');
    const sharp = require('sharp');
    if (typeof ort.InferenceSession.create !== 'function') throw new Error('onnxruntime-node has no InferenceSession');
    sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } }).png().toBuffer()
      .then((png) => { if (png.length < 8) throw new Error('sharp produced no PNG'); });`;
  try {
    execFileSync(process.execPath, ['-e', probe], { cwd: stage, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (e) {
    throw new PackagingError(`The staged onnxruntime-node/sharp do not load: ${e.stderr || e.message}`);
  }
}

export function packageExtension({ target = `${process.platform}-${process.arch}`, build = true, outDir = join(root, 'out', 'vsix') } = {}) {
  if (build) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  const { stage, version, name } = stageExtension(target);
  if (target === `${process.platform}-${process.arch}`) checkNativeModulesLoad(stage);
  mkdirSync(outDir, { recursive: true });
  const vsix = join(outDir, `${name}-${version}-${target}.vsix`);
  rmSync(vsix, { force: true });
  const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  // vsce prints every packaged file; keep that for failures only.
  try {
    execFileSync(process.execPath, [vsce, 'package', '--target', target, '--out', vsix, '--skip-license'], {
      cwd: stage,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VSCE_TELEMETRY: 'off' },
      timeout: 300_000,
    });
  } catch (e) {
    throw new PackagingError(`vsce package failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
  const bytes = statSync(vsix).size;
  console.log(`${relative(root, vsix)}: ${(bytes / 1024 / 1024).toFixed(1)} MB`);
  if (target === 'linux-x64' && bytes > MAX_LINUX_X64_BYTES) {
    throw new PackagingError(`The linux-x64 VSIX is ${(bytes / 1024 / 1024).toFixed(1)} MB, over the 30 MB limit.`);
  }
  return { vsix, bytes };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { vsix } = packageExtension(parseArgs(process.argv.slice(2)));
    console.log(vsix);
  } catch (e) {
    console.error(e instanceof PackagingError ? `package: ${e.message}` : e);
    process.exit(1);
  }
}
