/**
 * Generates one image per job: one prediction each, with the job's seed, at most `concurrency` at
 * a time. Falls back to the next model for failures another model can fix, skips a model once it
 * has failed MODEL_FAILURES_BEFORE_SKIP times, adopts existing predictions on resume, and on
 * cancel (or a run-fatal error) cancels the predictions in flight on Replicate. Per-image failures
 * are returned, never thrown; finished images are emitted as they arrive, so none is lost.
 * Rate-limit windows the client meets meanwhile (any request's 429 holds every request of its
 * kind, see rateLimitGate.ts) are reported as 'rate-limited' events.
 */
import { ContactSheetError, toContactSheetError, type SerializedError } from '../../shared/errors';
import type { Prediction } from './apiTypes';
import type { CallContext, ModelInfo, ReplicateClient } from './client';
import { isFallbackWorthy, isRunFatal, MODEL_FAILURES_BEFORE_SKIP } from './failurePolicy';
import { adaptInput, inputSchemaOf, type InputSchema } from './inputAdapter';
import { formatModelRef, modelName, parseModelRef } from './modelRef';
import { errorForPrediction } from './predictionErrors';
import { costOf, loadPricing, type Pricing } from './pricing';
import type { ApiCallRecord, GeneratedImage, GenerationEvent, GenerationRequest, ImageJob, ModelRef } from './types';

export interface GenerationResult {
  images: GeneratedImage[];
  failures: { index: number; error: SerializedError }[];
}

export const DEFAULT_CONCURRENCY = 8;

/** Longest a finished prediction's download may run on after a cancel. */
const FINISHED_DOWNLOAD_TIMEOUT_MS = 60_000;

interface PreparedModel {
  ref: ModelRef;
  info: ModelInfo;
  schema: InputSchema;
  /** Version to pin on create; undefined sends the create to the official model's endpoint. */
  createVersion: string | undefined;
  hardware: string | undefined;
}

export async function generateImages(
  client: ReplicateClient,
  req: GenerationRequest,
  onEvent: (e: GenerationEvent) => void,
  pricing: Pricing = loadPricing(),
): Promise<GenerationResult> {
  if (req.models.length === 0) {
    throw new ContactSheetError('bad-usage', 'No model was given to generate with.', { action: 'Name a model, e.g. black-forest-labs/flux-schnell.' });
  }
  const refs = req.models.map(parseModelRef);
  const run = new Generation(client, req, refs, onEvent, pricing);
  return run.execute();
}

class Generation {
  private readonly abort = new AbortController();
  private fatal: ContactSheetError | undefined;
  private readonly failuresByModel = new Map<string, number>();
  private readonly prepared = new Map<string, Promise<PreparedModel>>();
  private readonly images: GeneratedImage[] = [];
  private readonly failures: GenerationResult['failures'] = [];

  constructor(
    private readonly client: ReplicateClient,
    private readonly req: GenerationRequest,
    private readonly refs: ModelRef[],
    private readonly onEvent: (e: GenerationEvent) => void,
    private readonly pricing: Pricing,
  ) {}

  async execute(): Promise<GenerationResult> {
    const outer = this.req.signal;
    const onOuterAbort = () => this.abort.abort();
    if (outer?.aborted) this.abort.abort();
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    // Before any create: a lost create's lookup must never take a prediction another job owns.
    for (const id of this.req.claimedPredictionIds ?? []) this.client.claim(id);
    for (const job of this.req.jobs) if (job.existingPredictionId) this.client.claim(job.existingPredictionId);
    const unsubscribe = this.client.subscribeRateLimits((wait) => this.emit({ type: 'rate-limited', wait }));
    try {
      const queue = [...this.req.jobs];
      const workers = Math.max(1, Math.min(this.req.concurrency > 0 ? this.req.concurrency : DEFAULT_CONCURRENCY, queue.length));
      await Promise.all(
        Array.from({ length: workers }, async () => {
          for (let job = queue.shift(); job && !this.abort.signal.aborted; job = queue.shift()) await this.runJob(job);
        }),
      );
    } finally {
      unsubscribe();
      outer?.removeEventListener('abort', onOuterAbort);
    }
    if (outer?.aborted) {
      throw new ContactSheetError('canceled', `Generation was canceled after ${this.images.length} of ${this.req.jobs.length} images.`, {
        details: { images_done: this.images.length, failures: this.failures.length },
      });
    }
    if (this.fatal) throw this.fatal;
    this.images.sort((a, b) => a.index - b.index);
    this.failures.sort((a, b) => a.index - b.index);
    return { images: this.images, failures: this.failures };
  }

  private emit(e: GenerationEvent): void {
    try {
      this.onEvent(e);
    } catch {
      // A consumer's bug must not break generation (and lose paid-for images).
    }
  }

  private readonly onCall = (call: ApiCallRecord) => this.emit({ type: 'api-call', call });

