/**
 * One CLIP model (PickScore's ViT-H/14 or OpenAI's ViT-L/14) as the scorer uses it: converted
 * ONNX text and vision towers, the model's own tokenizer and image preprocessing.
 * Towers load on first use; with `lowMemory` each is released right after it runs.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
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

export interface EncodedPrompt {
  ids: BigInt64Array;
  scoredText: string;
  truncated: boolean;
  tokenCount: number;
}

export class ClipTower {
  private textSession: InferenceSession | undefined;
  private visionSession: InferenceSession | undefined;

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

  /** exp(logit_scale) of the checkpoint: the factor PickScore multiplies the cosine by. */
  get logitScale(): number {
    return this.options.info.logit_scale;
  }

  encodePrompt(text: string): EncodedPrompt {
    const enc = this.tokenizer.encode(text, this.options.info.text.max_length || 77);
    return { ids: enc.ids, scoredText: enc.scoredText, truncated: enc.truncated, tokenCount: enc.tokenCount };
  }

  /** L2-normalised text embedding of an encoded prompt. */
  async embedText(ids: BigInt64Array): Promise<Float32Array> {
    const t = this.options.info.text;
    const session = (this.textSession ??= await createSession(join(this.options.onnxDir, t.file), this.options.session));
    try {
      const feeds = { [t.input]: new (ort().Tensor)('int64', ids, [1, ids.length]) };
      const out = await session.run(feeds);
      return l2Normalize(out[t.output].data as Float32Array);
    } finally {
      if (this.options.lowMemory) await this.releaseText();
    }
  }

  /** L2-normalised image embedding of preprocessed pixel values (NCHW, one image). */
  async embedImage(pixels: Float32Array): Promise<Float32Array> {
    const v = this.options.info.vision;
    const session = (this.visionSession ??= await createSession(join(this.options.onnxDir, v.file), this.options.session));
    try {
      const size = this.imageConfig;
      const feeds = { [v.input]: new (ort().Tensor)('float32', pixels, [1, 3, size.cropHeight, size.cropWidth]) };
      const out = await session.run(feeds);
      return l2Normalize(out[v.output].data as Float32Array);
    } finally {
      if (this.options.lowMemory) await this.releaseVision();
    }
  }

  private async releaseText(): Promise<void> {
    const s = this.textSession;
    this.textSession = undefined;
    await s?.release();
  }

  private async releaseVision(): Promise<void> {
    const s = this.visionSession;
    this.visionSession = undefined;
    await s?.release();
  }

  async dispose(): Promise<void> {
    await Promise.all([this.releaseText(), this.releaseVision()]);
  }
}
