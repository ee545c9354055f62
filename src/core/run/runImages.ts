/**
 * The per-image half of a run: each generated image is written as PNG (encoded from the pixels
 * decoded when its download was validated) under its provisional name, recorded in the trace and
 * queued for scoring, one image at a time, as soon as it arrives; a score updates the trace and
 * the provisional ranking at once. Each image is decoded once: saving and scoring share it.
 */
import sharp from 'sharp';
import { ContactSheetError, toContactSheetError, type SerializedError } from '../../shared/errors';
import type { CostSoFar, RunEvent } from './events';
import type { RunFolder } from './output';
import { overallScore } from './rank';
import type { GeneratedImage } from '../replicate/types';
import { provisionalRanking } from './runRanking';
import { decodeImage, encodePng, type DecodedImage } from '../imageDecode';
import type { Scorer } from '../scoring/scorer';
import type { ImageScores } from '../scoring/types';
import { costTotals, type GenerationTrace, type TraceImage, type TraceWriter } from './trace';

/** What the image pipeline shares with the run around it. */
export interface RunContext {
  folder: RunFolder;
  trace: GenerationTrace;
  writer: TraceWriter;
  /** Stops new work (the caller's cancel, or a fatal problem). */
  signal: AbortSignal;
  emit(e: RunEvent): void;
  /** Records a warning in the trace and tells the faces. */
  warn(message: string): void;
  /** Saves the trace in the background (coalesced). */
  save(): void;
}

export type ScorerState = { ok: true } | { ok: false; error: SerializedError };

export class RunImages {
  private readonly tasks: Promise<void>[] = [];
  private scoreChain: Promise<void> = Promise.resolve();
  /** Time the scorer spent on images (busy time, not wall time). */
  scoringBusyMs = 0;
  firstImageAt: number | null = null;

  constructor(
    private readonly ctx: RunContext,
    private readonly scorer: Scorer,
    private readonly scorerReady: Promise<ScorerState>,
  ) {}

  costSoFar(): CostSoFar {
    return { total_usd: this.ctx.trace.costs.total_usd, unknown_count: this.ctx.trace.costs.unknown_count };
  }

  fail(img: TraceImage, stage: 'generate' | 'save' | 'score', error: SerializedError): void {
    img.error = error;
    // An image that could not be scored stays on disk as "generated": resume scores it.
    if (stage !== 'score') img.status = 'failed';
    this.ctx.emit({ type: 'image-failed', index: img.index, seed: img.seed, stage, error });
    this.ctx.save();
  }

  /** Adds outside work (e.g. a save) that must finish before the run ranks. */
  track(task: Promise<void>): void {
    this.tasks.push(task);
  }

  /** Resolves when every save and score started so far (and any they started) has settled. */
  async settled(): Promise<void> {
    for (;;) {
      const count = this.tasks.length;
      await Promise.allSettled(this.tasks);
      if (this.tasks.length === count) return;
    }
  }

  /**
   * A freshly generated image: PNG on disk, trace updated, scoring queued. Throws on write errors;
   * the image is then 'generated' if its PNG was written (only the trace failed), else untouched.
   */
  async saveGenerated(generated: GeneratedImage): Promise<void> {
    const { trace, folder } = this.ctx;
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
    let pixels: DecodedImage;
    try {
      // The download was decoded once when it was validated; the PNG is encoded from those
      // pixels and scoring starts from them too (nothing decodes the image a second time).
      pixels = generated.pixels ?? (await decodeImage(generated.bytes, 'srgb'));
      png = await encodePng(pixels);
      img.width = pixels.width;
      img.height = pixels.height;
    } catch (e) {
      const message = `Image ${generated.index + 1} (prediction ${generated.prediction_id}) could not be decoded: ${(e as Error).message}`;
      this.fail(img, 'save', new ContactSheetError('output-invalid', message).toJSON());
      return;
    }
    await folder.writeFile(img.pending_file, png);
    img.status = 'generated';
    img.error = null;
    this.firstImageAt ??= Date.now();
    // The image is on disk: a trace write that fails now (the disk filled meanwhile, perhaps by
    // another image) stops the run, but this image stays generated and is shown; the final trace
    // (written into the run's reserved space) records it.
    let traceError: unknown = null;
    await this.ctx.writer.save().catch((e: unknown) => {
      traceError = e;
    });
    await this.announce(img, img.pending_file, false);
    this.ctx.emit({ type: 'cost', cost_so_far: this.costSoFar() });
    this.score(img, pixels);
    if (traceError !== null) throw traceError;
  }