  private async runJob(job: ImageJob): Promise<void> {
    const fallbacks: GeneratedImage['fallbacks'] = [];
    let lastModel = modelName(this.refs[0]);
    let predictionId: string | null = null;
    if (job.existingPredictionId) {
      const adopted = await this.tryAdopt(job, fallbacks);
      if (adopted !== 'retry') return;
    }
    const skipped: string[] = [];
    for (let i = 0; i < this.refs.length; i++) {
      const ref = this.refs[i];
      const name = formatModelRef(ref);
      lastModel = name;
      const isLast = i === this.refs.length - 1;
      const failedBefore = this.failuresByModel.get(name) ?? 0;
      if (failedBefore >= MODEL_FAILURES_BEFORE_SKIP && !isLast) {
        skipped.push(`${name} was skipped: it already failed ${failedBefore} times in this run.`);
        continue;
      }
      const tracker = { predictionId: null as string | null };
      try {
        const image = await this.generateOn(ref, job, fallbacks, tracker);
        this.succeed(skipped.length ? { ...image, notes: [...skipped, ...(image.notes ?? [])] } : image);
        return;
      } catch (e) {
        const error = toContactSheetError(e);
        predictionId = tracker.predictionId;
        if (this.stopIfFatal(error)) {
          this.fail(job, name, predictionId, error);
          return;
        }
        if (!isFallbackWorthy(error.code)) {
          this.fail(job, name, predictionId, error);
          return;
        }
        this.failuresByModel.set(name, (this.failuresByModel.get(name) ?? 0) + 1);
        fallbacks.push({ model: name, error: error.toJSON() });
        const next = this.nextModel(i);
        if (next !== undefined) this.emit({ type: 'fallback', index: job.index, from: name, to: formatModelRef(this.refs[next]), error: error.toJSON() });
      }
    }
    const last = fallbacks[fallbacks.length - 1]?.error;
    const error =
      fallbacks.length > 1
        ? new ContactSheetError('all-models-failed', `Every model failed for image ${job.index + 1}: ${fallbacks.map((f) => `${f.model} (${f.error.code})`).join(', ')}.`, {
            action: last?.action ?? 'Try again later or choose other models.',
            details: { attempts: fallbacks },
          })
        : new ContactSheetError(last?.code ?? 'all-models-failed', last?.message ?? 'No model could generate this image.', { action: last?.action, details: last?.details });
    this.fail(job, lastModel, predictionId, error);
  }

  /** The index of the model the next attempt will use, skipping models that failed too often. */
  private nextModel(after: number): number | undefined {
    for (let j = after + 1; j < this.refs.length; j++) {
      const skip = (this.failuresByModel.get(formatModelRef(this.refs[j])) ?? 0) >= MODEL_FAILURES_BEFORE_SKIP && j < this.refs.length - 1;
      if (!skip) return j;
    }
    return undefined;
  }

  /** True (and the run is stopped) when the error will fail every other image too. */
  private stopIfFatal(error: ContactSheetError): boolean {
    if (!isRunFatal(error.code) && !this.abort.signal.aborted) return false;
    if (!this.fatal && error.code !== 'canceled') this.fatal = error;
    this.abort.abort();
    return true;
  }

  private succeed(image: GeneratedImage): void {
    this.images.push(image);
    this.emit({ type: 'image-generated', image });
  }

  private fail(job: ImageJob, model: string, predictionId: string | null, error: ContactSheetError): void {
    const serialized = error.toJSON();
    this.failures.push({ index: job.index, error: serialized });
    this.emit({ type: 'image-failed', index: job.index, seed: job.seed, model, prediction_id: predictionId, error: serialized });
  }

  private context(ref: ModelRef, index: number, hardware: string | undefined): CallContext {
    return {
      signal: this.abort.signal,
      imageIndex: index,
      onCall: this.onCall,
      costOf: (p: Prediction) => costOf(ref, p, this.pricing, hardware),
    };
  }

  private prepare(ref: ModelRef): Promise<PreparedModel> {
    const key = formatModelRef(ref);
    let p = this.prepared.get(key);
    if (!p) {
      p = (async () => {
        const info = await this.client.getModel(ref, { signal: this.abort.signal, onCall: this.onCall });
        const schema = inputSchemaOf(info.version, key);
        const official = !ref.version && this.pricing.official[modelName(ref)] !== undefined;
        const createVersion = ref.version ?? (official ? undefined : info.version?.id);
        return { ref, info, schema, createVersion, hardware: hardwareOf(info) };
      })();
      this.prepared.set(key, p);
      // A cancellation says nothing about the model: forget it rather than cache it.
      p.catch((e: unknown) => {
        if (toContactSheetError(e).code === 'canceled') this.prepared.delete(key);
      });
    }
    return p;
  }

