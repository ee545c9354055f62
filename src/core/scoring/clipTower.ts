/**
 * One CLIP model (PickScore's ViT-H/14 or OpenAI's ViT-L/14) as the scorer uses it: converted
 * ONNX text and vision towers, the model's own tokenizer and image preprocessing.
 * Towers load on first use (or all at once with `preload`); with `lowMemory` each is released
 * right after it runs. Sessions keep onnxruntime's optimized graphs with pre-packed weights in
 * `<onnxDir>/optimized/`, so a re-conversion (which replaces onnxDir) also drops them.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ContactSheetError } from '../../shared/errors';
import type { ClipOnnxInfo } from '../models/convert/clipOnnx';
import { clipImageConfigFromPreprocessorJson, type ClipImageConfig } from './clipPreprocess';
import { ClipTokenizer } from './clipTokenizer';
import { l2Normalize } from './metricMath';
import { createSession, ort, type SessionSettings } from './onnxSession';

export interface ClipTowerOptions {
  /** Folder with the published files (config.json, tokenizer.json, preprocessor_config.json). */
  filesDir: string;
  /** Folder holding the converted graphs and clip.json. */
  onnxDir: string;
  info: ClipOnnxInfo;
  session: SessionSettings;
  lowMemory: boolean;
}

/** Folder inside the conversion output holding onnxruntime's optimized graphs. */
export const OPTIMIZED_CACHE_FOLDER = 'optimized';

export interface EncodedPrompt {
  ids: BigInt64Array;
  scoredText: string;
  truncated: boolean;
  tokenCount: number;
}

export class ClipTower {
  /** Promises, so that a preload and a first use running at once open one session, not two. */
  private textSession: Promise<InferenceSession> | undefined;
  private visionSession: Promise<InferenceSession> | undefined;

  private constructor(
    private readonly options: ClipTowerOptions,
    readonly tokenizer: ClipTokenizer,
    readonly imageConfig: ClipImageConfig,
  ) {}

  static async open(options: ClipTowerOptions): Promise<ClipTower> {
    const tokenizer = await ClipTokenizer.load(join(options.filesDir, 'tokenizer.json'));
    let preprocessorJson: unknown;
    try {
      preprocessorJson = JSON.parse(await fs.readFile(join(options.filesDir, 'preprocessor_config.json'), 'utf8'));
    } catch (e) {
      throw new ContactSheetError('model-format', `Cannot read preprocessor_config.json in ${options.filesDir}.`, {
        cause: e,
        action: 'Run `contact-sheet models verify` and download the model again if it fails.',
      });
    }
    return new ClipTower(options, tokenizer, clipImageConfigFromPreprocessorJson(preprocessorJson));
  }

  /** Session settings for one of the graphs, with the optimized-graph cache and its probe inputs. */
  private sessionSettings(probe: () => Record<string, Tensor>): SessionSettings {
    const s = this.options.session;
    return { ...s, optimizedCacheDir: s.optimizedCacheDir ?? join(this.options.onnxDir, OPTIMIZED_CACHE_FOLDER), probeFeeds: probe };
  }

  private textFeeds(ids: BigInt64Array): Record<string, Tensor> {
    return { [this.options.info.text.input]: new (ort().Tensor)('int64', ids, [1, ids.length]) };
  }

  private visionFeeds(pixels: Float32Array): Record<string, Tensor> {
    const size = this.imageConfig;
    return { [this.options.info.vision.input]: new (ort().Tensor)('float32', pixels, [1, 3, size.cropHeight, size.cropWidth]) };
  }

  /** exp(logit_scale) of the checkpoint: the factor PickScore multiplies the cosine by. */
  get logitScale(): number {
    return this.options.info.logit_scale;
  }

  encodePrompt(text: string): EncodedPrompt {
    const enc = this.tokenizer.encode(text, this.options.info.text.max_length || 77);
    return { ids: enc.ids, scoredText: enc.scoredText, truncated: enc.truncated, tokenCount: enc.tokenCount };
  }

  /**
   * Opens both sessions now (not on first use), so that loading overlaps whatever the caller
   * does meanwhile (generation). Nothing to do in low-memory mode, which opens each when it runs.
   */
  async preload(): Promise<void> {
    if (this.options.lowMemory) return;
    await Promise.all([this.text(), this.vision()]);
  }

  private text(): Promise<InferenceSession> {
    if (!this.textSession) {
      const p = this.open(this.options.info.text.file);
      this.textSession = p;
      // A failed open is forgotten, so the next use tries again instead of failing forever.
      p.catch(() => this.textSession === p && (this.textSession = undefined));
    }
    return this.textSession;
  }

  private vision(): Promise<InferenceSession> {
    if (!this.visionSession) {
      const p = this.open(this.options.info.vision.file);
      this.visionSession = p;
      p.catch(() => this.visionSession === p && (this.visionSession = undefined));
    }
    return this.visionSession;
  }

  private open(file: string): Promise<InferenceSession> {
    const probe =
      file === this.options.info.text.file
        ? () => this.textFeeds(this.encodePrompt('a photograph of a lighthouse at dusk').ids)
        : () => this.visionFeeds(Float32Array.from({ length: 3 * this.imageConfig.cropHeight * this.imageConfig.cropWidth }, (_, i) => Math.sin(i * 0.01)));
    return createSession(join(this.options.onnxDir, file), this.sessionSettings(probe));
  }

  /** L2-normalised text embedding of an encoded prompt. */
  async embedText(ids: BigInt64Array): Promise<Float32Array> {
    const session = await this.text();
    try {
      const out = await session.run(this.textFeeds(ids));
      return l2Normalize(out[this.options.info.text.output].data as Float32Array);
    } finally {
      if (this.options.lowMemory) await this.releaseText();
    }
  }

  /** L2-normalised image embedding of preprocessed pixel values (NCHW, one image). */
  async embedImage(pixels: Float32Array): Promise<Float32Array> {
    const session = await this.vision();
    try {
      const out = await session.run(this.visionFeeds(pixels));
      return l2Normalize(out[this.options.info.vision.output].data as Float32Array);
    } finally {
      if (this.options.lowMemory) await this.releaseVision();
    }
  }

  private async releaseText(): Promise<void> {
    const s = this.textSession;
    this.textSession = undefined;
    await (await s?.catch(() => undefined))?.release();
  }

  private async releaseVision(): Promise<void> {
    const s = this.visionSession;
    this.visionSession = undefined;
    await (await s?.catch(() => undefined))?.release();
  }

  async dispose(): Promise<void> {
    await Promise.all([this.releaseText(), this.releaseVision()]);
  }
}
