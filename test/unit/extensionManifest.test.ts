import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
    walkthroughs?: { id: string; steps: { id: string; media: Record<string, string> }[] }[];
  };
}

const ROOT = join(__dirname, '..', '..');
const manifest: Manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

describe('extension manifest (package.json)', () => {
  it('contributes exactly the commands the extension registers', () => {
    assert.deepEqual(manifest.contributes.commands.map((c) => c.command).sort(), [...COMMAND_IDS].sort());
    const titles = Object.fromEntries(manifest.contributes.commands.map((c) => [c.command, c.title]));
    assert.equal(titles['contactSheet.generate'], 'Generate Images from Prompt');
    assert.equal(titles['contactSheet.setApiToken'], 'Set Replicate API Token');
    assert.equal(titles['contactSheet.downloadModels'], 'Download Scoring Models');
    assert.equal(titles['contactSheet.openRun'], 'Open Run');
  });

  it('activates lazily: on its commands and to restore its panel', () => {
    assert.deepEqual(manifest.activationEvents.sort(), [
      'onCommand:contactSheet.downloadModels',
      'onCommand:contactSheet.generate',
      'onCommand:contactSheet.openRun',
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
      askForOptions: true,
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
      apiBaseUrl: '',
    });
    assert.deepEqual(p['contactSheet.aspectRatio'].enum, ['1:1', '4:3', '3:4', '16:9', '9:16']);
    assert.deepEqual([p['contactSheet.numVariations'].minimum, p['contactSheet.numVariations'].maximum], [1, 16]);
    assert.deepEqual(p['contactSheet.scoring.precision'].enum, ['fp32', 'int8']);
  });

  it('reads every setting it contributes somewhere in the extension (none is decoration)', () => {
    const sources = readdirSync(join(ROOT, 'src', 'extension'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(join(ROOT, 'src', 'extension', f), 'utf8'))
      .join('\n');
    for (const key of Object.keys(manifest.contributes.configuration.properties)) {
      const short = key.replace(/^contactSheet\./, '');
      assert.ok(sources.includes(`'${short}'`), `${key} is read by src/extension`);
    }
  });

  it('offers Open Run on run folders and trace files, and a walkthrough whose media ship', () => {
    const openRun = manifest.contributes.menus['explorer/context']?.find((m) => m.command === 'contactSheet.openRun');
    assert.match(openRun?.when ?? '', /generation_trace\.json/);
    const walkthroughs = manifest.contributes.walkthroughs ?? [];
    assert.equal(walkthroughs.length, 1);
    const steps = walkthroughs[0].steps;
    assert.deepEqual(steps.map((s) => s.id), ['setToken', 'pickPrompt', 'generate', 'tryDemo']);
    for (const step of steps) {
      for (const media of Object.values(step.media).filter((v) => v.startsWith('media/'))) {
        assert.ok(existsSync(join(ROOT, media)), `${step.id}: ${media} exists`);
      }
    }
  });
});
