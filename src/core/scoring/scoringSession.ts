/**
 * ScoringSession: the in-process scorer that owns the models and ONNX sessions. It runs inside the
 * scoring worker (scorer.ts talks to it over messages) and directly in tests and benches.
 *
 * Models are made ready on first need: download (model store) → convert (ONNX cache) → load.
 * A model that cannot be made ready turns its metrics into `{ value: null, reason }` — never a
 * number — and the run goes on with the others. Work is serialised: one image at a time uses all
 * onnxruntime threads, which is faster than interleaving (FACTS.md §1).
 */
import { join } from 'node:path';
import { ContactSheetError, throwIfAborted, toContactSheetError } from '../../shared/errors';
import { silentLogger, type Logger } from '../log';
import { ensureClipOnnx } from '../models/convert/clipOnnx';
import type { Manifest, ManifestModel } from '../models/manifest';
import { aestheticToPercent, loadAestheticHead, type AestheticHead } from '../models/aestheticHead';
import { loadManifest, ModelStore } from '../models/store';
import { clipPixelValuesFromRgb, type ClipImageConfig } from './clipPreprocess';
import { decodeImage, isDecodedImage, toRgb, type DecodedImage, type RgbImage } from '../imageDecode';
import { ClipTower } from './clipTower';
import { clipScore, dot, pickScore } from './metricMath';
import type { SessionSettings } from './onnxSession';
import type { ImageScores, MetricId, MetricResult, PromptScoringInfo, ScorerConfig, ScorerProgress } from './types';
import { VqaScorer } from './vqa/vqaScorer';

/** Manifest ids of the models each metric needs. */
const METRIC_MODELS: Record<MetricId, string[]> = {
  pickscore: ['pickscore'],
  clip_score: ['clip'],
  aesthetic: ['clip', 'aesthetic'],
  vqascore: ['vqascore'],
};

type ClipModelId = 'pickscore' | 'clip';

interface PromptState {
  text: string;
  info: PromptScoringInfo;
  /** Normalised text embedding per CLIP model, or the reason it is missing. */
  textEmbeds: Map<ClipModelId, Float32Array | Error>;
}

export interface ScoringSessionHooks {
  logger?: Logger;
  onProgress?: (p: ScorerProgress) => void;
}

export class ScoringSession {
  private readonly logger: Logger;
  private readonly onProgress: (p: ScorerProgress) => void;
  private manifestPromise: Promise<Manifest> | undefined;
  private storePromise: Promise<ModelStore> | undefined;
  private readonly towers = new Map<ClipModelId, Promise<ClipTower>>();
  private aestheticPromise: Promise<AestheticHead> | undefined;
  private vqaPromise: Promise<VqaScorer> | undefined;
  private prompt: Promise<PromptState> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Scores asked for and not settled, including those still waiting for the prompt (not yet queued). */
  private readonly scoresInFlight = new Set<Promise<ImageScores>>();
  private readonly modelNames = new Map<string, string>();

  constructor(
    private readonly config: ScorerConfig,
    hooks: ScoringSessionHooks = {},
  ) {
    this.logger = hooks.logger ?? silentLogger;
    this.onProgress = hooks.onProgress ?? (() => {});
  }

  private get session(): SessionSettings {
    return { executionProviders: this.config.executionProviders, intraOpNumThreads: this.config.intraOpNumThreads, logger: this.logger };
  }

  /** Runs `task` after every task queued before it (ONNX work is serialised). */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private manifest(): Promise<Manifest> {
    return (this.manifestPromise ??= loadManifest(this.config.manifestPath));
  }

  private store(): Promise<ModelStore> {
    return (this.storePromise ??= this.manifest().then(
      (manifest) =>
        new ModelStore({
          modelsDir: this.config.modelsDir,
          manifest,
          hubEndpoint: this.config.hubEndpoint,
          allowDownload: this.config.allowDownload,
          logger: this.logger,
        }),
    ));
  }

