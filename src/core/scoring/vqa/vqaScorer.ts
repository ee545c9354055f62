/**
 * VQAScore on CPU with HuggingFaceTB/SmolVLM-256M-Instruct's published ONNX graphs:
 * P(" Yes") as the next token after `Does this figure show "{prompt}"? Please answer yes or no.`
 * in SmolVLM's chat prompt, from ONE forward pass (no generation):
 *   vision_encoder(pixel_values, pixel_attention_mask) → image_features [64, 576]
 *   embed_tokens(input_ids) → inputs_embeds, image features spliced in at the <image> tokens
 *   decoder_model_merged(inputs_embeds, attention_mask, position_ids, empty past) → logits
 *   softmax(logits at the last position)[id of " Yes"]  (temperature 1, as t2v_metrics)
 *
 * The answer token is " Yes" (with the leading space, one token in SmolVLM's byte-level BPE): the
 * generation prompt ends in "Assistant:" with no space, and the model answers "Assistant: Yes.",
 * so the space-prefixed token is the one it emits first; "Yes" without a space would be a glued
 * continuation it practically never produces. Sub-1B backbones have no published VQAScore
 * evaluation: every score names its backbone and precision so readers can weigh it.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ContactSheetError, throwIfAborted } from '../../../shared/errors';
import type { Logger } from '../../log';
import type { DecodedImage } from '../../imageDecode';
import { createSession, ort, type SessionSettings } from '../onnxSession';
import { REQUIRED_SPECIAL_TOKENS, IMAGE_TOKEN, vqaPromptText } from './chatPrompt';
import { floatsToHalf, halfToFloats } from '../../models/float16';
import { idefics3Preprocess, type Idefics3ResizeMode } from './idefics3Preprocess';
import { readJsonFile, readSmolVlmConfig, VQA_REDOWNLOAD_ACTION, type SmolVlmConfig } from './smolvlmConfig';
import {
  describeSmolVlmVariant,
  parseSmolVlmVariant,
  smolVlmOnnxPath,
  smolVlmRequiredFiles,
  type SmolVlmVariant,
} from './smolvlmVariant';

export { vqaQuestion } from './chatPrompt';

export const DEFAULT_VQA_MODEL_ID = 'HuggingFaceTB/SmolVLM-256M-Instruct';

/** The token whose probability is the score (see the header comment for why the space). */
export const VQA_ANSWER_TEXT = ' Yes';

export interface VqaScorerOptions {
  /** Preset ("int8" default, "q4", "fp32") or "vision=int8,embed=fp32,decoder=q4". */
  variant?: string;
  intraOpNumThreads?: number;
  executionProviders?: string[];
  /** Backbone named in outputs, e.g. "HuggingFaceTB/SmolVLM-256M-Instruct@<commit>". */
  modelId?: string;
  /** Image resize: 'fast' (sharp lanczos3, default) or 'exact' (Pillow-identical, ~10× slower). */
  resize?: Idefics3ResizeMode;
  /** Where onnxruntime's optimized graphs with pre-packed weights are kept (onnxSession.ts). */
  optimizedCacheDir?: string;
  logger?: Logger;
}

export interface VqaScore {
  /** P(" Yes"), 0–1. */
  raw: number;
  /** 100 · raw. */
  value: number;
  model: string;
}

interface DecoderLayout {
  /** Names of past_key_values.* inputs, in graph order. */
  pastNames: string[];
  kvHeads: number;
  headDim: number;
  hasUseCacheBranch: boolean;
}

interface Sessions {
  vision: InferenceSession;
  embed: InferenceSession;
  decoder: InferenceSession;
}

export class VqaScorer {
  private disposed = false;

  private constructor(
    readonly modelName: string,
    private readonly sessions: Sessions,
    private readonly tokenizer: Tokenizer,
    private readonly config: SmolVlmConfig & { imageTokenId: number },
    private readonly answerTokenId: number,
    private readonly decoderLayout: DecoderLayout,
    private readonly resize: Idefics3ResizeMode,
  ) {}

