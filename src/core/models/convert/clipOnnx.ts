/**
 * Converts a published Hugging Face CLIP checkpoint (config.json + model.safetensors, or sharded
 * safetensors) into two ONNX graphs, on the user's machine, without Python:
 *   outDir/text.onnx   (+ text.onnx.data)    input_ids → text_embeds
 *   outDir/vision.onnx (+ vision.onnx.data)  pixel_values → image_embeds
 *   outDir/clip.json   ClipOnnxInfo (written last; its presence means the folder is complete)
 * Everything is written into a temporary sibling folder that replaces outDir only when complete,
 * so a crash or an abort never leaves a half graph that looks valid.
 * `ensureClipOnnx` reuses a conversion whose clip.json matches the source files and converter.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ContactSheetError, isContactSheetError, throwIfAborted, toContactSheetError } from '../../../shared/errors';
import type { Precision } from '../../../shared/scores';
import { ExternalDataWriter } from '../onnx/externalDataWriter';
import { CheckpointReader } from './checkpointReader';
import { parseClipConfig, type ClipArchConfig } from './clipConfig';
import { int8WeightRange } from './quantize';
import {
  TEXT_INPUT,
  TEXT_OUTPUT,
  VISION_INPUT,
  VISION_OUTPUT,
  buildTextGraph,
  buildVisionGraph,
  textPooling,
  type TextPooling,
  type TowerBuildContext,
} from './clipGraphs';

/** Bump when the graphs change: cached conversions with another version are rebuilt. */
export const CLIP_CONVERTER_VERSION = 1;

export const CLIP_INFO_FILE = 'clip.json';

export interface ClipSourceFile {
  /** Relative to the checkpoint folder. */
  path: string;
  size: number;
  mtime_ms: number;
  sha256?: string;
}

export interface ClipOnnxInfo {
  converter_version: number;
  precision: Precision;
  /** int8: the largest weight value (127, or 64 for CPUs without VNNI); absent means 127. */
  int8_weight_range?: number;
  source_files: ClipSourceFile[];
  projection_dim: number;
  /** exp() of the checkpoint's logit_scale parameter: the factor cosines are multiplied by. */
  logit_scale: number;
  /** The checkpoint's logit_scale parameter itself (log space). */
  logit_scale_parameter: number;
  text: {
    file: string;
    input: typeof TEXT_INPUT;
    output: typeof TEXT_OUTPUT;
    eos_token_id: number;
    pooling: TextPooling;
    max_length: number;
  };
  vision: {
    file: string;
    input: typeof VISION_INPUT;
    output: typeof VISION_OUTPUT;
    image_size: number;
  };
}

export interface ConvertClipOptions {
  /** config.json + model.safetensors (or model.safetensors.index.json and its shards). */
  checkpointDir: string;
  outDir: string;
  precision: Precision;
  signal?: AbortSignal;
  onProgress?: (step: string, fraction: number) => void;
  /** Also record each source file's sha256 (reads every byte once more). */
  hashSources?: boolean;
}

