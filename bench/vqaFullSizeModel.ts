/**
 * Full-size random-weight stand-ins for HuggingFaceTB/SmolVLM-256M-Instruct's published ONNX
 * graphs, with the same file names and I/O so the production VqaScorer loads them unchanged:
 *   vision_encoder: SigLIP-base shape (12 layers, width 768, 12 heads, MLP 3072, patch 16 on
 *     512² → 1024 patches), post-LayerNorm, pixel shuffle ×4 → 64 tokens × 12288 → 576 connector
 *   embed_tokens: Gather [49280, 576]
 *   decoder_model_merged: SmolLM2-135M shape (30 layers, width 576, 9 query heads sharing 3 key/
 *     value heads of 64, SwiGLU MLP 1536), LM head 576 → 49280 on every position (as the
 *     published graph returns logits for all positions), present.* outputs
 * Stand-ins where cost is negligible: LayerNorm for RMSNorm, no rotary embedding (position_ids is
 * an input the graph does not read). Linear layers are fp32 MatMul, int8 dynamic quantization
 * (the project's LinearLayerEmitter, as quantize_dynamic emits), or 4-bit MatMulNBits (block 32,
 * as the published *_q4 files).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { LinearLayerEmitter } from '../src/core/models/convert/linearLayer';
import { ExternalDataWriter } from '../src/core/models/onnx/externalDataWriter';
import { GraphBuilder, MS_DOMAIN, attr, type Value } from '../src/core/models/onnx/graphBuilder';
import type { SmolVlmPrecision } from '../src/core/scoring/vqa/smolvlmVariant';
import { smolVlmOnnxPath } from '../src/core/scoring/vqa/smolvlmVariant';
import { TINY_VQA_IMAGE_TOKEN_ID, tinyVqaTokenizerJson } from '../src/sandbox/tinyModels/tinyVqa';

export const SMOLVLM_256M = {
  imageSize: 512,
  patch: 16,
  visionWidth: 768,
  visionHeads: 12,
  visionMlp: 3072,
  visionLayers: 12,
  shuffle: 4,
  hidden: 576,
  heads: 9,
  kvHeads: 3,
  headDim: 64,
  mlp: 1536,
  layers: 30,
  vocab: 49280,
} as const;

export type BenchPrecision = Extract<SmolVlmPrecision, 'fp32' | 'int8' | 'q4'>;

/** FLOPs (multiply-add = 2) of one image through the vision encoder. */
export function visionFlops(): number {
  const m = SMOLVLM_256M;
  const patches = (m.imageSize / m.patch) ** 2;
  const d = m.visionWidth;
  const perLayer = 2 * patches * (4 * d * d + 2 * d * m.visionMlp) + 2 * 2 * patches * patches * d;
  const tokens = patches / m.shuffle ** 2;
  return 2 * patches * d * 3 * m.patch ** 2 + m.visionLayers * perLayer + 2 * tokens * d * m.shuffle ** 2 * m.hidden;
}

/** FLOPs of one prompt of `tokens` through the decoder, LM head on every position included. */
export function decoderFlops(tokens: number): number {
  const m = SMOLVLM_256M;
  const kv = m.kvHeads * m.headDim;
  const perToken = 2 * (2 * m.hidden * m.hidden + 2 * m.hidden * kv + 3 * m.hidden * m.mlp);
  const attention = 2 * 2 * tokens * tokens * m.hidden;
  return m.layers * (tokens * perToken + attention) + tokens * 2 * m.hidden * m.vocab;
}

/** Fast deterministic uniform(-scale, scale) fill. */
function randomFloats(n: number, scale: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}

interface Linear {
  linear(x: Value, name: string, out: number, inp: number, bias?: boolean): Value;
}

let seedCounter = 1;

function linearEmitter(g: GraphBuilder, precision: BenchPrecision): Linear {
  if (precision === 'q4') return new Q4Linear(g);
  const emitter = new LinearLayerEmitter(g, precision);
  return {
    linear: (x, name, out, inp, bias) =>
      emitter.linear(x, name, randomFloats(out * inp, 1 / Math.sqrt(inp), seedCounter++), out, inp, bias ? randomFloats(out, 0.02, seedCounter++) : undefined),
  };
}

