import { posix } from 'node:path';
import * as vscode from 'vscode';
import type { Prompt, PromptFile } from '../core/prompt';
import type { RunRequestOptions } from '../core/engine';
import { ASPECT_RATIOS, type AspectRatio } from '../core/replicate/types';
import type { PlanAspectRatio, RunPlanView } from '../shared/protocol';

// Compile-time check that the protocol's copy of the aspect ratios matches the engine's.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const aspectRatiosMatch: Same<AspectRatio, PlanAspectRatio> = true;
void aspectRatiosMatch;

/**
 * The plan for a prompt, made by the engine's front door (its dry run) so the panel shows what a
 * run will do. Precedence: the prompt's front matter, then settings the user set explicitly
 * (folder, workspace or user scope), then the engine's defaults.
 */
export async function readRunPlan(promptUri: vscode.Uri, prompt: PromptFile): Promise<RunPlanView> {
  const config = vscode.workspace.getConfiguration('contactSheet', promptUri);
  // Loaded on first use, not at activation: the engine brings sharp and the Replicate client.
  const { createEngine } = await import('../core/engine');
  const { settings } = await createEngine().plan({ prompt, options: runRequestFromSettings(config, prompt) });
  // The plan shows "random" for an unseeded run; the engine draws the real seed when it starts.
  return {
    model: settings.primary_model,
    fallbackModels: settings.fallback_models,
    numVariations: settings.num_variations,
    aspectRatio: settings.aspect_ratio,
    seed: settings.seed_source === 'random' ? null : settings.base_seed,
    outputFolder: describeOutputFolder(promptUri, config.get<string>('outputFolder', '')),
    precision: settings.precision,
    vqascore: settings.enabled_metrics.vqascore,
  };
}

/** The engine's run options from the settings the user actually set, front matter first. */
export function runRequestFromSettings(config: vscode.WorkspaceConfiguration, prompt: Prompt): RunRequestOptions {
  const aspectRatio = explicit<string>(config, 'aspectRatio');
  const seed = explicit<number | null>(config, 'seed');
  const numVariations = explicit<number>(config, 'numVariations');
  return {
    model: prompt.overrides.model ?? explicit<string>(config, 'model'),
    fallbackModels: explicit<string[]>(config, 'fallbackModels'),
    numVariations: prompt.overrides.numVariations ?? (Number.isInteger(numVariations) ? numVariations : undefined),
    aspectRatio:
      prompt.overrides.aspectRatio ??
      ((ASPECT_RATIOS as readonly (string | undefined)[]).includes(aspectRatio) ? (aspectRatio as AspectRatio) : undefined),
    seed: prompt.overrides.seed ?? (typeof seed === 'number' ? seed : undefined),
    precision: config.get<string>('scoring.precision') === 'int8' ? 'int8' : 'fp32',
    disabledMetrics: config.get<boolean>('scoring.vqascore', true) ? [] : ['vqascore'],
  };
}

/** A setting's value only where the user set it; the manifest default counts as unset. */
function explicit<T>(config: vscode.WorkspaceConfiguration, key: string): T | undefined {
  const inspected = config.inspect<T>(key);
  return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
}

/** Where the run folder goes, as the user should read it (the engine decides the real path). */
function describeOutputFolder(promptUri: vscode.Uri, setting: string): string {
  if (setting.trim()) return setting.trim();
  const stem = posix.basename(promptUri.path, posix.extname(promptUri.path));
  const folder = vscode.Uri.joinPath(promptUri, '..', `${stem}.images`);
  return `${vscode.workspace.asRelativePath(folder)}/<timestamp>`;
}
