/**
 * One run: generate → save → score, streamed per image, then rank and write the ranked folder.
 *
 * Each image is converted to PNG, written under its provisional name and scored as soon as its
 * prediction succeeds, while the others are still generating; the scoring models start loading at
 * run start (Scorer.setPrompt) so they load while the first predictions run. The trace is saved
 * after every step (prediction ids the moment they exist), so a run killed at any moment can be
 * finished by `resume` without paying twice. The same function finishes a resumed run: images
 * already generated are taken from disk, predictions already created are adopted.
 */
import sharp from 'sharp';
import { ContactSheetError, isAbortError, toContactSheetError, type SerializedError } from './errors';
import type { CostSoFar, RunEvent } from './events';
import { silentLogger, type Logger } from './log';
import type { RunFolder } from './output';
import { overallScore } from './rank';
import type { GeneratedImage, GenerationEvent, GenerationRequest, ImageJob } from './replicate/types';
import { finalizeRun } from './runFinalize';
import { provisionalRanking } from './runRanking';
import type { Scorer } from './scoring/scorer';
import type { ImageScores, ScorerProgress } from './scoring/types';
import { costTotals, TraceWriter, type GenerationTrace, type TraceImage } from './trace';

export interface GenerationOutcome {
  images: GeneratedImage[];
  failures: { index: number; error: SerializedError }[];
}

/** The engine's ports: the faces wire the real Replicate generator and the real scorer. */
export interface RunDeps {
  /** Runs the predictions (src/core/replicate's generateImages with a client and pricing bound). */
  generate(req: GenerationRequest, onEvent: (e: GenerationEvent) => void): Promise<GenerationOutcome>;
  /** Makes the scorer for this run; the run disposes it. */
  createScorer(onProgress: (p: ScorerProgress) => void): Scorer;
  logger?: Logger;
}

export interface RunHooks {
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
}

export interface RunResult {
  trace: GenerationTrace;
  runDir: string;
  status: 'succeeded' | 'partial' | 'failed' | 'canceled';
  summaryMarkdown: string;
}

type ScorerState = { ok: true } | { ok: false; error: SerializedError };

/**
 * Runs (or finishes) the run recorded in `trace` inside `folder`. Never throws for per-image
 * problems; a fatal one (token, credit, cancel, disk full) ends generation, and what finished is
 * still ranked and written. Throws only when the folder itself cannot be written.
 */
