/**
 * Which of SmolVLM's published ONNX precisions to load for each of the three graphs, and the
 * file names they have in the hub repository (onnx/<graph>[_<precision>].onnx, fp32 unsuffixed).
 */
import { ContactSheetError } from '../../../shared/errors';

export const SMOLVLM_PRECISIONS = ['fp32', 'fp16', 'int8', 'uint8', 'quantized', 'q4', 'q4f16', 'bnb4'] as const;
export type SmolVlmPrecision = (typeof SMOLVLM_PRECISIONS)[number];

export interface SmolVlmVariant {
  vision: SmolVlmPrecision;
  embed: SmolVlmPrecision;
  decoder: SmolVlmPrecision;
}

/**
 * Presets. The default is int8 for the vision encoder and decoder: dynamic int8 quantization
 * (MatMulInteger) runs about 2–3× faster than fp32 on CPUs with VNNI, while 4-bit MatMulNBits
 * was slower than int8 here (FACTS §1), and fp16 kernels are cast back to fp32 on CPU. The token
 * embedding is a lookup, so its fp32 file costs no time.
 */
export const SMOLVLM_VARIANT_PRESETS: Record<string, SmolVlmVariant> = {
  int8: { vision: 'int8', embed: 'fp32', decoder: 'int8' },
  q4: { vision: 'int8', embed: 'fp32', decoder: 'q4' },
  fp32: { vision: 'fp32', embed: 'fp32', decoder: 'fp32' },
};

export const DEFAULT_SMOLVLM_VARIANT = 'int8';

/** Parses a preset name or an explicit "vision=int8,embed=fp32,decoder=q4" (missing parts: int8 preset). */
export function parseSmolVlmVariant(variant: string | undefined): SmolVlmVariant {
  const text = (variant ?? DEFAULT_SMOLVLM_VARIANT).trim();
  const preset = SMOLVLM_VARIANT_PRESETS[text];
  if (preset) return { ...preset };
  const out: SmolVlmVariant = { ...SMOLVLM_VARIANT_PRESETS[DEFAULT_SMOLVLM_VARIANT] };
  for (const part of text.split(',')) {
    const [key, value] = part.split('=').map((s) => s.trim());
    if ((key === 'vision' || key === 'embed' || key === 'decoder') && isPrecision(value)) {
      out[key] = value;
    } else {
      throw new ContactSheetError('bad-usage', `Unknown VQAScore model variant "${text}".`, {
        action: `Use one of ${Object.keys(SMOLVLM_VARIANT_PRESETS).join(', ')} or e.g. "vision=int8,decoder=q4" (precisions: ${SMOLVLM_PRECISIONS.join(', ')}).`,
      });
    }
  }
  return out;
}

function isPrecision(v: string | undefined): v is SmolVlmPrecision {
  return (SMOLVLM_PRECISIONS as readonly string[]).includes(v ?? '');
}

export function smolVlmOnnxPath(graph: 'vision_encoder' | 'embed_tokens' | 'decoder_model_merged', precision: SmolVlmPrecision): string {
  return `onnx/${graph}${precision === 'fp32' ? '' : `_${precision}`}.onnx`;
}

/** Every file the scorer reads for a variant, relative to the model folder. */
export function smolVlmRequiredFiles(variant: SmolVlmVariant): string[] {
  return [
    'config.json',
    'preprocessor_config.json',
    'tokenizer.json',
    smolVlmOnnxPath('vision_encoder', variant.vision),
    smolVlmOnnxPath('embed_tokens', variant.embed),
    smolVlmOnnxPath('decoder_model_merged', variant.decoder),
  ];
}

/** Read when present (image_seq_len, tokenizer settings); not needed to score. */
export const SMOLVLM_OPTIONAL_FILES: readonly string[] = ['processor_config.json', 'tokenizer_config.json'];

/** "vision int8, decoder int8" (the embedding is named only when it is not fp32). */
export function describeSmolVlmVariant(v: SmolVlmVariant): string {
  return `vision ${v.vision}, ${v.embed === 'fp32' ? '' : `embed ${v.embed}, `}decoder ${v.decoder}`;
}
