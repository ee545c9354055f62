import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

// src/core is shared by the CLI and the extension: it must run without VS Code.
const coreDir = join(__dirname, '..', '..', 'src', 'core');

/** Matches static, type-only, dynamic and require imports of 'vscode' (and 'vscode/…'). */
const VSCODE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)['"]vscode(?:\/[^'"]*)?['"]/;

function typescriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return typescriptFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('src/core stays free of vscode', () => {
  it('recognises every form of a vscode import', () => {
    const forms = [
      "import * as vscode from 'vscode';",
      'import type { Uri } from "vscode";',
      "const v = require('vscode');",
      "const v = await import('vscode');",
      "import 'vscode';",
      "export { window } from 'vscode';",
    ];
    for (const form of forms) assert.match(form, VSCODE_IMPORT, form);
    for (const fine of ["import x from 'vscode-uri';", "const s = 'no vscode here';", "import { a } from './vscodeLike';"]) {
      assert.doesNotMatch(fine, VSCODE_IMPORT, fine);
    }
  });

  it('has no file under src/core that imports vscode', () => {
    const files = typescriptFiles(coreDir);
    assert.ok(files.length > 5, `found ${files.length} core files`);
    const offenders = files.filter((f) => VSCODE_IMPORT.test(readFileSync(f, 'utf8'))).map((f) => relative(coreDir, f));
    assert.deepEqual(offenders, []);
  });

  it('has no file under src/sandbox that imports vscode (the CLI demo runs it too)', () => {
    const sandboxDir = join(coreDir, '..', 'sandbox');
    const files = typescriptFiles(sandboxDir);
    assert.ok(files.length > 5, `found ${files.length} sandbox files`);
    const offenders = files.filter((f) => VSCODE_IMPORT.test(readFileSync(f, 'utf8'))).map((f) => relative(sandboxDir, f));
    assert.deepEqual(offenders, []);
  });
});
