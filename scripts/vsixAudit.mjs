// What a VSIX must not ship: test files, and source maps that name absolute paths (they disclose
// the build machine's folders and are useless to users). scripts/package.mjs runs auditVsix on every
// package it makes and fails packaging on a finding; test/unit/vsixAudit.test.ts checks the rules.
//   node scripts/vsixAudit.mjs out/vsix/contact-sheet-0.1.0-linux-x64.vsix
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

/** Paths of test files: test folders, *.test.* / *.spec.* files, mocha and test-runner configs. */
const TEST_FILE = [/(^|\/)(test|tests|__tests__|__mocks__|spec)\//i, /\.(test|spec)\.[cm]?[jt]sx?$/i, /(^|\/)\.mocharc(\.[a-z]+)?$/i, /(^|\/)\.vscode-test\.[cm]?js$/i];

/** An absolute path or URL to this machine's files, in any OS's spelling. */
function isAbsoluteSource(s) {
  return typeof s === 'string' && (/^\//.test(s) || /^[A-Za-z]:[\\/]/.test(s) || /^\\\\/.test(s) || /^file:/i.test(s));
}

/** Names the problems of one source map (its JSON text), or none. */
function sourceMapProblems(name, text) {
  let map;
  try {
    map = JSON.parse(text);
  } catch {
    return [`${name}: a source map that is not JSON`];
  }
  const absolute = [map.sourceRoot, ...(Array.isArray(map.sources) ? map.sources : []), map.file].filter(isAbsoluteSource);
  return absolute.length ? [`${name}: source map with absolute paths (${absolute.slice(0, 2).join(', ')})`] : [];
}

/**
 * The problems of a list of archive entries ({ name, read(): Buffer }); empty when the package is
 * clean. Every source map counts: linked (*.map) and inline (a data: URL in a script).
 */
export function auditEntries(entries) {
  const problems = [];
  for (const entry of entries) {
    const name = entry.name.replace(/^extension\//, '');
    if (entry.name.endsWith('/')) continue;
    if (TEST_FILE.some((re) => re.test(name))) problems.push(`${name}: a test file`);
    if (/\.map$/i.test(name)) problems.push(...sourceMapProblems(name, entry.read().toString('utf8')));
    else if (/\.[cm]?js$/i.test(name)) {
      const text = entry.read().toString('utf8');
      const inline = /[#@] sourceMappingURL=data:application\/json(?:;charset=[\w-]+)?;base64,([A-Za-z0-9+/=]+)/.exec(text);
      if (inline) problems.push(...sourceMapProblems(`${name} (inline map)`, Buffer.from(inline[1], 'base64').toString('utf8')));
      const linked = /[#@] sourceMappingURL=(\S+)\s*$/.exec(text);
      if (linked && isAbsoluteSource(linked[1])) problems.push(`${name}: links a source map by absolute path`);
    }
  }
  return problems;
}

/** The entries of a zip archive (no ZIP64: a VSIX is far below 4 GB and 65535 files). */
export function zipEntries(bytes) {
  const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0 || eocd < bytes.length - 22 - 0xffff) throw new Error('not a zip archive (no end of central directory)');
  const count = bytes.readUInt16LE(eocd + 10);
  let at = bytes.readUInt32LE(eocd + 16);
  if (count === 0xffff || at === 0xffffffff) throw new Error('ZIP64 archives are not supported');
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (bytes.readUInt32LE(at) !== 0x02014b50) throw new Error(`damaged central directory at entry ${i}`);
    const method = bytes.readUInt16LE(at + 10);
    const size = bytes.readUInt32LE(at + 20);
    const nameLength = bytes.readUInt16LE(at + 28);
    const next = at + 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
    const local = bytes.readUInt32LE(at + 42);
    const name = bytes.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    entries.push({
      name,
      read: () => {
        const start = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
        const data = bytes.subarray(start, start + size);
        if (method === 0) return data;
        if (method === 8) return inflateRawSync(data);
        throw new Error(`${name}: compression method ${method} is not supported`);
      },
    });
    at = next;
  }
  return entries;
}

export function auditVsix(path) {
  return auditEntries(zipEntries(readFileSync(path)));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = auditVsix(process.argv[2]);
  for (const p of problems) console.error(p);
  console.log(problems.length ? `${problems.length} problem(s) in ${process.argv[2]}` : `${process.argv[2]}: no test files, no source maps with absolute paths`);
  process.exit(problems.length ? 1 : 0);
}
