import { homedir } from 'node:os';
import { isAbsolute, join, posix } from 'node:path';
import * as vscode from 'vscode';
import type { Prompt } from '../../core/prompt';
import type { RunRequestOptions } from '../../core/engine';
import { ASPECT_RATIOS, type AspectRatio } from '../../shared/aspectRatios';
import { ContactSheetError } from '../../shared/errors';
import { DEFAULT_WEIGHTS, type ScoreWeights } from '../../shared/scores';

/** `contactSheet.weights` as the user writes it (camelCase keys), mapped to the engine's metric ids. */
const WEIGHT_KEYS: Record<string, keyof ScoreWeights> = { pickscore: 'pickscore', clipScore: 'clip_score', vqascore: 'vqascore', aesthetic: 'aesthetic' };

/**
 * The engine's run options from the `contactSheet.*` settings of the prompt's folder.
 * Model, count, aspect ratio and seed count only where the user set them (the prompt's front
 * matter wins over them, the engine's defaults apply otherwise); the rest always apply.
 */
export function runRequestFromSettings(config: vscode.WorkspaceConfiguration, prompt: Prompt): RunRequestOptions {
  const aspectRatio = explicit<string>(config, 'aspectRatio');
  const seed = explicit<number | null>(config, 'seed');
  const numVariations = explicit<number>(config, 'numVariations');
  const budget = config.get<number | null>('budgetLimitUsd', null);
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
    weights: weightsFromSetting(config.get<Record<string, unknown>>('weights')),
    concurrency: boundedInteger(config.get<number>('concurrency'), 1, 16, 'concurrency'),
    ...(typeof budget === 'number' ? { budgetUsd: checkedBudget(budget) } : {}),
  };
}

/** Where this prompt's runs go: `<outputFolder>/<timestamp>` when the setting is set, else the engine's `<prompt>.images/<timestamp>`. */
export function runsDirFor(config: vscode.WorkspaceConfiguration, promptUri: vscode.Uri): string | undefined {
  const setting = config.get<string>('outputFolder', '').trim();
  if (!setting) return undefined;
  const expanded = setting === '~' || setting.startsWith('~/') ? join(homedir(), setting.slice(1)) : setting;
  return isAbsolute(expanded) ? expanded : join(vscode.Uri.joinPath(promptUri, '..').fsPath, expanded);
}

/** The folder that holds this prompt's runs (the setting's, or `<prompt stem>.images` beside it). */
export function runsParentFor(config: vscode.WorkspaceConfiguration, promptUri: vscode.Uri): vscode.Uri {
  const configured = runsDirFor(config, promptUri);
  return configured ? vscode.Uri.file(configured) : ownRunsParent(promptUri);
}

/** `<prompt stem>.images` beside the prompt: its runs when no outputFolder is set (and the CLI's default). */
export function ownRunsParent(promptUri: vscode.Uri): vscode.Uri {
  const stem = posix.basename(promptUri.path, posix.extname(promptUri.path));
  return vscode.Uri.joinPath(promptUri, '..', `${stem}.images`);
}

/** Whether the Generate command asks for model, count, aspect ratio and seed before it runs. */
export function askForOptions(config: vscode.WorkspaceConfiguration): boolean {
  return config.get<boolean>('askForOptions', true);
}

/** A setting's value only where the user set it; the manifest default counts as unset. */
function explicit<T>(config: vscode.WorkspaceConfiguration, key: string): T | undefined {
  const inspected = config.inspect<T>(key);
  return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
}

function weightsFromSetting(value: Record<string, unknown> | undefined): ScoreWeights {
  const weights: ScoreWeights = { ...DEFAULT_WEIGHTS };
  for (const [key, raw] of Object.entries(value ?? {})) {
    const metric = WEIGHT_KEYS[key];
    if (!metric) throw badSetting('weights', `"${key}" is not a metric (use ${Object.keys(WEIGHT_KEYS).join(', ')})`);
    if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0) throw badSetting('weights', `${key} must be a number ≥ 0`);
    weights[metric] = raw;
  }
  if (Object.values(weights).every((w) => w === 0)) throw badSetting('weights', 'at least one weight must be above 0');
  return weights;
}

function boundedInteger(value: number | undefined, min: number, max: number, key: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) throw badSetting(key, `${value} is not a whole number from ${min} to ${max}`);
  return value;
}

function checkedBudget(value: number): number {
  if (!Number.isFinite(value) || value < 0) throw badSetting('budgetLimitUsd', `${value} is not an amount of US dollars`);
  return value;
}

function badSetting(key: string, why: string): ContactSheetError {
  return new ContactSheetError('bad-usage', `The contactSheet.${key} setting is not usable: ${why}.`, { action: `Fix contactSheet.${key} in the settings, or reset it.` });
}
