/**
 * What the scorer needs from SmolVLM's published config files: the image token id, how many image
 * tokens one 512² image becomes, and the preprocessing settings.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ContactSheetError } from '../../../shared/errors';
import { idefics3ConfigFromJson, type Idefics3PreprocessConfig } from './idefics3Preprocess';

export interface SmolVlmConfig {
  imageTokenId: number | undefined;
  /** Image tokens per (unsplit) image. */
  imageSeqLen: number;
  preprocess: Idefics3PreprocessConfig;
  /** Key/value cache shape from text_config (used when the decoder graph leaves it symbolic). */
  kvHeads: number | undefined;
  headDim: number | undefined;
}

const REDOWNLOAD = 'Re-download the VQAScore model (contact-sheet models download vqascore), or turn VQAScore off.';

export async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    throw new ContactSheetError('model-missing', `VQAScore model file is missing: ${path}`, { cause: e, action: REDOWNLOAD });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Record<string, unknown>;
  } catch (e) {
    throw new ContactSheetError('model-format', `VQAScore model file is not valid JSON: ${path}`, { cause: e, action: REDOWNLOAD });
  }
}

async function readOptionalJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    await fs.access(path);
  } catch {
    return undefined;
  }
  return readJsonFile(path);
}

export async function readSmolVlmConfig(modelDir: string): Promise<SmolVlmConfig> {
  const config = await readJsonFile(join(modelDir, 'config.json'));
  const preprocessor = await readJsonFile(join(modelDir, 'preprocessor_config.json'));
  const processor = await readOptionalJson(join(modelDir, 'processor_config.json'));
  const preprocess = idefics3ConfigFromJson(preprocessor);
  const imageSeqLen = typeof processor?.image_seq_len === 'number' ? processor.image_seq_len : imageSeqLenFromConfig(config, preprocess.imageSize);
  const text = (config.text_config ?? {}) as { num_key_value_heads?: number; num_attention_heads?: number; hidden_size?: number; head_dim?: number };
  const heads = text.num_attention_heads;
  return {
    imageTokenId: typeof config.image_token_id === 'number' ? config.image_token_id : undefined,
    imageSeqLen,
    preprocess,
    kvHeads: text.num_key_value_heads ?? heads,
    headDim: text.head_dim ?? (heads && text.hidden_size ? text.hidden_size / heads : undefined),
  };
}

/** (image_size / patch_size)² patches, pixel-shuffled by scale_factor in each direction. */
function imageSeqLenFromConfig(config: Record<string, unknown>, imageSize: number): number {
  const vision = (config.vision_config ?? {}) as { patch_size?: number };
  const scale = typeof config.scale_factor === 'number' ? config.scale_factor : undefined;
  if (!vision.patch_size || !scale) {
    throw new ContactSheetError('model-format', 'config.json lacks vision_config.patch_size or scale_factor, and processor_config.json has no image_seq_len.', {
      action: REDOWNLOAD,
    });
  }
  const side = imageSize / vision.patch_size / scale;
  return side * side;
}

export const VQA_REDOWNLOAD_ACTION = REDOWNLOAD;