/** MatMulNBits (com.microsoft), 4 bits, block 32, default zero point 8, like the published q4. */
class Q4Linear implements Linear {
  constructor(private readonly g: GraphBuilder) {}
  linear(x: Value, name: string, out: number, inp: number, bias?: boolean): Value {
    const block = 32;
    const blocks = inp / block;
    const packed = new Uint8Array(out * blocks * (block / 2));
    const noise = randomFloats(packed.length, 1, seedCounter++);
    for (let i = 0; i < packed.length; i++) packed[i] = Math.floor((noise[i] + 1) * 127.99);
    const scales = randomFloats(out * blocks, 0.01, seedCounter++).map((v) => Math.abs(v) + 0.001);
    const [y] = this.g.node(
      'MatMulNBits',
      [x, this.g.initializer(`${name}.qweight`, packed, [out, blocks, block / 2]), this.g.initializer(`${name}.scales`, scales, [out * blocks])],
      { K: attr.int(inp), N: attr.int(out), bits: attr.int(4), block_size: attr.int(block) },
      { domain: MS_DOMAIN },
    );
    return bias ? this.g.add(y, this.g.initializer(`${name}.bias`, randomFloats(out, 0.02, seedCounter++), [out])) : y;
  }
}

function layerNorm(g: GraphBuilder, x: Value, name: string, width: number): Value {
  return g.layerNorm(x, g.initializer(`${name}.weight`, new Float32Array(width).fill(1), [width]), g.initializer(`${name}.bias`, new Float32Array(width), [width]), 1e-6);
}

async function saveWithExternalData(dir: string, relPath: string, build: (g: GraphBuilder) => void): Promise<void> {
  const path = join(dir, relPath);
  const g = new GraphBuilder(relPath, { externalData: new ExternalDataWriter(`${path}_data`) });
  build(g);
  await g.save(path);
}

function buildVision(g: GraphBuilder, precision: BenchPrecision): void {
  const m = SMOLVLM_256M;
  const lin = linearEmitter(g, precision);
  const side = m.imageSize / m.patch;
  const patches = side * side;
  const d = m.visionWidth;
  const hd = d / m.visionHeads;
  const pixels = g.input('pixel_values', 'float32', ['batch_size', 'num_images', 3, 'height', 'width']);
  const mask = g.input('pixel_attention_mask', 'bool', ['batch_size', 'num_images', 'height', 'width']);
  const masked = g.mul(g.reshape(pixels, [-1, 3, m.imageSize, m.imageSize]), g.reshape(g.cast(mask, 'float32'), [-1, 1, m.imageSize, m.imageSize]));
  const conv = g.conv(masked, g.initializer('patch.weight', randomFloats(d * 3 * m.patch * m.patch, 0.02, seedCounter++), [d, 3, m.patch, m.patch]), {
    strides: [m.patch, m.patch],
    bias: g.initializer('patch.bias', new Float32Array(d), [d]),
  });
  let x = g.add(g.transpose(g.reshape(conv, [0, d, patches]), [0, 2, 1]), g.initializer('pos', randomFloats(patches * d, 0.02, seedCounter++), [patches, d]));
  const heads = (v: Value) => g.transpose(g.reshape(v, [0, 0, m.visionHeads, hd]), [0, 2, 1, 3]);
  const scale = g.constFloat([1 / Math.sqrt(hd)], []);
  for (let l = 0; l < m.visionLayers; l++) {
    const h = layerNorm(g, x, `v${l}.ln1`, d);
    const q = heads(lin.linear(h, `v${l}.q`, d, d, true));
    const k = heads(lin.linear(h, `v${l}.k`, d, d, true));
    const v = heads(lin.linear(h, `v${l}.v`, d, d, true));
    const p = g.softmax(g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), scale), -1);
    x = g.add(x, lin.linear(g.reshape(g.transpose(g.matmul(p, v), [0, 2, 1, 3]), [0, 0, d]), `v${l}.o`, d, d, true));
    const h2 = layerNorm(g, x, `v${l}.ln2`, d);
    const up = lin.linear(h2, `v${l}.fc1`, m.visionMlp, d, true);
    const gelu = g.mul(g.mul(up, g.constFloat([0.5], [])), g.add(g.erf(g.mul(up, g.constFloat([Math.SQRT1_2], []))), g.constFloat([1], [])));
    x = g.add(x, lin.linear(gelu, `v${l}.fc2`, d, m.visionMlp, true));
  }
  x = layerNorm(g, x, 'v.post_ln', d);
  const s = m.shuffle;
  const shuffled = g.reshape(g.transpose(g.reshape(x, [-1, side / s, s, side / s, s, d]), [0, 1, 3, 2, 4, 5]), [-1, patches / (s * s), d * s * s]);
  const features = lin.linear(shuffled, 'connector', m.hidden, d * s * s);
  g.output(g.reshape(features, [-1, m.hidden]), 'image_features', 'float32', ['num_image_tokens', m.hidden]);
}