  static async load(modelDir: string, opts: VqaScorerOptions = {}): Promise<VqaScorer> {
    const variant = parseSmolVlmVariant(opts.variant);
    await assertFilesPresent(modelDir, variant);
    const config = await readSmolVlmConfig(modelDir);
    const tokenizer = await loadTokenizer(modelDir);
    const imageTokenId = config.imageTokenId ?? tokenizer.token_to_id(IMAGE_TOKEN);
    if (imageTokenId === undefined) throw formatError('config.json has no image_token_id and the tokenizer has no <image> token.');
    const answerTokenId = singleTokenId(tokenizer, VQA_ANSWER_TEXT);

    const settings: SessionSettings = {
      executionProviders: opts.executionProviders ?? ['cpu'],
      intraOpNumThreads: opts.intraOpNumThreads ?? 0,
      optimizedCacheDir: opts.optimizedCacheDir,
      logger: opts.logger,
    };
    // Probe inputs prove a cached optimized graph before it is kept (onnxSession.ts).
    const size = config.preprocess.imageSize;
    const probes: Record<SmolVlmGraph, (session: InferenceSession) => Record<string, Tensor>> = {
      vision_encoder: (session) => visionFeeds(session, Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 0.01)), new Uint8Array(size * size).fill(1), size),
      embed_tokens: () => ({ input_ids: new (ort().Tensor)('int64', BigInt64Array.from([1n, 2n, 3n, 4n]), [1, 4]) }),
      decoder_model_merged: (session) => {
        const hidden = inputWidth(session, 'inputs_embeds');
        return decoderFeeds(session, decoderLayoutOf(session, config), Float32Array.from({ length: 4 * hidden }, (_, i) => Math.sin(i) * 0.1), 4);
      },
    };
    const open = (graph: SmolVlmGraph, precision: SmolVlmVariant['vision']) =>
      openSession(join(modelDir, smolVlmOnnxPath(graph, precision)), { ...settings, probeFeeds: probes[graph] });
    // The three graphs load at once (their loads overlap); if one fails, the others are released.
    const opened = await Promise.allSettled([open('vision_encoder', variant.vision), open('embed_tokens', variant.embed), open('decoder_model_merged', variant.decoder)]);
    const failure = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) {
      await Promise.all(opened.map((o) => (o.status === 'fulfilled' ? o.value.release() : undefined)));
      throw failure.reason;
    }
    const [vision, embed, decoder] = opened.map((o) => (o as PromiseFulfilledResult<InferenceSession>).value) as [InferenceSession, InferenceSession, InferenceSession];
    const sessions = { vision, embed, decoder };
    try {
      const layout = decoderLayoutOf(decoder, config);
      const name = `${opts.modelId ?? DEFAULT_VQA_MODEL_ID} (${describeSmolVlmVariant(variant)})`;
      return new VqaScorer(name, sessions, tokenizer, { ...config, imageTokenId }, answerTokenId, layout, opts.resize ?? 'fast');
    } catch (e) {
      await Promise.all([vision.release(), embed.release(), decoder.release()]);
      throw e;
    }
  }

  /** Token ids of the full prompt (chat template with the image tokens expanded). */
  promptTokenIds(prompt: string): number[] {
    return this.tokenizer.encode(vqaPromptText(prompt, this.config.imageSeqLen)).ids;
  }

  /** Scores an image file, or pixels already decoded (then nothing is decoded again). */
  async score(image: Buffer | DecodedImage, prompt: string, signal?: AbortSignal): Promise<VqaScore> {
    if (this.disposed) throw new ContactSheetError('internal', 'VqaScorer.score called after dispose().');
    throwIfAborted(signal);
    const pixels = await idefics3Preprocess(image, this.config.preprocess, this.resize);
    throwIfAborted(signal);
    const ids = this.promptTokenIds(prompt);
    const imageFeatures = await this.encodeImage(pixels.pixelValues, pixels.pixelAttentionMask, pixels.imageSize);
    throwIfAborted(signal);
    const embeds = await this.embedWithImage(ids, imageFeatures);
    throwIfAborted(signal);
    const logits = await this.lastLogits(embeds, ids.length);
    const raw = softmaxAt(logits, this.answerTokenId);
    return { raw, value: Math.min(Math.max(100 * raw, 0), 100), model: this.modelName };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all([this.sessions.vision.release(), this.sessions.embed.release(), this.sessions.decoder.release()]);
  }

  private async encodeImage(pixelValues: Float32Array, mask: Uint8Array, size: number): Promise<{ data: Float32Array; rows: number; width: number }> {
    const session = this.sessions.vision;
    const out = await run(session, visionFeeds(session, pixelValues, mask, size), 'image_features');
    const features = floatData(out);
    const width = out.dims[out.dims.length - 1];
    const rows = features.length / width;
    if (rows !== this.config.imageSeqLen) {
      throw formatError(`The vision encoder returned ${rows} image tokens; the prompt has ${this.config.imageSeqLen}.`);
    }
    return { data: features, rows, width };
  }

  private async embedWithImage(ids: number[], image: { data: Float32Array; rows: number; width: number }): Promise<Float32Array> {
    const { Tensor } = ort();
    const inputIds = new Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, ids.length]);
    const out = await run(this.sessions.embed, { input_ids: inputIds }, 'inputs_embeds');
    const embeds = Float32Array.from(floatData(out));
    const hidden = out.dims[out.dims.length - 1];
    if (hidden !== image.width) throw formatError(`Image features are ${image.width} wide, token embeddings ${hidden}.`);
    let row = 0;
    for (let pos = 0; pos < ids.length; pos++) {
      if (ids[pos] !== this.config.imageTokenId) continue;
      if (row >= image.rows) throw formatError('The prompt has more <image> tokens than the vision encoder returned.');
      embeds.set(image.data.subarray(row * hidden, (row + 1) * hidden), pos * hidden);
      row++;
    }
    if (row !== image.rows) throw formatError(`The prompt has ${row} <image> tokens; the vision encoder returned ${image.rows}.`);
    return embeds;
  }

  private async lastLogits(embeds: Float32Array, length: number): Promise<Float32Array> {
    const session = this.sessions.decoder;
    const out = await run(session, decoderFeeds(session, this.decoderLayout, embeds, length), 'logits');
    const vocab = out.dims[out.dims.length - 1];
    const all = floatData(out);
    return all.subarray(all.length - vocab);
  }
}

