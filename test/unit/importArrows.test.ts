/**
 * The layering written down in ARCHITECTURE.md, enforced on every import (static, type-only,
 * dynamic and require) of every TypeScript file under src/, bench/, scripts/ and test/:
 *
 *   faces (cli, extension, webview) → core → (replicate | scoring → models), all → shared
 *
 * shared imports nothing; the webview only shared; core never a face or the sandbox; replicate
 * and scoring never each other; the sandbox only core and shared, and only faces, tests, benches
 * and scripts import it; nothing outside test/ imports test/. Faces start runs only through the
 * front door (src/core/engine.ts).
 */
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(__dirname, '..', '..');

type Layer =
  | 'cli' | 'extension' | 'webview' // faces
  | 'engine' | 'run' | 'kernel' | 'replicate' | 'scoring' | 'models' // core
  | 'shared' | 'sandbox' | 'test' | 'bench' | 'scripts';

function layerOf(file: string): Layer {
  const rel = relative(ROOT, file).split('\\').join('/');
  const [top, second, third] = rel.split('/');
  if (top === 'test' || top === 'bench' || top === 'scripts') return top;
  if (top !== 'src') throw new Error(`unexpected file ${rel}`);
  if (second === 'core') {
    if (third === 'engine.ts') return 'engine';
    if (third === 'run' || third === 'replicate' || third === 'scoring' || third === 'models') return third;
    return 'kernel'; // log, prompt, version: the core's own plain helpers
  }
  if (second === 'cli' || second === 'extension' || second === 'webview' || second === 'shared' || second === 'sandbox') return second;
  throw new Error(`no layer for ${rel}`);
}

const CORE: Layer[] = ['engine', 'run', 'kernel', 'replicate', 'scoring', 'models'];
const FACE_TARGETS: Layer[] = [...CORE, 'shared', 'sandbox'];

/** Which layers each layer may import (its own included). */
const ALLOWED: Record<Layer, Layer[]> = {
  shared: ['shared'],
  webview: ['webview', 'shared'],
  kernel: ['kernel', 'shared'],
  models: ['models', 'kernel', 'shared'],
  scoring: ['scoring', 'models', 'kernel', 'shared'],
  replicate: ['replicate', 'kernel', 'shared'],
  run: ['run', 'replicate', 'scoring', 'models', 'kernel', 'shared'],
  engine: ['engine', 'run', 'replicate', 'scoring', 'models', 'kernel', 'shared'],
  cli: ['cli', ...FACE_TARGETS],
  extension: ['extension', ...FACE_TARGETS],
  sandbox: ['sandbox', ...CORE, 'shared'],
  test: ['test', 'cli', 'extension', 'webview', ...FACE_TARGETS, 'bench', 'scripts'],
  bench: ['bench', ...FACE_TARGETS, 'cli'],
  scripts: ['scripts', ...FACE_TARGETS, 'cli'],
};

/** The run's machinery: faces reach it only through src/core/engine.ts. */
const BEHIND_THE_FRONT_DOOR = [
  'src/core/run/executeRun.ts',
  'src/core/run/resume.ts',
  'src/core/run/resumeRecovery.ts',
  'src/core/replicate/client.ts',
  'src/core/replicate/generator.ts',
  'src/core/replicate/index.ts',
];

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;

function typescriptFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : typescriptFiles(path);
    return /\.(ts|mts|mjs)$/.test(entry.name) ? [path] : [];
  });
}

interface Import {
  from: string;
  specifier: string;
  /** The project file it resolves to, or null for a package or Node built-in. */
  target: string | null;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => {
    const specifier = m[1];
    if (!specifier.startsWith('.')) return { from: file, specifier, target: null };
    const base = resolve(dirname(file), specifier);
    const target = ['', '.ts', '.json', '/index.ts', '.mjs', '.js'].map((e) => base + e).find((c) => existsSync(c) && statSync(c).isFile());
    return { from: file, specifier, target: target ?? base };
  });
}

const files = ['src', 'bench', 'scripts', 'test'].flatMap((d) => typescriptFiles(join(ROOT, d)));
const imports = files.flatMap(importsOf);
const rel = (f: string) => relative(ROOT, f).split('\\').join('/');
const describeImport = (i: Import) => `${rel(i.from)} → ${i.target ? rel(i.target) : i.specifier}`;

describe('import arrows (ARCHITECTURE.md)', () => {
  it('sees the project', () => {
    assert.ok(files.length > 100, `found ${files.length} files`);
    assert.ok(imports.some((i) => i.target && layerOf(i.from) === 'cli' && rel(i.target) === 'src/core/engine.ts'), 'the CLI imports the front door');
    assert.ok(imports.some((i) => i.target && layerOf(i.from) === 'extension' && rel(i.target) === 'src/core/engine.ts'), 'the extension imports the front door');
  });

  it('every import between project files follows an allowed arrow', () => {
    const offenders = imports
      .filter((i) => i.target && (i.target.startsWith(join(ROOT, 'src')) || i.target.startsWith(join(ROOT, 'test')) || i.target.startsWith(join(ROOT, 'bench')) || i.target.startsWith(join(ROOT, 'scripts'))))
      .filter((i) => !ALLOWED[layerOf(i.from)].includes(layerOf(i.target as string)))
      .map(describeImport);
    assert.deepEqual(offenders, []);
  });

  it('shared and the webview import no package and no Node built-in (the webview bundle runs in a browser)', () => {
    const offenders = imports.filter((i) => i.target === null && ['shared', 'webview'].includes(layerOf(i.from))).map(describeImport);
    assert.deepEqual(offenders, []);
  });

  it('nothing under src/, bench/ or scripts/ imports from test/', () => {
    const offenders = imports.filter((i) => i.target && layerOf(i.from) !== 'test' && rel(i.target).startsWith('test/')).map(describeImport);
    assert.deepEqual(offenders, []);
  });

  it('faces start runs only through the front door (src/core/engine.ts)', () => {
    const offenders = imports
      .filter((i) => i.target && ['cli', 'extension', 'webview'].includes(layerOf(i.from)) && BEHIND_THE_FRONT_DOOR.includes(rel(i.target)))
      .map(describeImport);
    assert.deepEqual(offenders, []);
  });

  it('catches a forbidden arrow (the rules are not vacuous)', () => {
    assert.equal(ALLOWED.webview.includes(layerOf(join(ROOT, 'src/core/engine.ts'))), false);
    assert.equal(ALLOWED.replicate.includes(layerOf(join(ROOT, 'src/core/scoring/scorer.ts'))), false);
    assert.equal(ALLOWED.scoring.includes(layerOf(join(ROOT, 'src/core/replicate/client.ts'))), false);
    assert.equal(ALLOWED.run.includes(layerOf(join(ROOT, 'src/cli/main.ts'))), false);
    assert.equal(ALLOWED.shared.includes(layerOf(join(ROOT, 'src/core/log.ts'))), false);
    assert.equal(ALLOWED.models.includes(layerOf(join(ROOT, 'src/core/scoring/types.ts'))), false);
    assert.equal(ALLOWED.engine.includes(layerOf(join(ROOT, 'src/sandbox/hub/server.ts'))), false);
    assert.equal(ALLOWED.bench.includes(layerOf(join(ROOT, 'test/support/runFixture.ts'))), false);
  });
});