  /** An image already on disk when a run resumes: shown again, scored if it is not yet. */
  async adopt(img: TraceImage, file: string): Promise<void> {
    await this.announce(img, file, true);
    if (img.status === 'generated') this.score(img, await this.ctx.folder.readFile(file));
    else if (img.scores) {
      this.ctx.emit({ type: 'image-scored', index: img.index, seed: img.seed, file, scores: img.scores, overall: img.overall, overall_weights: img.overall_weights ?? {} });
    }
  }

  private async announce(img: TraceImage, file: string, reused: boolean): Promise<void> {
    this.ctx.emit({
      type: 'image-saved',
      index: img.index,
      seed: img.seed,
      file,
      path: await this.ctx.folder.pathOf(file),
      width: img.width ?? 0,
      height: img.height ?? 0,
      model: img.model ?? '',
      prediction_id: img.prediction_id ?? '',
      cost: img.cost ?? { usd: null, source: 'unknown', pricing_date: '' },
      cost_so_far: this.costSoFar(),
      ...(reused ? { reused } : {}),
    });
  }

  /** Queues one image for scoring; images are scored one at a time, in arrival order. */
  private score(img: TraceImage, image: Buffer | DecodedImage): void {
    const task = this.scoreChain.then(() => this.scoreNow(img, image));
    this.scoreChain = task.catch(() => undefined);
    this.tasks.push(task);
  }

  private async scoreNow(img: TraceImage, image: Buffer | DecodedImage): Promise<void> {
    const { trace, signal } = this.ctx;
    const state = await this.scorerReady;
    if (!state.ok) {
      img.error = state.error;
      return;
    }
    if (signal.aborted) return;
    const t0 = Date.now();
    let scores: ImageScores;
    try {
      // Not canceled mid-image: one image takes at most about a second, and stopping the
      // worker's ONNX run halfway is not safe; no further image is started after a cancel.
      scores = await this.scorer.scoreImage(image);
    } catch (e) {
      const err = toContactSheetError(e, 'scoring-failed');
      if (err.code === 'canceled') return;
      this.ctx.warn(`Image ${img.index + 1} (seed ${img.seed}) could not be scored: ${err.message}`);
      this.fail(img, 'score', err.toJSON());
      return;
    } finally {
      this.scoringBusyMs += Date.now() - t0;
    }
    const overall = overallScore(scores, trace.settings.weights);
    if (overall.value === null && !Object.values(scores).every((m) => m.value === null && m.reason.startsWith('disabled'))) {
      // No metric could be computed (models unavailable): not scored, so resume scores it later.
      const reasons = [...new Set(Object.values(scores).map((m) => (m.value === null ? m.reason : '')))].filter(Boolean).join('; ');
      Object.assign(img, { scores, scoring_ms: Date.now() - t0 });
      const error = new ContactSheetError('scoring-failed', `No metric could be computed: ${reasons}`, {
        action: 'Fix the cause, then run `contact-sheet resume` on the run folder to score the images already generated.',
      });
      this.fail(img, 'score', error.toJSON());
      return;
    }
    Object.assign(img, { scores, overall: overall.value, overall_weights: overall.weights, status: 'scored', error: null, scoring_ms: Date.now() - t0 });
    this.ctx.save();
    this.ctx.emit({
      type: 'image-scored',
      index: img.index,
      seed: img.seed,
      file: img.pending_file,
      scores,
      overall: overall.value,
      overall_weights: overall.weights,
      scoring_ms: img.scoring_ms ?? undefined,
    });
    const ranking = provisionalRanking(trace);
    this.ctx.emit({ type: 'ranked', order: ranking.map((r) => r.index), final: false, entries: ranking });
  }
}
