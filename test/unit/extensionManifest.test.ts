import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMAND_IDS } from '../../src/extension/commandIds';

interface Manifest {
  main: string;
  activationEvents: string[];
  capabilities: Record<string, { supported: boolean; description?: string }>;
  contributes: {
    commands: { command: string; title: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
    configuration: { properties: Record<string, { default?: unknown; enum?: string[]; minimum?: number; maximum?: number }> };
  };
}

const manifest: Manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));

describe('extension manifest (package.json)', () => {
  it('contributes exactly the commands the extension registers', () => {
    assert.deepEqual(manifest.contributes.commands.map((c) => c.command).sort(), [...COMMAND_IDS].sort());
    const titles = Object.fromEntries(manifest.contributes.commands.map((c) => [c.command, c.title]));
    assert.equal(titles['contactSheet.generate'], 'Generate Images from Prompt');
    assert.equal(titles['contactSheet.setApiToken'], 'Set Replicate API Token');
    assert.equal(titles['contactSheet.downloadModels'], 'Download Scoring Models');
  });

  it('activates lazily: on its commands and to restore its panel', () => {
    assert.deepEqual(manifest.activationEvents.sort(), [
      'onCommand:contactSheet.downloadModels',
      'onCommand:contactSheet.generate',
      'onCommand:contactSheet.setApiToken',
      'onWebviewPanel:contactSheet.results',
    ]);
  });

  it('offers Generate on .txt and .md files in the explorer and the editor title', () => {
    for (const menu of ['explorer/context', 'editor/title']) {
      const entry = manifest.contributes.menus[menu]?.find((m) => m.command === 'contactSheet.generate');
      assert.ok(entry?.when, `${menu} has a when clause`);
      assert.match(entry.when, /resourceExtname == \.txt/);
      assert.match(entry.when, /resourceExtname == \.md/);
    }
  });

  it('declares untrusted and virtual workspaces unsupported, with reasons', () => {
    for (const kind of ['untrustedWorkspaces', 'virtualWorkspaces']) {
      assert.equal(manifest.capabilities[kind]?.supported, false, kind);
      assert.ok((manifest.capabilities[kind]?.description ?? '').length > 20, `${kind} explains why`);
    }
  });

  it('has the documented setting defaults', () => {
    const p = manifest.contributes.configuration.properties;
    const defaults = Object.fromEntries(Object.entries(p).map(([k, v]) => [k.replace(/^contactSheet\./, ''), v.default]));
    assert.deepEqual(defaults, {
      model: 'black-forest-labs/flux-schnell',
      fallbackModels: ['stability-ai/sdxl'],
      numVariations: 8,
      aspectRatio: '16:9',
      seed: null,
      outputFolder: '',
      weights: { pickscore: 0.5, clipScore: 0.25, vqascore: 0.15, aesthetic: 0.1 },
      concurrency: 8,
      budgetLimitUsd: null,
      'scoring.precision': 'fp32',
      'scoring.lowMemory': false,
      'scoring.vqascore': true,
      'scoring.executionProviders': ['cpu'],
      'scoring.modelsDir': '',
      'scoring.hubEndpoint': '',
    });
    assert.deepEqual(p['contactSheet.aspectRatio'].enum, ['1:1', '4:3', '3:4', '16:9', '9:16']);
    assert.deepEqual([p['contactSheet.numVariations'].minimum, p['contactSheet.numVariations'].maximum], [1, 16]);
    assert.deepEqual(p['contactSheet.scoring.precision'].enum, ['fp32', 'int8']);
  });
});
