/**
 * Random-weight scoring models at full size, in the formats the project downloads (config.json +
 * model.safetensors + tokenizer.json + preprocessor_config.json for the CLIP models, the aesthetic
 * head's torch zip, SmolVLM-shaped ONNX files for VQAScore), placed in a models folder exactly as
 * the model store leaves a download, with a manifest naming them. The production scorer then
 * converts, caches and loads them as it would the real ones: only the weights' values differ, and
 * values do not change the speed.
 *
 *   PickScore-shaped CLIP ViT-H/14 (vision 32 × 1280, text 24 × 1024) and OpenAI CLIP ViT-L/14
 *   (vision 24 × 1024, text 12 × 768), FACTS.md §3; `quick`: both ViT-B/16-sized.
 */
import { closeSync, openSync, promises as fs, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest, ManifestModel } from '../src/core/models/manifest';
import { clipConfigJson, type ClipArchConfig, type ClipEncoderConfig } from '../src/core/models/convert/clipConfig';
import { ModelStore } from '../src/core/models/store';
import { vqaPromptText } from '../src/core/scoring/vqa/chatPrompt';
import { smolVlmOnnxPath } from '../src/core/scoring/vqa/smolvlmVariant';
import { tinyAestheticTensors } from '../src/sandbox/tinyModels/makeTinyModels';
import { forEachClipTensor, SeededNormal } from '../src/sandbox/tinyModels/tinyClipCheckpoint';
import { TINY_CLIP_VOCAB_SIZE, tinyClipTokenizerJson } from '../src/sandbox/tinyModels/tinyClipTokenizer';
import { writeTorchStateDict } from '../src/sandbox/tinyModels/torchCheckpointWriter';
import { uniformFloats } from './matmulProbe';
import { writeFullSizeSmolVlm } from './vqaFullSizeModel';

/** The bench tokenizer (CLIP's format, small vocabulary) ends with BOS and EOS. */
const BOS = TINY_CLIP_VOCAB_SIZE - 2;
const EOS = TINY_CLIP_VOCAB_SIZE - 1;

const text = (hiddenSize: number, layers: number, heads: number, act: 'gelu' | 'quick_gelu', eosTokenId: number) => ({
  vocabSize: 49408,
  hiddenSize,
  intermediateSize: 4 * hiddenSize,
  numAttentionHeads: heads,
  numHiddenLayers: layers,
  maxPositionEmbeddings: 77,
  hiddenAct: act,
  layerNormEps: 1e-5,
  bosTokenId: BOS,
  eosTokenId,
});
const vision = (hiddenSize: number, layers: number, heads: number, patchSize: number, act: 'gelu' | 'quick_gelu') => ({
  hiddenSize,
  intermediateSize: 4 * hiddenSize,
  numAttentionHeads: heads,
  numHiddenLayers: layers,
  hiddenAct: act,
  layerNormEps: 1e-5,
  imageSize: 224,
  patchSize,
  numChannels: 3,
});

export type ClipModelId = 'pickscore' | 'clip';

/** PickScore pools at its EOS id; OpenAI's CLIP-L has the legacy eos_token_id 2 (argmax pooling). */
export function clipArchitectures(quick: boolean): Record<ClipModelId, ClipArchConfig> {
  if (quick) {
    return {
      pickscore: { projectionDim: 512, logitScaleInitValue: 4.6052, text: text(512, 12, 8, 'gelu', EOS), vision: vision(768, 12, 12, 16, 'gelu') },
      clip: { projectionDim: 512, logitScaleInitValue: 4.6052, text: text(512, 12, 8, 'quick_gelu', 2), vision: vision(768, 12, 12, 16, 'quick_gelu') },
    };
  }
  return {
    pickscore: { projectionDim: 1024, logitScaleInitValue: 4.6052, text: text(1024, 24, 16, 'gelu', EOS), vision: vision(1280, 32, 16, 14, 'gelu') },
    clip: { projectionDim: 768, logitScaleInitValue: 4.6052, text: text(768, 12, 12, 'quick_gelu', 2), vision: vision(1024, 24, 16, 14, 'quick_gelu') },
  };
}

