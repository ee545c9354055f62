import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { GenerationTrace, TraceImage } from '../../core/run/trace';
import type { SerializedError } from '../../shared/errors';
import type { HistoryEntry, ImageStage, RunImageView, RunView } from '../../shared/protocol';
import { diffWords } from '../../shared/wordDiff';
import { comparisonView, costView, probability } from '../views/coreViews';
import type { RecordedRun } from './recordedRuns';

/** How the panel host turns files into what the webview may load. */
export interface RunUris {
  /** asWebviewUri of an absolute path. */
  webview(path: string): string;
  /** The image's WebP preview as a webview URI (made on first use), or null. */
  thumbnail(runDir: string, imageFile: string, index: number, seed: number): Promise<string | null>;
}

/** Where an image's bytes are now: its pending name while that exists, else its ranked name. */
export function imageFileOf(runDir: string, image: TraceImage): string | null {
  if (image.status !== 'generated' && image.status !== 'scored') return null;
  if (existsSync(join(runDir, image.pending_file))) return image.pending_file;
  return image.file && existsSync(join(runDir, image.file)) ? image.file : null;
}

/** A run read from its trace, complete for the grid (`live` when it is still running in this window). */
export async function runViewFromTrace(run: RecordedRun, uris: RunUris): Promise<RunView> {
  const { trace } = run;
  const finished = trace.status !== 'running' && trace.status !== 'finalizing';
  const images = await Promise.all(trace.images.map((image) => imageView(run, image, finished, uris)));
  return {
    runId: trace.run_id,
    prompt: trace.prompts.enhanced,
    status: trace.status,
    live: false,
    demo: trace.demo,
    model: trace.settings.primary_model,
    aspectRatio: trace.settings.aspect_ratio,
    baseSeed: trace.settings.base_seed,
    phase: finished ? 'done' : 'generate',
    phaseDetail: null,
    startedAt: Date.parse(trace.created_at),
    finishedAt: trace.finished_at ? Date.parse(trace.finished_at) : null,
    images,
    rankingFinal: finished && trace.ranking !== null,
    comparison: comparisonView(trace.ranking?.comparison),
    cost: { totalUsd: trace.costs.total_usd, unknownCount: trace.costs.unknown_count, estimateUsd: trace.costs.estimate?.usd ?? null },
    notices: trace.warnings.map((message) => ({ level: 'warning' as const, message, at: Date.parse(trace.updated_at) })),
    error: trace.error,
  };
}

async function imageView(run: RecordedRun, image: TraceImage, finished: boolean, uris: RunUris): Promise<RunImageView> {
  const file = imageFileOf(run.runDir, image);
  const { stage, error } = stageOf(run.trace, image, finished, file !== null);
  return {
    index: image.index,
    seed: image.seed,
    stage,
    model: image.model,
    thumbnailUri: file ? await uris.thumbnail(run.runDir, file, image.index, image.seed) : null,
    imageUri: file ? uris.webview(join(run.runDir, file)) : null,
    width: image.width,
    height: image.height,
    scores: image.scores,
    overall: image.overall,
    preferenceProbability: probability(image.preference_probability),
    rank: image.rank,
    cost: image.cost ? costView(image.cost) : null,
    error,
    savedAt: null,
  };
}

/** A finished run's unfinished images read as failed, with why, so the grid never spins for them. */
function stageOf(trace: GenerationTrace, image: TraceImage, finished: boolean, onDisk: boolean): { stage: ImageStage; error: SerializedError | null } {
  if (image.status === 'failed') return { stage: 'failed', error: image.error };
  if (image.status === 'scored' && onDisk) return { stage: 'scored', error: null };
  if (!finished) return { stage: image.status === 'generated' ? 'scoring' : image.status === 'created' ? 'processing' : 'queued', error: null };
  const ended = `the run ended (${trace.status}) before`;
  const resume = { action: 'Run `contact-sheet resume` on the run folder to finish it without paying again for what finished.' };
  if (image.status === 'generated' && onDisk) return { stage: 'failed', error: image.error ?? { code: 'scoring-failed', message: `Not scored: ${ended} it was scored.`, ...resume } };
  return { stage: 'failed', error: image.error ?? { code: 'canceled', message: `Not generated: ${ended} this image finished.`, ...resume } };
}

/** One history row: best image, cost, status and the prompt's words against today's. */
export async function historyEntryFromRun(run: RecordedRun, currentPrompt: string, uris: RunUris): Promise<HistoryEntry> {
  const { trace, runDir } = run;
  const bestIndex = trace.ranking?.order[0] ?? null;
  const best = bestIndex !== null ? trace.images[bestIndex] : undefined;
  const bestFile = best ? imageFileOf(runDir, best) : null;
  return {
    runId: trace.run_id,
    startedAt: Date.parse(trace.created_at),
    status: trace.status,
    demo: trace.demo,
    model: trace.settings.primary_model,
    imageCount: trace.images.filter((i) => imageFileOf(runDir, i) !== null).length,
    plannedCount: trace.images.length,
    bestThumbnailUri: best && bestFile ? await uris.thumbnail(runDir, bestFile, best.index, best.seed) : null,
    bestOverall: best?.overall ?? null,
    totalUsd: trace.costs.total_usd,
    unknownCostCount: trace.costs.unknown_count,
    promptDiff: diffWords(trace.prompts.enhanced, currentPrompt),
  };
}
