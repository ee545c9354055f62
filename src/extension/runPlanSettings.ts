import * as vscode from 'vscode';
import type { PromptFile } from '../core/prompt';
import type { AspectRatio } from '../shared/aspectRatios';
import type { PlanAspectRatio, RunPlanView } from '../shared/protocol';
import { runRequestFromSettings, runsParentFor } from './settings/runSettings';

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
    outputFolder: `${vscode.workspace.asRelativePath(runsParentFor(config, promptUri))}/<timestamp>`,
    precision: settings.precision,
    vqascore: settings.enabled_metrics.vqascore,
  };
}