type SmolVlmGraph = 'vision_encoder' | 'embed_tokens' | 'decoder_model_merged';

/** The vision encoder's inputs for one unsplit image. */
function visionFeeds(session: InferenceSession, pixelValues: Float32Array, mask: Uint8Array, size: number): Record<string, Tensor> {
  return {
    pixel_values: floatTensor(session, 'pixel_values', pixelValues, [1, 1, 3, size, size]),
    pixel_attention_mask: new (ort().Tensor)('bool', mask, [1, 1, size, size]),
  };
}

/** The decoder's inputs for one forward pass over `length` embedded tokens, with an empty cache. */
function decoderFeeds(session: InferenceSession, layout: DecoderLayout, embeds: Float32Array, length: number): Record<string, Tensor> {
  const { Tensor } = ort();
  const hidden = embeds.length / length;
  const feeds: Record<string, Tensor> = {
    inputs_embeds: floatTensor(session, 'inputs_embeds', embeds, [1, length, hidden]),
    attention_mask: new Tensor('int64', new BigInt64Array(length).fill(1n), [1, length]),
    position_ids: new Tensor('int64', BigInt64Array.from({ length }, (_, i) => BigInt(i)), [1, length]),
  };
  for (const name of layout.pastNames) {
    feeds[name] = floatTensor(session, name, new Float32Array(0), [1, layout.kvHeads, 0, layout.headDim]);
  }
  if (layout.hasUseCacheBranch) feeds.use_cache_branch = new Tensor('bool', new Uint8Array([0]), [1]);
  return feeds;
}

/** The last dimension of an input, when the graph declares it. */
function inputWidth(session: InferenceSession, name: string): number {
  const meta = session.inputMetadata.find((m) => m.name === name);
  const last = meta && meta.isTensor ? meta.shape[meta.shape.length - 1] : undefined;
  if (typeof last !== 'number') throw formatError(`the width of input "${name}" is not declared.`);
  return last;
}

/** softmax(logits)[index], computed stably in float64. */
export function softmaxAt(logits: Float32Array, index: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return Math.exp(logits[index] - max) / sum;
}

function formatError(message: string): ContactSheetError {
  return new ContactSheetError('model-format', `VQAScore model: ${message}`, { action: VQA_REDOWNLOAD_ACTION });
}