  private async manifestModel(id: string): Promise<ManifestModel> {
    const m = (await this.manifest()).models[id];
    if (!m) throw new ContactSheetError('model-missing', `The model manifest has no entry "${id}".`, { action: 'Reinstall Contact Sheet or pass a complete --manifest.' });
    return m;
  }

  /** Downloads (if needed) and returns the folder of a model's published files. */
  private async modelFiles(id: string, signal?: AbortSignal): Promise<string> {
    const store = await this.store();
    return store.ensure(id, { signal, onProgress: this.onProgress });
  }

  private async describeModel(id: string, suffix: string): Promise<string> {
    const m = await this.manifestModel(id);
    // The manifest's name says what the model is (and marks tiny test models as such).
    const source = m.source.type === 'huggingface' ? ` — ${m.source.repo}@${m.source.revision.slice(0, 7)}` : '';
    const name = `${m.name}${source} (${suffix})`;
    this.modelNames.set(id, name);
    return name;
  }

  private tower(id: ClipModelId, signal?: AbortSignal): Promise<ClipTower> {
    let p = this.towers.get(id);
    if (!p) {
      p = (async () => {
        const started = Date.now();
        const filesDir = await this.modelFiles(id, signal);
        const onnxDir = join(this.config.modelsDir, id, 'onnx', this.config.precision);
        this.onProgress({ type: 'convert', model: id, step: 'checking converted ONNX graphs' });
        const info = await ensureClipOnnx(filesDir, onnxDir, this.config.precision, {
          signal,
          onProgress: (step: string) => this.onProgress({ type: 'convert', model: id, step }),
        });
        this.onProgress({ type: 'load', model: id, precision: this.config.precision });
        const tower = await ClipTower.open({ filesDir, onnxDir, info, session: this.session, lowMemory: this.config.lowMemory });
        // Sessions open now, while the run's first predictions are generating, not at the first image.
        await tower.preload();
        await this.describeModel(id, this.config.precision);
        this.onProgress({ type: 'ready', model: id, loadMs: Date.now() - started });
        return tower;
      })();
      this.towers.set(id, p);
      // A failed load is reported once per run and not retried for every image.
      p.catch((e) => this.reportUnavailable(id, e));
    }
    return p;
  }

  private aesthetic(signal?: AbortSignal): Promise<AestheticHead> {
    if (!this.aestheticPromise) {
      this.aestheticPromise = (async () => {
        const m = await this.manifestModel('aesthetic');
        const dir = await this.modelFiles('aesthetic', signal);
        const head = await loadAestheticHead(join(dir, m.files[0].path));
        this.modelNames.set('aesthetic', `${m.name} — ${m.files[0].path} on CLIP ViT-L/14 image embeddings (${this.config.precision})`);
        return head;
      })();
      this.aestheticPromise.catch((e) => this.reportUnavailable('aesthetic', e));
    }
    return this.aestheticPromise;
  }

  private vqa(signal?: AbortSignal): Promise<VqaScorer> {
    if (!this.vqaPromise) {
      this.vqaPromise = (async () => {
        const started = Date.now();
        const m = await this.manifestModel('vqascore');
        const dir = await this.modelFiles('vqascore', signal);
        const variant = typeof m.options?.variant === 'string' ? m.options.variant : undefined;
        const scorer = await VqaScorer.load(dir, {
          variant,
          intraOpNumThreads: this.config.intraOpNumThreads,
          executionProviders: this.config.executionProviders,
          optimizedCacheDir: join(this.config.modelsDir, 'vqascore', 'optimized'),
          logger: this.logger,
        });
        this.modelNames.set('vqascore', `${m.name} — ${scorer.modelName}`);
        this.onProgress({ type: 'ready', model: 'vqascore', loadMs: Date.now() - started });
        return scorer;
      })();
      this.vqaPromise.catch((e) => this.reportUnavailable('vqascore', e));
    }
    return this.vqaPromise;
  }

