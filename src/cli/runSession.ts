/**
 * What generate and resume share: the engine made from the command's options, the token check
 * with the CLI's own advice, and showing a run (progress, report, exit code).
 */
import { createEngine, type Engine, type EngineRunHooks, type RunResult } from '../core/engine';
import { ContactSheetError } from '../shared/errors';
import { registerSecret, streamLogger, type Logger } from '../core/log';
import type { GenerationTrace } from '../core/run/trace';
import type { CliIO } from './io';
import type { EnvironmentOptions } from './options';
import { ProgressReporter } from './progress';
import { makeStyle, renderRunReport, wantsColor } from './table';

export const TOKEN_ACTION = 'export REPLICATE_API_TOKEN=… (https://replicate.com/account/api-tokens)';

/** The Replicate token from the environment, registered for redaction. */
export function requireToken(env: NodeJS.ProcessEnv): string {
  const token = env.REPLICATE_API_TOKEN?.trim();
  if (!token) throw new ContactSheetError('token-missing', 'REPLICATE_API_TOKEN is not set.', { action: TOKEN_ACTION });
  registerSecret(token);
  return token;
}

export function cliLogger(io: CliIO, verbose: boolean): Logger {
  // --verbose shows the engine's info lines; the API calls themselves come from ProgressReporter.
  return streamLogger((line) => io.stderr(line), verbose ? 'info' : 'warn');
}

/** The engine for one command: the environment's token (asked for only when a run needs it), where the API and models are. */
export function cliEngine(env: EnvironmentOptions, io: CliIO, logger: Logger, extra: { budgetUsd?: number } = {}): Engine {
  return createEngine({
    ...(extra.budgetUsd !== undefined ? { budgetUsd: extra.budgetUsd } : {}),
    token: () => requireToken(io.env),
    apiBaseUrl: env.apiBaseUrl,
    demo: io.env.CONTACT_SHEET_DEMO === '1',
    modelsDir: env.modelsDir,
    ...(env.hubEndpoint ? { hubEndpoint: env.hubEndpoint } : {}),
    ...(env.manifestPath ? { manifestPath: env.manifestPath } : {}),
    ...(io.startScoringWorker ? { startScoringWorker: io.startScoringWorker } : {}),
    logger,
  });
}

/** Runs `run` (the engine's start or resume) with live progress, then prints the report. */
export async function showRun(
  run: (hooks: EngineRunHooks) => Promise<RunResult | { trace: GenerationTrace; runDir: string; status: RunResult['status'] }>,
  env: EnvironmentOptions,
  io: CliIO,
): Promise<number> {
  const style = makeStyle(wantsColor(io.isTTY, io.env));
  const progress = new ProgressReporter(io, { tty: io.isTTY && !env.json, verbose: env.verbose, style });
  const result = await run({ signal: io.signal, onEvent: (e) => progress.handle(e), onNotice: (n) => io.stderr(n.kind === 'budget-unchecked' ? `warning: ${n.message}` : n.message) });
  progress.clearBar();
  if (env.json) io.stdout(JSON.stringify(result.trace, null, 2));
  else io.stdout(renderRunReport(result.trace, result.runDir, style));
  return exitCodeFor(result.status);
}

/** 0: every image, or a partial run with at least one ranked image (the report names what failed). */
export function exitCodeFor(status: RunResult['status']): number {
  return status === 'succeeded' || status === 'partial' ? 0 : 1;
}
