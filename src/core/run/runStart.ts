/**
 * The engine's front door for faces that do not need the CLI's ordering (the extension): prompt
 * file → settings → budget guard → run folder → executeRun; and the same for resume.
 */
import { createRunFolder } from './output';
import { readPromptFile } from '../prompt';
import { checkBudget, estimateRunCost, loadPricing, type Pricing, type RunCostEstimate } from '../replicate/pricing';
import type { ReplicateClient } from '../replicate/client';
import { openRunForResume } from './resume';
import { recoverUnrecordedPredictions } from './resumeRecovery';
import { executeRun, type RunDeps, type RunHooks, type RunResult } from './executeRun';
import { newTrace, resolveSettings, type RunRequestOptions } from './runPlan';
import type { CostEstimate, GenerationTrace } from './trace';

export interface StartRunInput {
  promptPath: string;
  request: RunRequestOptions;
  /** The run folder itself (default: next to the prompt, see output.ts). */
  outputDir?: string;
  /** A folder holding runs as `<runsDir>/<YYYYMMDD_HHMMSS>` instead of `<prompt stem>.images`. */
  runsDir?: string;
  demo?: boolean;
  pricing?: Pricing;
}

export function toCostEstimate(e: RunCostEstimate): CostEstimate {
  return { usd: e.usd, per_image: e.perImage, source: e.source, basis: e.basis };
}

/** Plans and runs; throws budget-exceeded (before anything is created) and prompt-* errors. */
export async function startRun(input: StartRunInput, deps: RunDeps, hooks: RunHooks = {}): Promise<RunResult> {
  const prompt = await readPromptFile(input.promptPath);
  const settings = resolveSettings(prompt, input.request);
  const estimate = estimateRunCost(settings.models, settings.num_variations, input.pricing ?? loadPricing());
  const budgetWarning = checkBudget(estimate, settings.budget_usd);
  const folder = await createRunFolder({ promptPath: prompt.path, outputDir: input.outputDir, runsDir: input.runsDir });
  const trace = newTrace({ prompt, settings, demo: input.demo ?? false, estimate: toCostEstimate(estimate) });
  if (budgetWarning) trace.warnings.push(budgetWarning);
  return executeRun(folder, trace, deps, hooks);
}

/**
 * Finishes an interrupted run; a run that already succeeded is returned as it is. With a client,
 * predictions the run created but had no time to record are found and adopted first.
 */
export async function resumeRun(
  runDir: string,
  deps: RunDeps,
  hooks: RunHooks = {},
  client?: ReplicateClient,
): Promise<RunResult | { status: 'succeeded'; trace: GenerationTrace; runDir: string; alreadyFinished: true }> {
  const run = await openRunForResume(runDir);
  if (run.finished) return { status: 'succeeded', trace: run.trace, runDir: run.folder.root, alreadyFinished: true };
  if (client) {
    for (const r of await recoverUnrecordedPredictions(client, run.trace, hooks.signal)) {
      run.trace.warnings.push(`Image ${r.index + 1}: adopted prediction ${r.prediction_id}, created before the interruption but not yet recorded.`);
    }
  }
  return executeRun(run.folder, run.trace, deps, hooks);
}
