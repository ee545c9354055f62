import * as vscode from 'vscode';
import type { PromptOverrides } from '../core/prompt';
import { ASPECT_RATIOS, type AspectRatio } from '../core/replicate/types';
import type { PlanAspectRatio, RunPlanView } from '../shared/protocol';

// Compile-time check that the protocol's copy of the aspect ratios matches the engine's.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const aspectRatiosMatch: Same<AspectRatio, PlanAspectRatio> = true;
void aspectRatiosMatch;

/**
 * The plan for a prompt: the `contactSheet.*` settings scoped to the prompt's folder, with the
 * prompt file's own front matter (model, aspect_ratio, seed, num_variations) taking precedence.
 */
export function readRunPlan(promptUri: vscode.Uri, overrides: PromptOverrides = {}): RunPlanView {
  const config = vscode.workspace.getConfiguration('contactSheet', promptUri);
  const aspectRatio = config.get<string>('aspectRatio', '16:9');
  const seed = config.get<number | null>('seed', null);
  return {
    model: overrides.model ?? config.get<string>('model', 'black-forest-labs/flux-schnell'),
    fallbackModels: config.get<string[]>('fallbackModels', []),
    numVariations: overrides.numVariations ?? clampInteger(config.get<number>('numVariations', 8), 1, 16),
    aspectRatio:
      overrides.aspectRatio ??
      ((ASPECT_RATIOS as readonly string[]).includes(aspectRatio) ? (aspectRatio as AspectRatio) : '16:9'),
    seed: overrides.seed ?? (typeof seed === 'number' && Number.isFinite(seed) ? seed : null),
    outputFolder: describeOutputFolder(promptUri, config.get<string>('outputFolder', '')),
    precision: config.get<string>('scoring.precision') === 'int8' ? 'int8' : 'fp32',
    vqascore: config.get<boolean>('scoring.vqascore', true),
  };
}

/** Where the run folder goes, as the user should read it (the engine decides the real path). */
function describeOutputFolder(promptUri: vscode.Uri, setting: string): string {
  if (setting.trim()) return setting.trim();
  const stem = promptUri.path.split('/').pop()!.replace(/\.[^.]+$/, '');
  const folder = vscode.Uri.joinPath(promptUri, '..', `${stem}.images`);
  return `${vscode.workspace.asRelativePath(folder)}/<timestamp>`;
}

function clampInteger(value: number, min: number, max: number): number {
  return Number.isFinite(value) ? Math.min(max, Math.max(min, Math.round(value))) : min;
}
