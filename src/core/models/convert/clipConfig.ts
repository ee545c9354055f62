/**
 * The architecture of a Hugging Face `CLIPModel` as the converter needs it, read from the
 * checkpoint's config.json (PickScore_v1: ViT-H/14, GELU; openai/clip-vit-large-patch14: ViT-L/14,
 * QuickGELU, legacy eos_token_id 2). Missing sub-config keys take the CLIPConfig defaults.
 */
import { ContactSheetError } from '../../../shared/errors';

export type ClipActivation = 'quick_gelu' | 'gelu';

export interface ClipEncoderConfig {
  hiddenSize: number;
  intermediateSize: number;
  numAttentionHeads: number;
  numHiddenLayers: number;
  hiddenAct: ClipActivation;
  layerNormEps: number;
}

export interface ClipTextConfig extends ClipEncoderConfig {
  vocabSize: number;
  maxPositionEmbeddings: number;
  bosTokenId: number;
  /** 2 in legacy configs (pool at the argmax id), else the real EOS id (pool at its first occurrence). */
  eosTokenId: number;
}

export interface ClipVisionConfig extends ClipEncoderConfig {
  imageSize: number;
  patchSize: number;
  numChannels: number;
}

export interface ClipArchConfig {
  projectionDim: number;
  /** Initial value of the logit_scale parameter (log space); the trained value is in the weights. */
  logitScaleInitValue: number;
  text: ClipTextConfig;
  vision: ClipVisionConfig;
}

/** The `eos_token_id` older CLIP configs carry; HF then pools at the argmax token id. */
export const LEGACY_EOS_TOKEN_ID = 2;

const TEXT_DEFAULTS: ClipTextConfig = {
  vocabSize: 49408,
  hiddenSize: 512,
  intermediateSize: 2048,
  numAttentionHeads: 8,
  numHiddenLayers: 12,
  maxPositionEmbeddings: 77,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
  bosTokenId: 49406,
  eosTokenId: 49407,
};

const VISION_DEFAULTS: ClipVisionConfig = {
  hiddenSize: 768,
  intermediateSize: 3072,
  numAttentionHeads: 12,
  numHiddenLayers: 12,
  imageSize: 224,
  patchSize: 32,
  numChannels: 3,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
};

function formatError(message: string): ContactSheetError {
  return new ContactSheetError('model-format', message, { action: 'Check that config.json is the CLIP model\'s own, or download the model again.' });
}

function num(obj: Record<string, unknown>, key: string, fallback: number): number {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw formatError(`config.json: ${key} must be a number.`);
  return v;
}

function activation(obj: Record<string, unknown>, fallback: ClipActivation): ClipActivation {
  const v = obj.hidden_act ?? fallback;
  if (v === 'quick_gelu' || v === 'gelu') return v;
  throw formatError(`config.json: hidden_act "${String(v)}" is not supported (quick_gelu or gelu).`);
}

function encoder(obj: Record<string, unknown>, d: ClipEncoderConfig): ClipEncoderConfig {
  const c: ClipEncoderConfig = {
    hiddenSize: num(obj, 'hidden_size', d.hiddenSize),
    intermediateSize: num(obj, 'intermediate_size', d.intermediateSize),
    numAttentionHeads: num(obj, 'num_attention_heads', d.numAttentionHeads),
    numHiddenLayers: num(obj, 'num_hidden_layers', d.numHiddenLayers),
    hiddenAct: activation(obj, d.hiddenAct),
    layerNormEps: num(obj, 'layer_norm_eps', d.layerNormEps),
  };
  if (c.hiddenSize % c.numAttentionHeads !== 0) throw formatError(`config.json: hidden_size ${c.hiddenSize} is not divisible by ${c.numAttentionHeads} heads.`);
  return c;
}

export function parseClipConfig(json: unknown): ClipArchConfig {
  if (typeof json !== 'object' || json === null) throw formatError('config.json is not a JSON object.');
  const root = json as Record<string, unknown>;
  const archs = root.architectures;
  if (Array.isArray(archs) && !archs.includes('CLIPModel')) throw formatError(`config.json describes ${archs.join(', ')}, not a CLIPModel.`);
  const t = (root.text_config ?? {}) as Record<string, unknown>;
  const v = (root.vision_config ?? {}) as Record<string, unknown>;
  const vision: ClipVisionConfig = {
    ...encoder(v, VISION_DEFAULTS),
    imageSize: num(v, 'image_size', VISION_DEFAULTS.imageSize),
    patchSize: num(v, 'patch_size', VISION_DEFAULTS.patchSize),
    numChannels: num(v, 'num_channels', VISION_DEFAULTS.numChannels),
  };
  if (vision.imageSize % vision.patchSize !== 0) throw formatError(`config.json: image_size ${vision.imageSize} is not a multiple of patch_size ${vision.patchSize}.`);
  return {
    projectionDim: num(root, 'projection_dim', 512),
    logitScaleInitValue: num(root, 'logit_scale_init_value', 2.6592),
    text: {
      ...encoder(t, TEXT_DEFAULTS),
      vocabSize: num(t, 'vocab_size', TEXT_DEFAULTS.vocabSize),
      maxPositionEmbeddings: num(t, 'max_position_embeddings', TEXT_DEFAULTS.maxPositionEmbeddings),
      bosTokenId: num(t, 'bos_token_id', TEXT_DEFAULTS.bosTokenId),
      eosTokenId: num(t, 'eos_token_id', TEXT_DEFAULTS.eosTokenId),
    },
    vision,
  };
}

/** config.json in the published layout for an architecture (used by fixtures and benches). */
export function clipConfigJson(c: ClipArchConfig): Record<string, unknown> {
  const enc = (e: ClipEncoderConfig) => ({
    hidden_size: e.hiddenSize,
    intermediate_size: e.intermediateSize,
    num_attention_heads: e.numAttentionHeads,
    num_hidden_layers: e.numHiddenLayers,
    hidden_act: e.hiddenAct,
    layer_norm_eps: e.layerNormEps,
  });
  return {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: c.projectionDim,
    logit_scale_init_value: c.logitScaleInitValue,
    torch_dtype: 'float32',
    text_config: {
      ...enc(c.text),
      model_type: 'clip_text_model',
      vocab_size: c.text.vocabSize,
      max_position_embeddings: c.text.maxPositionEmbeddings,
      bos_token_id: c.text.bosTokenId,
      eos_token_id: c.text.eosTokenId,
      pad_token_id: 1,
      projection_dim: c.projectionDim,
    },
    vision_config: {
      ...enc(c.vision),
      model_type: 'clip_vision_model',
      image_size: c.vision.imageSize,
      patch_size: c.vision.patchSize,
      num_channels: c.vision.numChannels,
      projection_dim: c.projectionDim,
    },
  };
}