function buildEmbed(g: GraphBuilder): void {
  const m = SMOLVLM_256M;
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const table = g.initializer('embed_tokens.weight', randomFloats(m.vocab * m.hidden, 0.5, seedCounter++), [m.vocab, m.hidden]);
  g.output(g.gather(table, ids), 'inputs_embeds', 'float32', ['batch_size', 'sequence_length', m.hidden]);
}

function buildDecoder(g: GraphBuilder, precision: BenchPrecision): void {
  const m = SMOLVLM_256M;
  const lin = linearEmitter(g, precision);
  const group = m.heads / m.kvHeads;
  const kvWidth = m.kvHeads * m.headDim;
  const embeds = g.input('inputs_embeds', 'float32', ['batch_size', 'sequence_length', m.hidden]);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const past: { key: Value; value: Value }[] = [];
  const pastShape = ['batch_size', m.kvHeads, 'past_sequence_length', m.headDim];
  for (let l = 0; l < m.layers; l++) {
    past.push({ key: g.input(`past_key_values.${l}.key`, 'float32', pastShape), value: g.input(`past_key_values.${l}.value`, 'float32', pastShape) });
  }
  const scalar = (v: Value) => g.squeeze(v, [0]);
  const pastLen = scalar(g.shape(past[0].key, 2, 3));
  const totalLen = g.add(pastLen, scalar(g.shape(embeds, 1, 2)));
  const one = g.constInt64([1], []);
  const rows = g.unsqueeze(g.op('Range', [pastLen, totalLen, one]), [1]);
  const cols = g.unsqueeze(g.op('Range', [g.constInt64([0], []), totalLen, one]), [0]);
  const allowed = g.op('And', [g.op('LessOrEqual', [cols, rows]), g.unsqueeze(g.cast(attentionMask, 'bool'), [1, 2, 3])]);
  const blocked = g.constFloat([-1e4], []);
  const scale = g.constFloat([1 / Math.sqrt(m.headDim)], []);
  const presentShape = ['batch_size', m.kvHeads, 'total_sequence_length', m.headDim];
  let x = embeds;
  for (let l = 0; l < m.layers; l++) {
    const h = layerNorm(g, x, `d${l}.ln1`, m.hidden);
    // Grouped-query attention: q [b, kv, group, s, hd] against k/v [b, kv, 1, t, hd].
    const q = g.transpose(g.reshape(lin.linear(h, `d${l}.q`, m.hidden, m.hidden), [0, 0, m.kvHeads, group, m.headDim]), [0, 2, 3, 1, 4]);
    const kvHeads = (v: Value) => g.transpose(g.reshape(v, [0, 0, m.kvHeads, m.headDim]), [0, 2, 1, 3]);
    const keys = g.concat([past[l].key, kvHeads(lin.linear(h, `d${l}.k`, kvWidth, m.hidden))], 2);
    const values = g.concat([past[l].value, kvHeads(lin.linear(h, `d${l}.v`, kvWidth, m.hidden))], 2);
    g.output(keys, `present.${l}.key`, 'float32', presentShape);
    g.output(values, `present.${l}.value`, 'float32', presentShape);
    const scores = g.mul(g.matmul(q, g.transpose(g.unsqueeze(keys, [2]), [0, 1, 2, 4, 3])), scale);
    const p = g.softmax(g.op('Where', [allowed, scores, blocked]), -1);
    const context = g.reshape(g.transpose(g.matmul(p, g.unsqueeze(values, [2])), [0, 3, 1, 2, 4]), [0, 0, m.hidden]);
    x = g.add(x, lin.linear(context, `d${l}.o`, m.hidden, m.hidden));
    const h2 = layerNorm(g, x, `d${l}.ln2`, m.hidden);
    const gate = lin.linear(h2, `d${l}.gate`, m.mlp, m.hidden);
    const up = lin.linear(h2, `d${l}.up`, m.mlp, m.hidden);
    x = g.add(x, lin.linear(g.mul(g.mul(gate, g.sigmoid(gate)), up), `d${l}.down`, m.hidden, m.mlp));
  }
  const logits = lin.linear(layerNorm(g, x, 'd.norm', m.hidden), 'lm_head', m.vocab, m.hidden);
  g.output(logits, 'logits', 'float32', ['batch_size', 'sequence_length', m.vocab]);
}

