/**
 * What generate and resume share once a run folder and trace exist: wire the real Replicate
 * generator and the real scorer to the engine, show progress, print the report, pick the exit code.
 */
import { ContactSheetError } from '../core/errors';
import { registerSecret, streamLogger, type Logger } from '../core/log';
import type { RunFolder } from '../core/run/output';
import { ReplicateClient } from '../core/replicate/client';
import { generateImages } from '../core/replicate/generator';
import { loadPricing, type Pricing } from '../core/replicate/pricing';
import { executeRun, type RunResult } from '../core/run/executeRun';
import { createScorer } from '../core/scoring/scorer';
import type { ScorerConfig } from '../core/scoring/types';
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

export function makeClient(token: string, env: EnvironmentOptions, logger: Logger): ReplicateClient {
  return new ReplicateClient({ token, baseUrl: env.apiBaseUrl, logger });
}

/** Fails fast on a bad token, before a run folder exists (GET /v1/account; costs nothing). */
export async function checkToken(client: ReplicateClient, signal: AbortSignal): Promise<void> {
  await client.account({ signal });
}

export function scorerConfig(trace: GenerationTrace, env: EnvironmentOptions): ScorerConfig {
  return {
    modelsDir: env.modelsDir,
    precision: trace.settings.precision,
    enabled: trace.settings.enabled_metrics,
    lowMemory: false,
    executionProviders: ['cpu'],
    intraOpNumThreads: 0,
    allowDownload: true,
    ...(env.hubEndpoint ? { hubEndpoint: env.hubEndpoint } : {}),
    ...(env.manifestPath ? { manifestPath: env.manifestPath } : {}),
  };
}

export async function runAndReport(
  folder: RunFolder,
  trace: GenerationTrace,
  client: ReplicateClient,
  env: EnvironmentOptions,
  io: CliIO,
  logger: Logger,
  pricing: Pricing = loadPricing(),
): Promise<number> {
  const style = makeStyle(wantsColor(io.isTTY, io.env));
  const progress = new ProgressReporter(io, { tty: io.isTTY && !env.json, verbose: env.verbose, style });
  const config = scorerConfig(trace, env);
  const result: RunResult = await executeRun(
    folder,
    trace,
    {
      generate: (req, onEvent) => generateImages(client, req, onEvent, pricing),
      createScorer: (onProgress) => createScorer(config, { logger, onProgress }),
      logger,
    },
    { signal: io.signal, onEvent: (e) => progress.handle(e) },
  );
  progress.clearBar();
  if (env.json) io.stdout(JSON.stringify(result.trace, null, 2));
  else io.stdout(renderRunReport(result.trace, result.runDir, style));
  return exitCodeFor(result.status);
}

/** 0: every image, or a partial run with at least one ranked image (the report names what failed). */
export function exitCodeFor(status: RunResult['status']): number {
  return status === 'succeeded' || status === 'partial' ? 0 : 1;
}