async function assertFilesPresent(modelDir: string, variant: SmolVlmVariant): Promise<void> {
  const missing: string[] = [];
  for (const file of smolVlmRequiredFiles(variant)) {
    try {
      const stat = await fs.stat(join(modelDir, file));
      if (!stat.isFile()) missing.push(file);
    } catch {
      missing.push(file);
    }
  }
  if (missing.length) {
    throw new ContactSheetError('model-missing', `VQAScore model files are missing in ${modelDir}: ${missing.join(', ')}`, {
      action: VQA_REDOWNLOAD_ACTION,
      details: { missing },
    });
  }
}

async function loadTokenizer(modelDir: string): Promise<Tokenizer> {
  const json = await readJsonFile(join(modelDir, 'tokenizer.json'));
  let config: Record<string, unknown> = {};
  try {
    config = await readJsonFile(join(modelDir, 'tokenizer_config.json'));
  } catch (e) {
    if (!(e instanceof ContactSheetError && e.code === 'model-missing')) throw e;
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (e) {
    throw new ContactSheetError('model-format', `VQAScore tokenizer.json could not be loaded: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      action: VQA_REDOWNLOAD_ACTION,
    });
  }
  const absent = REQUIRED_SPECIAL_TOKENS.filter((t) => tokenizer.token_to_id(t) === undefined);
  if (absent.length) throw formatError(`tokenizer.json lacks the special tokens ${absent.join(', ')}.`);
  return tokenizer;
}

function singleTokenId(tokenizer: Tokenizer, text: string): number {
  const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
  if (ids.length !== 1) throw formatError(`"${text}" is ${ids.length} tokens in this tokenizer; VQAScore needs it to be one.`);
  return ids[0];
}

function openSession(path: string, settings: SessionSettings): Promise<InferenceSession> {
  return createSession(path, settings, VQA_REDOWNLOAD_ACTION);
}

function decoderLayoutOf(decoder: InferenceSession, config: SmolVlmConfig): DecoderLayout {
  const pastNames = decoder.inputNames.filter((n) => n.startsWith('past_key_values.'));
  for (const required of ['inputs_embeds', 'attention_mask', 'position_ids']) {
    if (!decoder.inputNames.includes(required)) throw formatError(`the decoder has no input "${required}".`);
  }
  if (!decoder.outputNames.includes('logits')) throw formatError('the decoder has no output "logits".');
  if (!pastNames.length) throw formatError('the decoder has no past_key_values inputs.');
  const meta = decoder.inputMetadata.find((m) => m.name === pastNames[0]);
  const shape = meta && meta.isTensor ? meta.shape : [];
  const kvHeads = typeof shape[1] === 'number' ? shape[1] : config.kvHeads;
  const headDim = typeof shape[3] === 'number' ? shape[3] : config.headDim;
  if (typeof kvHeads !== 'number' || typeof headDim !== 'number') {
    throw formatError(`cannot read the key/value cache shape from ${pastNames[0]}.`);
  }
  return { pastNames, kvHeads, headDim, hasUseCacheBranch: decoder.inputNames.includes('use_cache_branch') };
}

function inputType(session: InferenceSession, name: string): string | undefined {
  const meta = session.inputMetadata.find((m) => m.name === name);
  return meta && meta.isTensor ? meta.type : undefined;
}

/** A float input in the precision the graph declares (fp16 graphs take float16). */
function floatTensor(session: InferenceSession, name: string, data: Float32Array, dims: number[]): Tensor {
  const { Tensor } = ort();
  if (inputType(session, name) === 'float16') return new Tensor('float16', floatsToHalf(data), dims);
  return new Tensor('float32', data, dims);
}

function floatData(t: Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') return halfToFloats(t.data as Uint16Array);
  throw formatError(`unexpected output type ${t.type}.`);
}

async function run(session: InferenceSession, feeds: Record<string, Tensor>, outputName: string): Promise<Tensor> {
  const name = session.outputNames.includes(outputName) ? outputName : session.outputNames[0];
  let results: InferenceSession.ReturnType;
  try {
    results = await session.run(feeds, [name]);
  } catch (e) {
    throw new ContactSheetError('scoring-failed', `VQAScore inference failed: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      action: VQA_REDOWNLOAD_ACTION,
    });
  }
  return results[name];
}
