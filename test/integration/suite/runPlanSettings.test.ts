import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { readPrompt } from '../../../src/extension/promptReader';
import { readRunPlan } from '../../../src/extension/runPlanSettings';

// The plan the panel shows, resolved with real VS Code settings and the engine's resolveSettings.
function workspaceFile(relative: string): vscode.Uri {
  return vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, relative);
}

async function planFor(relative: string) {
  const uri = workspaceFile(relative);
  const { prompt } = await readPrompt(uri);
  return readRunPlan(uri, prompt);
}

const SETTINGS = ['model', 'aspectRatio', 'seed', 'numVariations', 'scoring.vqascore'];

describe('run plan from settings and front matter', () => {
  afterEach(async () => {
    const config = vscode.workspace.getConfiguration('contactSheet');
    for (const key of SETTINGS) await config.update(key, undefined, vscode.ConfigurationTarget.Workspace);
  });

  it('uses the engine defaults when nothing is set', async () => {
    const plan = await planFor('prompts/lighthouse.txt');
    assert.deepEqual(
      { ...plan },
      {
        model: 'black-forest-labs/flux-schnell',
        fallbackModels: ['stability-ai/sdxl'],
        numVariations: 8,
        aspectRatio: '16:9',
        seed: null,
        outputFolder: 'prompts/lighthouse.images/<timestamp>',
        precision: 'fp32',
        vqascore: true,
      },
    );
  });

  it('applies workspace settings, with the prompt front matter taking precedence', async () => {
    const config = vscode.workspace.getConfiguration('contactSheet');
    await config.update('model', 'acme/painter', vscode.ConfigurationTarget.Workspace);
    await config.update('aspectRatio', '4:3', vscode.ConfigurationTarget.Workspace);
    await config.update('seed', 7, vscode.ConfigurationTarget.Workspace);
    await config.update('numVariations', 3, vscode.ConfigurationTarget.Workspace);
    await config.update('scoring.vqascore', false, vscode.ConfigurationTarget.Workspace);

    const lighthouse = await planFor('prompts/lighthouse.txt');
    assert.equal(lighthouse.model, 'acme/painter');
    // The engine's rule: the default fallback only backs up the default model.
    assert.deepEqual(lighthouse.fallbackModels, []);
    assert.equal(lighthouse.aspectRatio, '4:3');
    assert.equal(lighthouse.seed, 7);
    assert.equal(lighthouse.numVariations, 3);
    assert.equal(lighthouse.vqascore, false);

    const fox = await planFor('prompts/fox.md'); // front matter: aspect_ratio 1:1, seed 42
    assert.equal(fox.aspectRatio, '1:1');
    assert.equal(fox.seed, 42);
    assert.equal(fox.model, 'acme/painter');
  });
});
