/**
 * The packaging check (scripts/vsixAudit.mjs, run by scripts/package.mjs on every VSIX): it must
 * find test files and source maps naming absolute paths, linked or inline, in a real zip archive,
 * and pass a clean one. The archives are written here (stored and deflated entries).
 */
import { strict as assert } from 'node:assert';
import { crc32, deflateRawSync } from 'node:zlib';
// @ts-expect-error: a plain ES module of the build scripts, without type declarations.
import { auditEntries, zipEntries } from '../../scripts/vsixAudit.mjs';

type Audit = { auditEntries: (e: unknown[]) => string[]; zipEntries: (b: Buffer) => { name: string; read(): Buffer }[] };
const audit = { auditEntries, zipEntries } as Audit;

/** A zip archive of `files`, each stored or deflated. */
function zip(files: Record<string, string | Buffer>, deflate = true): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const raw = Buffer.from(content);
    const data = deflate ? deflateRawSync(raw) : raw;
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc32(raw), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc32(raw), 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const check = (files: Record<string, string>, deflate = true) => audit.auditEntries(audit.zipEntries(zip(files, deflate)));

describe('VSIX audit (packaging fails on test files and absolute source maps)', () => {
  const clean = {
    'extension.vsixmanifest': '<xml/>',
    'extension/package.json': '{}',
    'extension/dist/extension.js': 'console.log(1);\n',
    'extension/dist/webview.js': 'x();\n//# sourceMappingURL=webview.js.map\n',
    'extension/dist/webview.js.map': JSON.stringify({ version: 3, sources: ['../src/webview/main.ts'], mappings: '' }),
    'extension/node_modules/sharp/lib/index.js': 'module.exports = {};\n',
    'extension/node_modules/latest/package.json': '{}',
  };

  it('passes a clean package, stored or deflated, and reads every entry back', () => {
    assert.deepEqual(check(clean), []);
    assert.deepEqual(check(clean, false), []);
    const entries = audit.zipEntries(zip(clean));
    assert.deepEqual(entries.map((e) => e.name), Object.keys(clean));
    assert.equal(entries[2].read().toString(), 'console.log(1);\n');
  });

  it('finds test files wherever they are', () => {
    for (const name of ['extension/test/unit/run.test.js', 'extension/dist/suite/extension.test.js', 'extension/node_modules/x/tests/a.js', 'extension/node_modules/x/__tests__/a.js', 'extension/src/foo.spec.ts', 'extension/.mocharc.cjs']) {
      const problems = check({ ...clean, [name]: 'it("x", () => {});' });
      assert.deepEqual(problems, [`${name.replace(/^extension\//, '')}: a test file`], name);
    }
  });

  it('finds source maps that name absolute paths: linked, inline, Windows, file: URLs and source roots', () => {
    const map = (m: object) => JSON.stringify({ version: 3, mappings: '', ...m });
    const inline = (m: object) => `x();\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(map(m)).toString('base64')}\n`;
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'extension/dist/cli.js.map': map({ sources: ['/work/main/src/cli/main.ts'] }) }, /dist\/cli\.js\.map: source map with absolute paths \(\/work\/main/],
      [{ 'extension/dist/cli.js.map': map({ sources: ['C:\\build\\src\\main.ts'] }) }, /absolute paths/],
      [{ 'extension/dist/cli.js.map': map({ sources: ['file:///home/dev/src/main.ts'] }) }, /absolute paths/],
      [{ 'extension/dist/cli.js.map': map({ sourceRoot: '/home/dev/project/', sources: ['src/main.ts'] }) }, /absolute paths/],
      [{ 'extension/dist/extension.js': inline({ sources: ['/root/project/src/extension/extension.ts'] }) }, /extension\.js \(inline map\): source map with absolute paths/],
      [{ 'extension/dist/extension.js': 'x();\n//# sourceMappingURL=/work/main/dist/extension.js.map\n' }, /links a source map by absolute path/],
    ];
    for (const [files, expected] of cases) {
      const problems = check({ ...clean, ...files });
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.match(problems[0], expected);
    }
  });

  it('refuses what is not a zip archive', () => {
    assert.throws(() => audit.zipEntries(Buffer.from('not a zip')), /not a zip archive/);
  });
});