export async function convertClipToOnnx(opts: ConvertClipOptions): Promise<ClipOnnxInfo> {
  throwIfAborted(opts.signal);
  const config = await readConfig(opts.checkpointDir);
  await removeAbandonedPartials(opts.outDir);
  const partial = join(dirname(opts.outDir), `.${basename(opts.outDir)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fs.mkdir(partial, { recursive: true });
  try {
    const reader = await CheckpointReader.open(opts.checkpointDir);
    let info: ClipOnnxInfo;
    try {
      info = await writeGraphs(reader, config, partial, opts);
      info.source_files = await describeSources(opts.checkpointDir, ['config.json', ...reader.sourcePaths], opts.hashSources ?? false, opts.signal);
    } finally {
      await reader.close();
    }
    throwIfAborted(opts.signal);
    await fs.writeFile(join(partial, CLIP_INFO_FILE), JSON.stringify(info, null, 2) + '\n');
    await replaceDirectory(partial, opts.outDir);
    opts.onProgress?.('done', 1);
    return info;
  } catch (e) {
    await fs.rm(partial, { recursive: true, force: true });
    throw asConversionError(e);
  }
}

/** Returns the cached conversion in cacheDir when it matches the sources, else converts. */
export async function ensureClipOnnx(
  checkpointDir: string,
  cacheDir: string,
  precision: Precision,
  opts: { signal?: AbortSignal; onProgress?: (step: string, fraction: number) => void; hashSources?: boolean } = {},
): Promise<ClipOnnxInfo> {
  const cached = await readCachedInfo(checkpointDir, cacheDir, precision);
  if (cached) return cached;
  return convertClipToOnnx({ checkpointDir, outDir: cacheDir, precision, ...opts });
}

/** The cached clip.json if it is complete and current, else undefined. */
export async function readCachedInfo(checkpointDir: string, cacheDir: string, precision: Precision): Promise<ClipOnnxInfo | undefined> {
  let info: ClipOnnxInfo;
  try {
    info = JSON.parse(await fs.readFile(join(cacheDir, CLIP_INFO_FILE), 'utf8')) as ClipOnnxInfo;
  } catch {
    return undefined;
  }
  if (info.converter_version !== CLIP_CONVERTER_VERSION || info.precision !== precision || !Array.isArray(info.source_files)) return undefined;
  // Converted for a CPU that needs another int8 weight range (a models folder shared or moved).
  if (precision === 'int8' && (info.int8_weight_range ?? 127) !== int8WeightRange()) return undefined;
  for (const f of info.source_files) {
    const st = await fs.stat(join(checkpointDir, f.path)).catch(() => undefined);
    if (!st || st.size !== f.size || Math.round(st.mtimeMs) !== f.mtime_ms) return undefined;
  }
  for (const file of [info.text?.file, info.vision?.file]) {
    if (typeof file !== 'string' || !(await fs.stat(join(cacheDir, file)).catch(() => undefined))) return undefined;
  }
  return info;
}

async function readConfig(dir: string): Promise<ClipArchConfig> {
  let text: string;
  try {
    text = await fs.readFile(join(dir, 'config.json'), 'utf8');
  } catch (e) {
    throw new ContactSheetError('model-missing', `No config.json in ${dir}.`, { cause: e, action: 'Download the model again.' });
  }
  try {
    return parseClipConfig(JSON.parse(text));
  } catch (e) {
    if (isContactSheetError(e)) throw e;
    throw new ContactSheetError('model-format', `${join(dir, 'config.json')} is not valid JSON.`, { cause: e, action: 'Download the model again.' });
  }
}

async function writeGraphs(reader: CheckpointReader, config: ClipArchConfig, dir: string, opts: ConvertClipOptions): Promise<ClipOnnxInfo> {
  const sizes = new Map(reader.names().map((n) => [n, reader.byteLength(n)]));
  const total = [...sizes.values()].reduce((a, b) => a + b, 0) || 1;
  let done = 0;
  let step = '';
  const onTensor = (name: string) => {
    done += sizes.get(name) ?? 0;
    opts.onProgress?.(step, Math.min(done / total, 0.99));
  };

  const weightRange = int8WeightRange();
  const towers = [
    { step: 'converting text tower', file: 'text.onnx', build: buildTextGraph },
    { step: 'converting vision tower', file: 'vision.onnx', build: buildVisionGraph },
  ];
  for (const tower of towers) {
    step = tower.step;
    opts.onProgress?.(step, done / total);
    const externalData = new ExternalDataWriter(join(dir, `${tower.file}.data`));
    try {
      const ctx: TowerBuildContext = { reader, config, precision: opts.precision, int8WeightRange: weightRange, externalData, signal: opts.signal, onTensor, producerVersion: String(CLIP_CONVERTER_VERSION) };
      const graph = await tower.build(ctx);
      throwIfAborted(opts.signal);
      await graph.save(join(dir, tower.file));
    } finally {
      externalData.close();
    }
  }

  const logitScaleParameter = (await reader.readFloat32('logit_scale'))[0];
  return {
    converter_version: CLIP_CONVERTER_VERSION,
    precision: opts.precision,
    ...(opts.precision === 'int8' ? { int8_weight_range: weightRange } : {}),
    source_files: [],
    projection_dim: config.projectionDim,
    logit_scale: Math.exp(logitScaleParameter),
    logit_scale_parameter: logitScaleParameter,
    text: {
      file: 'text.onnx',
      input: TEXT_INPUT,
      output: TEXT_OUTPUT,
      eos_token_id: config.text.eosTokenId,
      pooling: textPooling(config),
      max_length: config.text.maxPositionEmbeddings,
    },
    vision: { file: 'vision.onnx', input: VISION_INPUT, output: VISION_OUTPUT, image_size: config.vision.imageSize },
  };
}

async function describeSources(dir: string, paths: string[], hash: boolean, signal?: AbortSignal): Promise<ClipSourceFile[]> {
  const out: ClipSourceFile[] = [];
  for (const path of paths) {
    const st = await fs.stat(join(dir, path));
    const entry: ClipSourceFile = { path, size: st.size, mtime_ms: Math.round(st.mtimeMs) };
    if (hash) entry.sha256 = await sha256File(join(dir, path), signal);
    out.push(entry);
  }
  return out;
}

async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { signal })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Deletes temporary folders that a killed process left beside outDir (they hold GBs). Folders
 * of processes still running are theirs to finish.
 */
async function removeAbandonedPartials(outDir: string): Promise<void> {
  const parent = dirname(outDir);
  const prefix = `.${basename(outDir)}.partial-`;
  const names = await fs.readdir(parent).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) continue;
    await fs.rm(join(parent, name), { recursive: true, force: true });
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Puts `from` at `to`, moving any previous folder aside first and deleting it afterwards. */
async function replaceDirectory(from: string, to: string): Promise<void> {
  const old = `${from}.old`;
  const hadOld = await fs.rename(to, old).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw e;
    },
  );
  await fs.rename(from, to);
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
}

function asConversionError(e: unknown): ContactSheetError {
  if (isContactSheetError(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC') {
    return new ContactSheetError('disk-full', 'The disk filled up while converting the CLIP model to ONNX.', {
      cause: e,
      action: 'Free some disk space (the fp32 ViT-H/14 graphs need about 4 GB) and try again.',
    });
  }
  return toContactSheetError(e, 'internal');
}
