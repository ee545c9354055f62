/**
 * Runs first (files run in name order): activates Contact Sheet the way VS Code does on its first
 * command — load dist/extension.js in this extension host and call activate() — and records how
 * long that took in activation.json beside this bundle, where `npm run bench` reads it. The test
 * itself checks what activation must do, not how fast (timing is the benchmark's business).
 */
import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'contact-sheet.contact-sheet';

describe('activation (measured for the benchmark)', () => {
  it('activates lazily: not active before its first use, commands registered after', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is installed`);
    const activeBefore = extension.isActive;
    const started = performance.now();
    await extension.activate();
    const activateMs = performance.now() - started;
    writeFileSync(join(__dirname, 'activation.json'), JSON.stringify({ activate_ms: activateMs, active_before: activeBefore, vscode: vscode.version }, null, 2));
    assert.equal(activeBefore, false, 'nothing activated it before its first use');
    assert.equal(extension.isActive, true);
    assert.ok((await vscode.commands.getCommands(true)).includes('contactSheet.generate'));
  });
});