/**
 * The tiny byte-level tokenizer plus merges that make each word of `texts` one token, so a prompt
 * has about as many tokens as with SmolVLM's real 49k BPE (which has all common words).
 */
export function benchTokenizerJson(texts: string[]): Record<string, unknown> {
  const json = tinyVqaTokenizerJson() as { model: { vocab: Record<string, number>; merges: string[] }; added_tokens: { id: number }[] };
  const { vocab, merges } = json.model;
  let next = Math.max(...Object.values(vocab), ...json.added_tokens.map((t) => t.id)) + 1;
  const byteChar = (ch: string) => (ch === ' ' ? 'Ġ' : ch);
  for (const text of texts) {
    for (const word of text.match(/ ?[A-Za-z]+/g) ?? []) {
      const chars = [...word].map(byteChar);
      let token = chars[0];
      for (const ch of chars.slice(1)) {
        const merged = token + ch;
        if (vocab[merged] === undefined) {
          merges.push(`${token} ${ch}`);
          vocab[merged] = next++;
        }
        token = merged;
      }
    }
  }
  return json;
}

/**
 * Writes a model folder the scorer loads: config files, a byte-level tokenizer with the special
 * tokens, " Yes" and one token per word of `promptTexts`, and the graphs for every precision asked.
 */
export async function writeFullSizeSmolVlm(
  dir: string,
  precisions: { vision: BenchPrecision[]; decoder: BenchPrecision[] },
  promptTexts: string[],
): Promise<void> {
  const m = SMOLVLM_256M;
  await fs.mkdir(join(dir, 'onnx'), { recursive: true });
  const json = (v: unknown) => JSON.stringify(v, null, 2);
  await fs.writeFile(
    join(dir, 'config.json'),
    json({
      image_token_id: TINY_VQA_IMAGE_TOKEN_ID,
      scale_factor: m.shuffle,
      vision_config: { image_size: m.imageSize, patch_size: m.patch, hidden_size: m.visionWidth },
      text_config: { hidden_size: m.hidden, num_attention_heads: m.heads, num_key_value_heads: m.kvHeads, head_dim: m.headDim, num_hidden_layers: m.layers, vocab_size: m.vocab },
    }),
  );
  await fs.writeFile(
    join(dir, 'preprocessor_config.json'),
    json({ image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], max_image_size: { longest_edge: 512 }, resample: 1, rescale_factor: 1 / 255, size: { longest_edge: 2048 } }),
  );
  await fs.writeFile(join(dir, 'processor_config.json'), json({ image_seq_len: 64 }));
  await fs.writeFile(join(dir, 'tokenizer.json'), json(benchTokenizerJson(promptTexts)));
  await saveWithExternalData(dir, smolVlmOnnxPath('embed_tokens', 'fp32'), buildEmbed);
  for (const p of precisions.vision) await saveWithExternalData(dir, smolVlmOnnxPath('vision_encoder', p), (g) => buildVision(g, p));
  for (const p of precisions.decoder) await saveWithExternalData(dir, smolVlmOnnxPath('decoder_model_merged', p), (g) => buildDecoder(g, p));
}
