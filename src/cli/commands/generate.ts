/**
 * `contact-sheet generate PROMPT_FILE [options]` (see GENERATE_USAGE in ../options.ts).
 * Precedence: flags > the prompt's front matter > defaults. `--dry-run` prints the plan (models,
 * count, seeds, folder, cost estimate, scoring models to download) without a token, without
 * spending and without loading a model. The environment variable CONTACT_SHEET_DEMO=1 (set by
 * `npm run demo` only) marks the run as a demo in the console, the trace and summary.md.
 */
import type { RunPlan, ScoringDownloadPlan } from '../../core/engine';
import { formatUsd } from '../../core/run/summary';
import type { CostEstimate, TraceSettings } from '../../core/run/trace';
import type { CliIO, Subcommand } from '../io';
import { GENERATE_USAGE, parseGenerateOptions, type GenerateOptions } from '../options';
import { cliEngine, cliLogger, showRun } from '../runSession';

export const generate: Subcommand = async (argv, io) => {
  const opts = parseGenerateOptions(argv, io.env, io.cwd);
  if (!opts) {
    io.stdout(GENERATE_USAGE);
    return 0;
  }
  const engine = cliEngine(opts, io, cliLogger(io, opts.verbose));
  const plan = await engine.plan({ prompt: opts.promptFile, options: opts.request, outputDir: opts.outputDir });
  if (opts.dryRun) return printPlan(plan, await engine.describeScoringModels(plan.settings), opts, io);
  // The engine checks, before anything is spent or created: the token is set, the budget, the token is valid.
  return showRun((hooks) => engine.start(plan, hooks), opts, io);
};

interface DryRunPlan {
  schema_version: 1;
  kind: 'contact-sheet.dry-run-plan';
  prompt_file: string;
  prompt: string;
  original: string | null;
  negative: string | null;
  settings: TraceSettings;
  output_dir: string;
  estimate: CostEstimate;
  budget_ok: boolean | null;
  scoring: ScoringDownloadPlan;
}

async function printPlan(runPlan: RunPlan, scoring: ScoringDownloadPlan, opts: GenerateOptions, io: CliIO): Promise<number> {
  const { prompt, settings, estimate, outputDir } = runPlan;
  const budgetOk = runPlan.budget.withinBudget;
  const plan: DryRunPlan = {
    schema_version: 1,
    kind: 'contact-sheet.dry-run-plan',
    prompt_file: prompt.path,
    prompt: prompt.text,
    original: prompt.original,
    negative: prompt.negative,
    settings,
    output_dir: outputDir,
    estimate,
    budget_ok: budgetOk,
    scoring,
  };
  if (opts.json) {
    io.stdout(JSON.stringify(plan, null, 2));
    return 0;
  }
  const seedNote = settings.seed_source === 'random' ? `random base ${settings.base_seed}; a real run draws a new one and records it` : `from ${settings.seed_source === 'cli' ? '--seed' : 'the front matter'}`;
  const lines = [
    'Plan (dry run: nothing is spent, no model is loaded)',
    `  Prompt:        ${oneLine(prompt.text, 100)}`,
    ...(prompt.negative ? [`  Negative:      ${oneLine(prompt.negative, 100)}`] : []),
    `  Model:         ${settings.primary_model}${settings.fallback_models.length ? ` (fallback: ${settings.fallback_models.join(', ')})` : ' (no fallback)'}`,
    `  Images:        ${settings.num_variations}, aspect ratio ${settings.aspect_ratio}, ${settings.concurrency} at a time`,
    `  Seeds:         ${settings.seeds.join(', ')} (${seedNote})`,
    `  Output folder: ${outputDir}${opts.outputDir ? '' : ' (time of the real run; _2… if it exists)'}`,
    `  Cost estimate: ${estimate.usd === null ? 'unknown' : formatUsd(estimate.usd)} (${estimate.source}: ${estimate.basis})`,
    ...(settings.budget_usd !== null ? [`  Budget:        ${formatUsd(settings.budget_usd)}: ${budgetOk === null ? 'cannot be checked (unknown cost)' : budgetOk ? 'within budget' : 'OVER BUDGET: a real run would refuse to start'}`] : []),
    `  Scoring:       ${settings.precision}, models in ${opts.modelsDir}`,
    ...scoring.models.map((m) => `    ${m.metrics.join(' + ').padEnd(22)} ${m.name} (${m.id}): ${m.state === 'ready' ? 'cached' : `${m.state === 'partial' ? 'partly downloaded, ' : ''}download ${formatBytes(m.download_bytes)}`}`),
    ...(scoring.error ? [`    (model status unavailable: ${scoring.error})`] : []),
    `  To download:   ${formatBytes(scoring.total_download_bytes)}${scoring.total_download_bytes ? ' on first use (then converted to ONNX once)' : ''}`,
  ];
  io.stdout(lines.join('\n'));
  return 0;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function formatBytes(n: number | null): string {
  if (n === null) return 'unknown size';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${Math.round(n / 1e3)} KB`;
}