export async function executeRun(folder: RunFolder, trace: GenerationTrace, deps: RunDeps, hooks: RunHooks = {}): Promise<RunResult> {
  const logger = deps.logger ?? silentLogger;
  // Aborted by the caller, or by the run itself when it can no longer keep what it pays for
  // (disk full): then no further prediction is created.
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort();
  if (hooks.signal?.aborted) stop.abort();
  hooks.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = stop.signal;
  const started = Date.now();
  const writer = new TraceWriter(folder, trace);
  const emit = (e: RunEvent) => {
    try {
      hooks.onEvent?.(e);
    } catch (err) {
      logger.warn(`A run event listener failed: ${(err as Error).message}`);
    }
  };
  const warn = (message: string) => {
    trace.warnings.push(message);
    // Faces show the event; the log keeps a copy without shouting it twice on a console.
    logger.info(message);
    emit({ type: 'warning', message });
  };
  const save = () => {
    writer.save().catch((e) => logger.error(`Could not write the trace: ${(e as Error).message}`));
  };
  const costSoFar = (): CostSoFar => ({ total_usd: trace.costs.total_usd, unknown_count: trace.costs.unknown_count });
  const resumed = trace.resumed_at.length > 0;

  trace.status = 'running';
  trace.finished_at = null;
  trace.error = null;
  await writer.save();
  emit({
    type: 'run-started',
    run_id: trace.run_id,
    run_dir: folder.root,
    num_images: trace.images.length,
    at: new Date(started).toISOString(),
    resumed,
    demo: trace.demo,
    prompt: trace.prompts.enhanced,
    models: trace.settings.models,
    aspect_ratio: trace.settings.aspect_ratio,
    seeds: trace.settings.seeds,
    estimate: trace.costs.estimate,
  });

  // Models load while the first predictions run.
  const scorer = deps.createScorer((progress) => {
    emit({ type: 'scorer-progress', progress });
    // The progress event itself tells the faces; the trace keeps it among the warnings.
    if (progress.type === 'unavailable') trace.warnings.push(`${progress.metrics.join(', ')} unavailable: ${progress.reason}`);
  });
  const scorerReady: Promise<ScorerState> = scorer.setPrompt(trace.prompts.enhanced, signal).then(
    async (info) => {
      trace.prompts.scored_text = info.scoredText;
      trace.prompts.scored_text_truncated = info.truncated;
      trace.prompts.clip_token_count = info.tokenCount;
      trace.timings.model_load_ms = Date.now() - started;
      trace.scoring_models = (await scorer.describe()).models;
      if (info.truncated) warn(`The prompt is ${info.tokenCount} CLIP tokens; the CLIP-based metrics scored only its start: "${info.scoredText}"`);
      save();
      return { ok: true } as const;
    },
    (e) => {
      const err = toContactSheetError(e, 'scoring-failed');
      if (err.code !== 'canceled') warn(`Scoring is unavailable: ${err.message}`);
      return { ok: false, error: err.toJSON() } as const;
    },
  );
  scorerReady.catch(() => undefined);

  const tasks: Promise<void>[] = [];
  let scoreChain: Promise<void> = Promise.resolve();
  let scoringBusyMs = 0;
  let firstImageAt: number | null = null;

  const failImage = (img: TraceImage, stage: 'generate' | 'save' | 'score', error: SerializedError) => {
    img.error = error;
    if (stage !== 'score') img.status = 'failed';
    emit({ type: 'image-failed', index: img.index, seed: img.seed, stage, error });
    save();
  };

  const scoreImage = (img: TraceImage, png: Buffer) => {
    const task = scoreChain.then(async () => {
      const state = await scorerReady;
      if (!state.ok) {
        img.error = state.error;
        return;
      }
      if (signal?.aborted) return;
      const t0 = Date.now();
      let scores: ImageScores;
      try {
        // Not canceled mid-image: one image takes at most about a second, and stopping the
        // worker's ONNX run halfway is not safe; no further image is started after a cancel.
        scores = await scorer.scoreImage(png);
      } catch (e) {
        const err = toContactSheetError(e, 'scoring-failed');
        if (err.code === 'canceled') return;
        warn(`Image ${img.index + 1} (seed ${img.seed}) could not be scored: ${err.message}`);
        failImage(img, 'score', err.toJSON());
        return;
      } finally {
        scoringBusyMs += Date.now() - t0;
      }
      const overall = overallScore(scores, trace.settings.weights);
      if (overall.value === null && !Object.values(scores).every((m) => m.value === null && m.reason === 'disabled')) {
        // No metric could be computed (models unavailable): not scored, so resume scores it later.
        const reasons = [...new Set(Object.values(scores).map((m) => (m.value === null ? m.reason : '')))].filter(Boolean).join('; ');
        Object.assign(img, { scores, scoring_ms: Date.now() - t0 });
        failImage(img, 'score', new ContactSheetError('scoring-failed', `No metric could be computed: ${reasons}`, { action: 'Fix the cause, then run `contact-sheet resume` on the run folder to score the images already generated.' }).toJSON());
        return;
      }
      Object.assign(img, { scores, overall: overall.value, overall_weights: overall.weights, status: 'scored', error: null, scoring_ms: Date.now() - t0 });
      save();
      emit({ type: 'image-scored', index: img.index, seed: img.seed, file: img.pending_file, scores, overall: overall.value, overall_weights: overall.weights, scoring_ms: img.scoring_ms ?? undefined });
      const ranking = provisionalRanking(trace);
      emit({ type: 'ranked', order: ranking.map((r) => r.index), final: false, entries: ranking });
    });
    scoreChain = task.catch(() => undefined);
    tasks.push(task);
  };

  const saveGenerated = async (generated: GeneratedImage) => {
    const img = trace.images[generated.index];
    if (!img) return;
    Object.assign(img, {
      model: generated.model,
      version: generated.version,
      prediction_id: generated.prediction_id,
      created_at: generated.created_at,
      started_at: generated.started_at,
      completed_at: generated.completed_at,
      predict_time_s: generated.predict_time_s,
      cost: generated.cost,
      input: generated.input,
      fallbacks: generated.fallbacks,
    });
    trace.costs = costTotals(trace.images, trace.costs.estimate);
    let png: Buffer;
    try {
      const out = await sharp(generated.bytes).png().toBuffer({ resolveWithObject: true });
      png = out.data;
      img.width = out.info.width;
      img.height = out.info.height;
    } catch (e) {
      failImage(img, 'save', new ContactSheetError('output-invalid', `Image ${generated.index + 1} (prediction ${generated.prediction_id}) could not be decoded: ${(e as Error).message}`).toJSON());
      return;
    }
    await folder.writeFile(img.pending_file, png);
    img.status = 'generated';
    img.error = null;
    firstImageAt ??= Date.now();
    await writer.save();
    emit({
      type: 'image-saved',
      index: img.index,
      seed: img.seed,
      file: img.pending_file,
      path: await folder.pathOf(img.pending_file),
      width: img.width ?? 0,
      height: img.height ?? 0,
      model: generated.model,
      prediction_id: generated.prediction_id,
      cost: generated.cost,
      cost_so_far: costSoFar(),
    });
    emit({ type: 'cost', cost_so_far: costSoFar() });
    scoreImage(img, png);
  };

  // Images already on disk (resume): rescore those without scores, keep the rest.
  for (const img of trace.images) {
    if (img.status !== 'generated' && img.status !== 'scored') continue;
    const where = (await folder.exists(img.pending_file)) ? img.pending_file : img.file && (await folder.exists(img.file)) ? img.file : null;
    if (!where) {
      warn(`Image ${img.index + 1} (seed ${img.seed}) was recorded as done but its file is missing; it will be fetched again.`);
      img.status = img.prediction_id ? 'created' : 'pending';
      img.scores = null;
      img.overall = null;
      continue;
    }
    // Live views of a resumed run show what is already there.
    emit({
      type: 'image-saved',
      index: img.index,
      seed: img.seed,
      file: where,
      path: await folder.pathOf(where),
      width: img.width ?? 0,
      height: img.height ?? 0,
      model: img.model ?? '',
      prediction_id: img.prediction_id ?? '',
      cost: img.cost ?? { usd: null, source: 'unknown', pricing_date: '' },
      cost_so_far: costSoFar(),
      reused: true,
    });
    if (img.status === 'generated') scoreImage(img, await folder.readFile(where));
    else if (img.scores) emit({ type: 'image-scored', index: img.index, seed: img.seed, file: where, scores: img.scores, overall: img.overall, overall_weights: img.overall_weights ?? {} });
  }

  const jobs: ImageJob[] = trace.images
    .filter((img) => img.status === 'pending' || img.status === 'created')
    .map((img) => ({
      index: img.index,
      seed: img.seed,
      ...(img.prediction_id ? { existingPredictionId: img.prediction_id } : {}),
      ...(img.prediction_id && img.model ? { existingModel: img.model } : {}),
    }));

  let fatal: ContactSheetError | null = null;
  const generationStarted = Date.now();
  if (jobs.length > 0) {
    try {
      const outcome = await deps.generate(
        {
          models: trace.settings.models,
          prompt: trace.prompts.enhanced,
          ...(trace.prompts.negative ? { negativePrompt: trace.prompts.negative } : {}),
          aspectRatio: trace.settings.aspect_ratio,
          jobs,
          concurrency: trace.settings.concurrency,
          signal,
        },
        (e) => {
          switch (e.type) {
            case 'api-call':
              trace.api_calls.push(e.call);
              emit({ type: 'api-call', call: e.call });
              save();
              return;
            case 'prediction-created': {
              const img = trace.images[e.index];
              if (img) Object.assign(img, { status: 'created', prediction_id: e.prediction_id, model: e.model, version: e.version, error: null });
              // Recorded before anything else happens: resume adopts it instead of paying again.
              save();
              break;
            }
            case 'fallback':
              warn(`Image ${e.index + 1}: ${e.from} failed (${e.error.message}); trying ${e.to}.`);
              break;
            case 'image-generated': {
              const task = saveGenerated(e.image).catch((err) => {
                const cse = toContactSheetError(err, 'write-failed');
                failImage(trace.images[e.image.index], 'save', cse.toJSON());
                if (!fatal) {
                  fatal = cse;
                  stop.abort();
                }
              });
              tasks.push(task);
              emit({ type: 'generation', event: { ...e, image: { ...e.image, bytes: Buffer.alloc(0) } } });
              return;
            }
            case 'image-failed': {
              const img = trace.images[e.index];
              if (img) {
                if (e.prediction_id) img.prediction_id = e.prediction_id;
                img.model = e.model;
                failImage(img, 'generate', e.error);
              }
              break;
            }
          }
          emit({ type: 'generation', event: e });
        },
      );
      for (const f of outcome.failures) {
        const img = trace.images[f.index];
        if (img && img.status !== 'failed') failImage(img, 'generate', f.error);
      }
    } catch (e) {
      // A stop the run caused itself keeps its own reason.
      fatal ??= isAbortError(e) || signal.aborted ? new ContactSheetError('canceled', 'The run was canceled.') : toContactSheetError(e);
      logger.error(`Generation stopped: ${fatal.message}`);
    }
  }
  hooks.signal?.removeEventListener('abort', onOuterAbort);
  trace.timings.generation_ms = jobs.length > 0 ? Date.now() - generationStarted : trace.timings.generation_ms;

  // Every image that finished generating is saved and scored before ranking.
  while (true) {
    const pending = tasks.length;
    await Promise.allSettled(tasks);
    if (tasks.length === pending) break;
  }
  const state = await scorerReady;
  await scorer.dispose().catch(() => undefined);

  trace.timings.scoring_ms = scoringBusyMs;
  trace.timings.first_image_ms = firstImageAt === null ? trace.timings.first_image_ms : firstImageAt - started;
  trace.timings.download_ms = trace.api_calls.filter((c) => !c.path.startsWith('/v1/')).reduce((s, c) => s + c.duration_ms, 0);
  const scorerError = state.ok ? null : state.error;
  const result = await finalizeRun(folder, writer, { fatal, scorerError, canceled: Boolean(hooks.signal?.aborted), started, emit, logger });
  return { trace, runDir: folder.root, status: result.status, summaryMarkdown: result.summaryMarkdown };
}