// ---- FLOPs (multiply-add = 2): what a run of the towers costs at the MatMul rate --------------

function encoderFlops(c: ClipEncoderConfig, tokens: number): number {
  const d = c.hiddenSize;
  return c.numHiddenLayers * (2 * tokens * d * (4 * d + 2 * c.intermediateSize) + 2 * 2 * tokens * tokens * d);
}

export function visionFlops(a: ClipArchConfig): number {
  const v = a.vision;
  const patches = (v.imageSize / v.patchSize) ** 2;
  return 2 * patches * v.hiddenSize * v.numChannels * v.patchSize ** 2 + encoderFlops(v, patches + 1) + 2 * v.hiddenSize * a.projectionDim;
}

export function textFlops(a: ClipArchConfig, tokens: number): number {
  return encoderFlops(a.text, tokens) + 2 * a.text.hiddenSize * a.projectionDim;
}

/** PickScore + CLIP-L (the aesthetic head is one dot product): `images` images and one prompt. */
export function runFlops(archs: Record<ClipModelId, ClipArchConfig>, images: number, promptTokens: number): number {
  return (['pickscore', 'clip'] as const).reduce((sum, id) => sum + images * visionFlops(archs[id]) + textFlops(archs[id], promptTokens), 0);
}

// ---- writing ----------------------------------------------------------------------------------

/** Fills tensors with fast uniform noise of the requested std (the Box–Muller of tests is slow at 1 G values). */
class FastNoise extends SeededNormal {
  private seed: number;
  constructor(seed: number) {
    super(seed);
    this.seed = seed;
  }
  override fill(n: number, std: number, mean = 0): Float32Array {
    const a = uniformFloats(n, std * Math.sqrt(3), this.seed++);
    if (mean) for (let i = 0; i < n; i++) a[i]! += mean;
    return a;
  }
}

/** Records names and shapes only (the header pass). */
class ShapesOnly extends SeededNormal {
  override fill(): Float32Array {
    return new Float32Array(0);
  }
}

/** A safetensors file streamed tensor by tensor, so a 4 GB checkpoint never sits in memory. */
async function writeRandomClipSafetensors(path: string, arch: ClipArchConfig, seed: number): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  forEachClipTensor(arch, new ShapesOnly(0), (name, shape) => {
    const bytes = shape.reduce((a, d) => a * d, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  });
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const fd = openSync(path, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
    forEachClipTensor(arch, new FastNoise(seed), (_name, _shape, data) => {
      const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      for (let done = 0; done < buf.length; ) done += writeSync(fd, buf, done, buf.length - done);
    });
  } finally {
    closeSync(fd);
  }
}

function clipPreprocessorConfig(): Record<string, unknown> {
  return {
    crop_size: { height: 224, width: 224 },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [0.48145466, 0.4578275, 0.40821073],
    image_std: [0.26862954, 0.26130258, 0.27577711],
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: 224 },
  };
}

export interface BenchModels {
  modelsDir: string;
  manifestPath: string;
  archs: Record<ClipModelId, ClipArchConfig>;
  quick: boolean;
}

const STAMP = 'bench-models.json';
const STAMP_VERSION = 1;

function hf(repo: string): ManifestModel['source'] {
  return { type: 'huggingface', repo, revision: '0000000000000000000000000000000000000000' };
}

/**
 * Writes the models into `<dir>/models/<id>/files/` and records them as the store records a
 * download (hashed once, unverified against the hub since these weights exist nowhere else).
 * A folder prepared before with the same sizes is reused.
 */