  private async generateOn(ref: ModelRef, job: ImageJob, fallbacks: GeneratedImage['fallbacks'], tracker: { predictionId: string | null }): Promise<GeneratedImage> {
    const model = await this.prepare(ref);
    const adapted = adaptInput(
      model.schema,
      { prompt: this.req.prompt, negativePrompt: this.req.negativePrompt, aspectRatio: this.req.aspectRatio, seed: job.seed },
      formatModelRef(ref),
    );
    const ctx = this.context(ref, job.index, model.hardware);
    const created = await this.client.createPrediction(
      { model: { owner: ref.owner, name: ref.name }, version: model.createVersion, input: adapted.input },
      ctx,
      // Without a seed every image sends the same input: the client must not confuse their creates.
      { timeoutMs: this.req.predictionTimeoutMs, sharedInput: !adapted.seedSupported },
    );
    tracker.predictionId = created.id;
    this.emit({ type: 'prediction-created', index: job.index, prediction_id: created.id, model: modelName(ref), version: created.version ?? model.createVersion ?? null, seed: job.seed });
    const image = await this.finish(ref, model.hardware, created, job, fallbacks, adapted.input);
    return { ...image, seed_supported: adapted.seedSupported, notes: adapted.notes };
  }

  /** Waits for a prediction, downloads its image and prices it. */
  private async finish(
    ref: ModelRef,
    hardware: string | undefined,
    prediction: Prediction,
    job: ImageJob,
    fallbacks: GeneratedImage['fallbacks'],
    sentInput: Record<string, unknown> | undefined,
  ): Promise<GeneratedImage> {
    const ctx = this.context(ref, job.index, hardware);
    const final = await this.client.waitForPrediction(prediction, {
      ...ctx,
      timeoutMs: this.req.predictionTimeoutMs,
      onStatus: (p) => this.emit({ type: 'prediction-status', index: job.index, prediction_id: p.id, status: p.status }),
    });
    if (final.status !== 'succeeded') throw errorForPrediction(final);
    if (final.data_removed) {
      throw new ContactSheetError('output-expired', `The output of prediction ${final.id} was already deleted by Replicate (outputs expire after an hour).`, {
        action: 'Generate the image again (the same seed gives the same image on most models).',
        details: { prediction_id: final.id },
      });
    }
    const url = firstOutputUrl(final.output);
    if (!url) {
      throw new ContactSheetError('prediction-failed', `Prediction ${final.id} succeeded but returned no image URL.`, {
        action: 'Run again or pick another model.',
        details: { prediction_id: final.id, model: final.model },
      });
    }
    // The prediction is paid for: fetch its image even if the run is being canceled (bounded),
    // so a cancel never throws away a finished image.
    const file = await this.client.downloadOutput(url, AbortSignal.timeout(FINISHED_DOWNLOAD_TIMEOUT_MS), ctx);
    return {
      index: job.index,
      seed: job.seed,
      model: modelName(ref),
      version: final.version ?? ref.version ?? null,
      prediction_id: final.id,
      bytes: file.bytes,
      pixels: file.pixels,
      content_type: file.contentType,
      input: sentInput ?? final.input ?? {},
      created_at: final.created_at ?? null,
      started_at: final.started_at ?? null,
      completed_at: final.completed_at ?? null,
      predict_time_s: typeof final.metrics?.predict_time === 'number' ? final.metrics.predict_time : null,
      cost: costOf(ref, final, this.pricing, hardware),
      fallbacks,
    };
  }

  /**
   * Resume: adopt a prediction created by an earlier run. Returns 'done' when the job is settled
   * (image or failure reported), 'retry' when a new prediction should be created instead (the old
   * one is gone, or its output expired).
   */
  private async tryAdopt(job: ImageJob, fallbacks: GeneratedImage['fallbacks']): Promise<'done' | 'retry'> {
    const id = job.existingPredictionId!;
    const ref = parseModelRef(job.existingModel ?? this.req.models[0]);
    this.client.claim(id);
    let hardware: string | undefined;
    try {
      hardware = (await this.prepare(ref).catch(() => undefined))?.hardware;
      const prediction = await this.client.getPrediction(id, this.context(ref, job.index, hardware));
      this.succeed(await this.finish(ref, hardware, prediction, job, fallbacks, undefined));
      return 'done';
    } catch (e) {
      const error = toContactSheetError(e);
      if (this.stopIfFatal(error)) {
        this.fail(job, modelName(ref), id, error);
        return 'done';
      }
      // The earlier prediction is gone or its file expired: make the image again.
      if (error.code === 'output-expired' || error.code === 'model-not-found' || isFallbackWorthy(error.code)) return 'retry';
      this.fail(job, modelName(ref), id, error);
      return 'done';
    }
  }
}

function firstOutputUrl(output: unknown): string | undefined {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.find((u): u is string => typeof u === 'string');
  return undefined;
}

function hardwareOf(info: ModelInfo): string | undefined {
  const hw = info.model.default_hardware;
  if (typeof hw === 'string') return hw;
  if (hw && typeof hw === 'object') return hw.sku ?? undefined;
  return undefined;
}