  private reportUnavailable(model: string, e: unknown): void {
    const err = toContactSheetError(e);
    if (err.code === 'canceled') return;
    const metrics = (Object.keys(METRIC_MODELS) as MetricId[]).filter((m) => this.config.enabled[m] && METRIC_MODELS[m].includes(model));
    const reason = unavailableReason(model, err);
    this.logger.warn(`Scoring model "${model}" is unavailable: ${reason}`);
    this.onProgress({ type: 'unavailable', model, metrics, reason });
  }

  private clipModelsNeeded(): ClipModelId[] {
    const ids: ClipModelId[] = [];
    if (this.config.enabled.pickscore) ids.push('pickscore');
    if (this.config.enabled.clip_score || this.config.enabled.aesthetic) ids.push('clip');
    return ids;
  }

  /**
   * Tokenises and embeds the prompt once per run; also starts making every enabled model ready,
   * so downloads and loads overlap generation. Never throws for a missing model.
   */
  setPrompt(text: string, signal?: AbortSignal): Promise<PromptScoringInfo> {
    const state = (async (): Promise<PromptState> => {
      if (this.config.enabled.aesthetic) void this.aesthetic(signal).catch(() => undefined);
      if (this.config.enabled.vqascore) void this.vqa(signal).catch(() => undefined);
      const textEmbeds = new Map<ClipModelId, Float32Array | Error>();
      let info: PromptScoringInfo | undefined;
      const ids = this.clipModelsNeeded();
      // Both towers get ready at once: one's loading overlaps the other's (cold start).
      const towers = ids.map((id) => this.tower(id, signal));
      for (const [i, id] of ids.entries()) {
        try {
          const tower = await towers[i]!;
          const enc = tower.encodePrompt(text);
          info ??= { scoredText: enc.scoredText, truncated: enc.truncated, tokenCount: enc.tokenCount };
          textEmbeds.set(id, await this.serial(() => tower.embedText(enc.ids)));
        } catch (e) {
          throwIfAborted(signal);
          textEmbeds.set(id, toContactSheetError(e));
        }
      }
      return { text, info: info ?? { scoredText: text, truncated: false, tokenCount: 0 }, textEmbeds };
    })();
    this.prompt = state;
    return state.then((s) => s.info);
  }