export async function prepareBenchModels(dir: string, quick: boolean, vqaPrompts: string[], log: (line: string) => void): Promise<BenchModels> {
  const modelsDir = join(dir, 'models');
  const manifestPath = join(dir, 'manifest.json');
  const archs = clipArchitectures(quick);
  const stampPath = join(dir, STAMP);
  const stamp = await fs.readFile(stampPath, 'utf8').then((t) => JSON.parse(t) as { version: number; quick: boolean }, () => undefined);
  if (stamp && stamp.version === STAMP_VERSION && stamp.quick === quick) return { modelsDir, manifestPath, archs, quick };

  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(modelsDir, { recursive: true });
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  const clipFiles = [{ path: 'config.json' }, { path: 'model.safetensors' }, { path: 'tokenizer.json' }, { path: 'preprocessor_config.json' }];
  const size = quick ? 'ViT-B/16-sized' : 'full-size';
  const manifest: Manifest = {
    schema_version: 1,
    hub_endpoint: 'http://127.0.0.1:9',
    models: {
      pickscore: { id: 'pickscore', kind: 'clip', name: `PickScore-shaped CLIP (${size}, random weights)`, source: hf('bench/pickscore-random'), files: clipFiles, license: 'MIT' },
      clip: { id: 'clip', kind: 'clip', name: `OpenAI CLIP-shaped (${size}, random weights)`, source: hf('bench/clip-random'), files: clipFiles, license: 'MIT' },
      aesthetic: {
        id: 'aesthetic',
        kind: 'aesthetic-mlp',
        name: 'LAION aesthetic MLP-shaped (random weights)',
        source: hf('bench/aesthetic-random'),
        files: [{ path: 'aesthetic-model.pth' }],
        license: 'Apache-2.0',
        depends_on: ['clip'],
      },
      vqascore: {
        id: 'vqascore',
        kind: 'vqa-smolvlm',
        name: 'SmolVLM-256M-shaped VQAScore (random weights)',
        source: hf('bench/smolvlm-random'),
        files: [
          'config.json',
          'preprocessor_config.json',
          'processor_config.json',
          'tokenizer.json',
          ...['vision_encoder', 'decoder_model_merged'].flatMap((g) => [smolVlmOnnxPath(g as 'vision_encoder', 'int8'), `${smolVlmOnnxPath(g as 'vision_encoder', 'int8')}_data`]),
          smolVlmOnnxPath('embed_tokens', 'fp32'),
          `${smolVlmOnnxPath('embed_tokens', 'fp32')}_data`,
        ].map((path) => ({ path })),
        license: 'Apache-2.0',
        options: { variant: 'int8' },
      },
    },
  };
  for (const [seed, id] of (['pickscore', 'clip'] as const).entries()) {
    const files = join(modelsDir, id, 'files');
    await fs.mkdir(files, { recursive: true });
    const t0 = performance.now();
    await writeRandomClipSafetensors(join(files, 'model.safetensors'), archs[id], 1000 + seed);
    await fs.writeFile(join(files, 'config.json'), json(clipConfigJson(archs[id])));
    await fs.writeFile(join(files, 'tokenizer.json'), json(tinyClipTokenizerJson()));
    await fs.writeFile(join(files, 'preprocessor_config.json'), json(clipPreprocessorConfig()));
    const bytes = (await fs.stat(join(files, 'model.safetensors'))).size;
    log(`  wrote ${id}: model.safetensors ${(bytes / 1e9).toFixed(2)} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const aestheticFiles = join(modelsDir, 'aesthetic', 'files');
  await fs.mkdir(aestheticFiles, { recursive: true });
  await writeTorchStateDict(join(aestheticFiles, 'aesthetic-model.pth'), tinyAestheticTensors(archs.clip.projectionDim, 3303), { location: 'cuda:0' });
  const t0 = performance.now();
  await writeFullSizeSmolVlm(join(modelsDir, 'vqascore', 'files'), { vision: ['int8'], decoder: ['int8'] }, vqaPrompts.flatMap((p) => [vqaPromptText(p, 0), 'Assistant User']));
  log(`  wrote vqascore (SmolVLM-256M-shaped, int8 vision and decoder) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await fs.writeFile(manifestPath, json(manifest));

  // The state a download leaves: files in place, hashed and recorded by the store.
  const store = new ModelStore({ modelsDir, manifest, allowDownload: false });
  for (const id of Object.keys(manifest.models)) await store.ensure(id);
  await fs.writeFile(stampPath, json({ version: STAMP_VERSION, quick }));
  return { modelsDir, manifestPath, archs, quick };
}
