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
import { ContactSheetError, isAbortError, toContactSheetError, type SerializedError } from '../../shared/errors';
import type { RunEvent } from './events';
import { silentLogger, type Logger } from '../log';
import type { RunFolder } from './output';
import type { GeneratedImage, GenerationEvent, GenerationRequest, ImageJob } from '../replicate/types';
import { finalizeRun } from './runFinalize';
import { RunImages, type RunContext, type ScorerState } from './runImages';
import type { Scorer } from '../scoring/scorer';
import type { ScorerProgress } from '../scoring/types';
import { claimedPredictionIds, claimPrediction, TraceWriter, type GenerationTrace } from './trace';

export interface GenerationOutcome {
  images: GeneratedImage[];
  failures: { index: number; error: SerializedError }[];
}

/** The engine's ports: the faces wire the real Replicate generator and the real scorer. */
export interface RunDeps {
  /** Runs the predictions (src/core/replicate's generateImages with a client and pricing bound). */
  generate(req: GenerationRequest, onEvent: (e: GenerationEvent) => void): Promise<GenerationOutcome>;
  /** Gives the scorer for this run; the run disposes it unless `keepScorer` is set. */
  createScorer(onProgress: (p: ScorerProgress) => void): Scorer;
  /** The scorer outlives the run (the extension keeps one, models loaded, across runs). */
  keepScorer?: boolean;
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
  const started = Date.now();
  const writer = new TraceWriter(folder, trace);
  const emit = (e: RunEvent) => {
    try {
      hooks.onEvent?.(e);
    } catch (err) {
      logger.warn(`A run event listener failed: ${(err as Error).message}`);
    }
  };
  const ctx: RunContext = {
    folder,
    trace,
    writer,
    signal: stop.signal,
    emit,
    warn: (message) => {
      trace.warnings.push(message);
      // Faces show the event; the log keeps a copy without shouting it twice on a console.
      logger.info(message);
      emit({ type: 'warning', message });
    },
    save: () => {
      writer.save().catch((e) => logger.error(`Could not write the trace: ${(e as Error).message}`));
    },
  };

  trace.status = 'running';
  trace.finished_at = null;
  trace.error = null;
  await writer.save();
  // Room for the final trace and summary should the disk fill up (released when the run ends).
  if (!(await folder.reserveSpace())) logger.warn(`Little disk space is left in ${folder.root}.`);
  emit({
    type: 'run-started',
    run_id: trace.run_id,
    run_dir: folder.root,
    num_images: trace.images.length,
    at: new Date(started).toISOString(),
    resumed: trace.resumed_at.length > 0,
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
  const scorerReady = prepareScorer(scorer, ctx, started);
  const images = new RunImages(ctx, scorer, scorerReady);

  // Images already on disk (resume): shown again, scored if they are not yet.
  for (const img of trace.images) {
    if (img.status !== 'generated' && img.status !== 'scored') continue;
    const where = (await folder.exists(img.pending_file)) ? img.pending_file : img.file && (await folder.exists(img.file)) ? img.file : null;
    if (where) {
      await images.adopt(img, where);
      continue;
    }
    ctx.warn(`Image ${img.index + 1} (seed ${img.seed}) was recorded as done but its file is missing; it will be fetched again.`);
    Object.assign(img, { status: img.prediction_id ? 'created' : 'pending', scores: null, overall: null });
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
  const stopFor = (e: ContactSheetError) => {
    if (fatal) return;
    fatal = e;
    stop.abort();
  };
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
          claimedPredictionIds: [...claimedPredictionIds(trace)],
          concurrency: trace.settings.concurrency,
          predictionTimeoutMs: trace.settings.prediction_timeout_s * 1000,
          signal: stop.signal,
        },
        (e) => onGenerationEvent(e, ctx, images, stopFor),
      );
      for (const f of outcome.failures) {
        const img = trace.images[f.index];
        if (img && img.status !== 'failed') images.fail(img, 'generate', f.error);
      }
    } catch (e) {
      // A stop the run caused itself keeps its own reason.
      fatal ??= isAbortError(e) || stop.signal.aborted ? new ContactSheetError('canceled', 'The run was canceled.') : toContactSheetError(e);
      logger.error(`Generation stopped: ${fatal.message}`);
    }
    trace.timings.generation_ms = Date.now() - generationStarted;
  }
  hooks.signal?.removeEventListener('abort', onOuterAbort);

  // Every image that finished generating is saved and scored before ranking.
  await images.settled();
  const state = await scorerReady;
  if (!deps.keepScorer) await scorer.dispose().catch(() => undefined);

  trace.timings.scoring_ms = images.scoringBusyMs;
  if (images.firstImageAt !== null) trace.timings.first_image_ms = images.firstImageAt - started;
  // Output downloads are the recorded calls outside the API's /v1/ paths.
  trace.timings.download_ms = trace.api_calls.filter((c) => !c.path.startsWith('/v1/')).reduce((s, c) => s + c.duration_ms, 0);
  let result: Awaited<ReturnType<typeof finalizeRun>>;
  try {
    result = await finalizeRun(folder, writer, {
      fatal,
      scorerError: state.ok ? null : state.error,
      canceled: Boolean(hooks.signal?.aborted),
      started,
      emit,
      logger,
    });
  } finally {
    await folder.releaseSpace();
  }
  return { trace, runDir: folder.root, status: result.status, summaryMarkdown: result.summaryMarkdown };
}