  /**
   * Scores one image against the prompt set by setPrompt: an image file (decoded here, once) or
   * pixels the caller already decoded. CLIP's and VQAScore's preprocessing share that decode.
   */
  scoreImage(image: Buffer | DecodedImage, signal?: AbortSignal): Promise<ImageScores> {
    // Known to dispose from this moment on, before it waits for the prompt and joins the queue.
    const work = this.scoreAfterPrompt(image, signal);
    this.scoresInFlight.add(work);
    const forget = () => void this.scoresInFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  private async scoreAfterPrompt(image: Buffer | DecodedImage, signal?: AbortSignal): Promise<ImageScores> {
    if (!this.prompt) throw new ContactSheetError('internal', 'scoreImage called before setPrompt.');
    const prompt = await this.prompt;
    return this.serial(async () => {
      throwIfAborted(signal);
      const scores: ImageScores = {
        pickscore: this.disabledOr('pickscore'),
        clip_score: this.disabledOr('clip_score'),
        aesthetic: this.disabledOr('aesthetic'),
        vqascore: this.disabledOr('vqascore'),
      };
      // An unreadable image is the caller's problem, not a missing metric: let it throw.
      const decoded = isDecodedImage(image) ? image : await decodeImage(image);
      let rgb: RgbImage | undefined;
      const pixelCache = new Map<string, Float32Array>();
      const pixels = (cfg: ClipImageConfig) => {
        const key = JSON.stringify(cfg);
        let p = pixelCache.get(key);
        if (!p) pixelCache.set(key, (p = clipPixelValuesFromRgb((rgb ??= toRgb(decoded)), cfg)));
        return p;
      };
      const imageEmbeds = new Map<ClipModelId, Float32Array | Error>();
      for (const id of this.clipModelsNeeded()) {
        const textEmbed = prompt.textEmbeds.get(id);
        if (textEmbed instanceof Error || !textEmbed) {
          imageEmbeds.set(id, textEmbed ?? new Error('no text embedding'));
          continue;
        }
        const tower = await this.tower(id, signal);
        const px = pixels(tower.imageConfig);
        throwIfAborted(signal);
        imageEmbeds.set(id, await tower.embedImage(px));
      }

      const pickEmbed = imageEmbeds.get('pickscore');
      if (this.config.enabled.pickscore) {
        scores.pickscore = await this.metric('pickscore', pickEmbed, async (img) => {
          const tower = await this.tower('pickscore');
          return { ...pickScore(dot(img, prompt.textEmbeds.get('pickscore') as Float32Array), tower.logitScale), model: this.modelNames.get('pickscore') ?? 'pickscore' };
        });
      }
      const clipEmbed = imageEmbeds.get('clip');
      if (this.config.enabled.clip_score) {
        scores.clip_score = await this.metric('clip', clipEmbed, async (img) => ({
          ...clipScore(dot(img, prompt.textEmbeds.get('clip') as Float32Array)),
          model: this.modelNames.get('clip') ?? 'clip',
        }));
      }
      if (this.config.enabled.aesthetic) {
        scores.aesthetic = await this.metric('clip', clipEmbed, async (img) => {
          const head = await this.aesthetic(signal);
          const raw = head.score(img);
          return { raw, value: aestheticToPercent(raw), model: this.modelNames.get('aesthetic') ?? 'aesthetic' };
        }, 'aesthetic');
      }
      if (this.config.enabled.vqascore) {
        try {
          const vqa = await this.vqa(signal);
          const r = await vqa.score(decoded, prompt.text, signal);
          scores.vqascore = { raw: r.raw, value: r.value, model: this.modelNames.get('vqascore') ?? r.model };
        } catch (e) {
          throwIfAborted(signal);
          scores.vqascore = { value: null, reason: unavailableReason('vqascore', toContactSheetError(e)) };
        }
      }
      return scores;
    });
  }

  private disabledOr(metric: MetricId): MetricResult {
    return { value: null, reason: this.config.enabled[metric] ? 'not computed' : 'disabled in settings' };
  }

  /** Computes a metric from an image embedding, or reports why it is absent. */
  private async metric(
    model: string,
    embed: Float32Array | Error | undefined,
    compute: (img: Float32Array) => Promise<{ raw: number; value: number; model: string }>,
    extraModel?: string,
  ): Promise<MetricResult> {
    if (!(embed instanceof Float32Array)) {
      return { value: null, reason: unavailableReason(model, toContactSheetError(embed ?? new Error('no image embedding'))) };
    }
    try {
      return await compute(embed);
    } catch (e) {
      return { value: null, reason: unavailableReason(extraModel ?? model, toContactSheetError(e)) };
    }
  }

  describe(): { precision: ScorerConfig['precision']; models: Record<MetricId, string | null> } {
    return {
      precision: this.config.precision,
      models: {
        pickscore: this.modelNames.get('pickscore') ?? null,
        clip_score: this.modelNames.get('clip') ?? null,
        aesthetic: this.modelNames.get('aesthetic') ?? null,
        vqascore: this.modelNames.get('vqascore') ?? null,
      },
    };
  }

  async dispose(): Promise<void> {
    // Never release a session while onnxruntime is still running it (a native crash): wait for
    // the scores asked for (a score may not have reached the queue yet) and the queued work, which
    // a canceled caller has stopped waiting for but which still runs.
    await Promise.allSettled([...this.scoresInFlight]);
    await this.queue.catch(() => undefined);
    await this.prompt?.catch(() => undefined);
    const towers = await Promise.allSettled([...this.towers.values()]);
    await Promise.all(towers.map((t) => (t.status === 'fulfilled' ? t.value.dispose() : undefined)));
    if (this.vqaPromise) {
      const v = await this.vqaPromise.catch(() => undefined);
      await v?.dispose();
    }
    this.towers.clear();
    this.vqaPromise = undefined;
  }
}

function unavailableReason(model: string, err: ContactSheetError): string {
  return `${model} model unavailable: ${err.message}${err.action ? ` (${err.action})` : ''}`;
}