/** Starts making the models ready (download, conversion, load) and records what they report. */
function prepareScorer(scorer: Scorer, ctx: RunContext, started: number): Promise<ScorerState> {
  const { trace } = ctx;
  const ready = scorer.setPrompt(trace.prompts.enhanced, ctx.signal).then(
    async (info): Promise<ScorerState> => {
      trace.prompts.scored_text = info.scoredText;
      trace.prompts.scored_text_truncated = info.truncated;
      trace.prompts.clip_token_count = info.tokenCount;
      trace.timings.model_load_ms = Date.now() - started;
      trace.scoring_models = (await scorer.describe()).models;
      if (info.truncated) ctx.warn(`The prompt is ${info.tokenCount} CLIP tokens; the CLIP-based metrics scored only its start: "${info.scoredText}"`);
      ctx.save();
      return { ok: true };
    },
    (e): ScorerState => {
      const err = toContactSheetError(e, 'scoring-failed');
      if (err.code !== 'canceled') ctx.warn(`Scoring is unavailable: ${err.message}`);
      return { ok: false, error: err.toJSON() };
    },
  );
  return ready;
}

/** Mirrors one Replicate event into the trace (saved at once) and the run's event stream. */
function onGenerationEvent(e: GenerationEvent, ctx: RunContext, images: RunImages, stopFor: (e: ContactSheetError) => void): void {
  const { trace, emit } = ctx;
  switch (e.type) {
    case 'api-call':
      trace.api_calls.push(e.call);
      emit({ type: 'api-call', call: e.call });
      ctx.save();
      return;
    case 'rate-limited': {
      // One record per window: an extension (same number) replaces the record it extends.
      const waits = trace.rate_limit_waits;
      const at = waits.findIndex((w) => w.window === e.wait.window);
      if (at >= 0) waits[at] = e.wait;
      else waits.push(e.wait);
      emit({ type: 'rate-limited', wait: e.wait });
      ctx.save();
      return;
    }
    case 'prediction-created': {
      const img = trace.images[e.index];
      if (img) Object.assign(img, { status: 'created', prediction_id: e.prediction_id, model: e.model, version: e.version, error: null });
      claimPrediction(trace, e.prediction_id);
      // Recorded at once: resume adopts it instead of paying again.
      ctx.save();
      break;
    }
    case 'fallback':
      ctx.warn(`Image ${e.index + 1}: ${e.from} failed (${e.error.message}); trying ${e.to}.`);
      break;
    case 'image-generated': {
      const image: GeneratedImage = e.image;
      images.track(
        images.saveGenerated(image).catch((err) => {
          const cse = toContactSheetError(err, 'write-failed');
          const img = trace.images[image.index];
          // Written, and only the trace after it failed: the image is kept as it is.
          if (img && img.status !== 'generated') images.fail(img, 'save', cse.toJSON());
          // Disk full or unwritable: stop paying for images that cannot be kept.
          stopFor(cse);
        }),
      );
      emit({ type: 'generation', event: { ...e, image: { ...image, bytes: Buffer.alloc(0) } } });
      return;
    }
    case 'image-failed': {
      const img = trace.images[e.index];
      if (img) {
        if (e.prediction_id) img.prediction_id = e.prediction_id;
        img.model = e.model;
        images.fail(img, 'generate', e.error);
      }
      break;
    }
  }
  emit({ type: 'generation', event: e });
}
