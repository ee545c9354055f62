/**
 * The two CLIP towers of Hugging Face's CLIPModel as ONNX graphs, written with the graph builder
 * straight from the checkpoint's tensors (one tensor in memory at a time):
 *   text:   input_ids [batch, seq] (unpadded BOS…EOS) → token + position embeddings → causal
 *           pre-LN blocks → final LN → pool at EOS → text_projection → text_embeds [batch, proj]
 *   vision: pixel_values [batch, 3, S, S] → Conv patches (no bias) → [CLS; patches] + positions →
 *           pre_layrnorm → blocks → post_layernorm(CLS) → visual_projection → image_embeds
 * Embeddings are not normalised (the scorer normalises).
 */
import { throwIfAborted } from '../../../shared/errors';
import type { Precision } from '../../../shared/scores';
import { GraphBuilder, attr, type Value } from '../onnx/graphBuilder';
import type { ExternalDataWriter } from '../onnx/externalDataWriter';
import { LEGACY_EOS_TOKEN_ID, type ClipArchConfig, type ClipEncoderConfig } from './clipConfig';
import { LinearLayerEmitter } from './linearLayer';

export const TEXT_INPUT = 'input_ids';
export const TEXT_OUTPUT = 'text_embeds';
export const VISION_INPUT = 'pixel_values';
export const VISION_OUTPUT = 'image_embeds';

export type TextPooling = 'eos' | 'argmax';

/** Calls back with each tensor's share of the work so the converter can report progress. */
export type TensorProgress = (tensorName: string) => void;

/** Where tower weights come from: a CheckpointReader, or generated weights in the bench. */
export interface ClipTensorSource {
  /** The tensor as float32; throws a 'model-format' error when its shape is not `expectedShape`. */
  readFloat32(name: string, expectedShape?: number[]): Promise<Float32Array>;
}

export interface TowerBuildContext {
  reader: ClipTensorSource;
  config: ClipArchConfig;
  precision: Precision;
  /** Largest int8 weight (int8WeightRange); unused at fp32. */
  int8WeightRange: number;
  externalData: ExternalDataWriter;
  signal?: AbortSignal;
  onTensor?: TensorProgress;
  producerVersion: string;
}

export function textPooling(config: ClipArchConfig): TextPooling {
  return config.text.eosTokenId === LEGACY_EOS_TOKEN_ID ? 'argmax' : 'eos';
}

/** Shared by both towers: reads tensors with abort checks and builds pre-LN encoder blocks. */
class TowerWriter {
  readonly g: GraphBuilder;
  readonly linears: LinearLayerEmitter;

  constructor(name: string, private readonly ctx: TowerBuildContext) {
    this.g = new GraphBuilder(name, { externalData: ctx.externalData, producerVersion: ctx.producerVersion });
    this.linears = new LinearLayerEmitter(this.g, ctx.precision, ctx.int8WeightRange);
  }

  async tensor(name: string, shape: number[]): Promise<Float32Array> {
    throwIfAborted(this.ctx.signal);
    const data = await this.ctx.reader.readFloat32(name, shape);
    this.ctx.onTensor?.(name);
    return data;
  }

  async initializer(name: string, shape: number[]): Promise<Value> {
    return this.g.initializer(name, await this.tensor(name, shape), shape);
  }

  async layerNorm(x: Value, prefix: string, width: number, eps: number): Promise<Value> {
    const w = await this.initializer(`${prefix}.weight`, [width]);
    const b = await this.initializer(`${prefix}.bias`, [width]);
    return this.g.layerNorm(x, w, b, eps);
  }

  async linear(x: Value, prefix: string, out: number, inp: number, withBias = true): Promise<Value> {
    const w = await this.tensor(`${prefix}.weight`, [out, inp]);
    const b = withBias ? await this.tensor(`${prefix}.bias`, [out]) : undefined;
    return this.linears.linear(x, prefix, w, out, inp, b);
  }

  /** q, k and v as one [d, 3d] product (one GEMM, one activation quantization), then split. */
  async qkv(x: Value, prefix: string, d: number): Promise<[Value, Value, Value]> {
    const w = new Float32Array(3 * d * d);
    const b = new Float32Array(3 * d);
    const parts = ['q_proj', 'k_proj', 'v_proj'];
    for (let i = 0; i < 3; i++) {
      w.set(await this.tensor(`${prefix}.${parts[i]}.weight`, [d, d]), i * d * d);
      b.set(await this.tensor(`${prefix}.${parts[i]}.bias`, [d]), i * d);
    }
    const y = this.linears.linear(x, `${prefix}.qkv_proj`, w, 3 * d, d, b);
    const [q, k, v] = this.g.node('Split', [y, this.g.constInt64([d, d, d])], { axis: attr.int(-1) }, { outputs: 3 });
    return [q, k, v];
  }

  activation(x: Value, act: ClipEncoderConfig['hiddenAct']): Value {
    const g = this.g;
    if (act === 'quick_gelu') return g.mul(x, g.sigmoid(g.mul(x, g.constFloat([1.702], []))));
    // Exact GELU: 0.5·x·(1 + erf(x/√2)); onnxruntime fuses this pattern into Gelu.
    const inner = g.add(g.erf(g.div(x, g.constFloat([Math.SQRT2], []))), g.constFloat([1], []));
    return g.mul(g.mul(x, inner), g.constFloat([0.5], []));
  }

  /** One pre-LN transformer block: h + Attn(LN1 h), then h + MLP(LN2 h). */
  async block(h: Value, prefix: string, c: ClipEncoderConfig, mask?: Value): Promise<Value> {
    const g = this.g;
    const d = c.hiddenSize;
    const heads = c.numAttentionHeads;
    const headDim = d / heads;
    const x = await this.layerNorm(h, `${prefix}.layer_norm1`, d, c.layerNormEps);
    const [q, k, v] = await this.qkv(x, `${prefix}.self_attn`, d);
    const split = (t: Value, perm: number[]) => g.transpose(g.reshape(t, [0, 0, heads, headDim]), perm);
    const q4 = split(q, [0, 2, 1, 3]); // [b, h, s, dh]
    const kT = split(k, [0, 2, 3, 1]); // [b, h, dh, s]
    const v4 = split(v, [0, 2, 1, 3]);
    let scores = g.mul(g.matmul(q4, kT), g.constFloat([1 / Math.sqrt(headDim)], []));
    if (mask) scores = g.add(scores, mask);
    const context = g.reshape(g.transpose(g.matmul(g.softmax(scores, -1), v4), [0, 2, 1, 3]), [0, 0, d]);
    const attnOut = await this.linear(context, `${prefix}.self_attn.out_proj`, d, d);
    const h2 = g.add(h, attnOut);
    const y = await this.layerNorm(h2, `${prefix}.layer_norm2`, d, c.layerNormEps);
    const hidden = this.activation(await this.linear(y, `${prefix}.mlp.fc1`, c.intermediateSize, d), c.hiddenAct);
    return g.add(h2, await this.linear(hidden, `${prefix}.mlp.fc2`, d, c.intermediateSize));
  }

  async encoder(h: Value, prefix: string, c: ClipEncoderConfig, mask?: Value): Promise<Value> {
    for (let i = 0; i < c.numHiddenLayers; i++) h = await this.block(h, `${prefix}.encoder.layers.${i}`, c, mask);
    return h;
  }
}

export async function buildTextGraph(ctx: TowerBuildContext): Promise<GraphBuilder> {
  const c = ctx.config.text;
  const d = c.hiddenSize;
  const w = new TowerWriter('clip_text', ctx);
  const g = w.g;
  const ids = g.input(TEXT_INPUT, 'int64', ['batch', 'sequence']);
  const seqLen = g.shape(ids, 1, 2); // [1]
  const zero = g.constInt64([0]);
  const tokens = g.gather(await w.initializer('text_model.embeddings.token_embedding.weight', [c.vocabSize, d]), ids, 0);
  const positionTable = await w.initializer('text_model.embeddings.position_embedding.weight', [c.maxPositionEmbeddings, d]);
  const positions = g.slice(positionTable, zero, seqLen, zero);
  const h0 = g.add(tokens, positions);

  // Causal mask: a constant [max, max] table (0 on and below the diagonal, float32 min above, as
  // HF builds it) sliced to [seq, seq] at run time.
  const max = c.maxPositionEmbeddings;
  const table = new Float32Array(max * max);
  for (let r = 0; r < max; r++) for (let col = r + 1; col < max; col++) table[r * max + col] = -3.4028234663852886e38;
  const mask = g.slice(g.initializer('causal_mask', table, [max, max]), g.constInt64([0, 0]), g.concat([seqLen, seqLen], 0), g.constInt64([0, 1]));

  const h = await w.encoder(h0, 'text_model', c, mask);
  const final = await w.layerNorm(h, 'text_model.final_layer_norm', d, c.layerNormEps);

  // Pooling position per row: argmax of the ids (legacy eos_token_id 2) or the first position
  // holding eos_token_id (ArgMax returns the first maximum).
  const idsInt32 = g.cast(ids, 'int32');
  const eosPosition =
    textPooling(ctx.config) === 'argmax'
      ? g.argmax(idsInt32, 1)
      : g.argmax(g.cast(g.equal(ids, g.constInt64([c.eosTokenId], [])), 'int32'), 1);
  const pooled = g.gatherND(final, g.unsqueeze(eosPosition, [1]), 1); // [batch, d]
  const embeds = await w.linear(pooled, 'text_projection', ctx.config.projectionDim, d, false);
  g.output(embeds, TEXT_OUTPUT, 'float32', ['batch', ctx.config.projectionDim]);
  return g;
}

export async function buildVisionGraph(ctx: TowerBuildContext): Promise<GraphBuilder> {
  const c = ctx.config.vision;
  const d = c.hiddenSize;
  const p = c.patchSize;
  const patches = (c.imageSize / p) ** 2;
  const w = new TowerWriter('clip_vision', ctx);
  const g = w.g;
  const pixels = g.input(VISION_INPUT, 'float32', ['batch', c.numChannels, c.imageSize, c.imageSize]);
  const classEmbedding = await w.tensor('vision_model.embeddings.class_embedding', [d]);
  const patchWeight = await w.initializer('vision_model.embeddings.patch_embedding.weight', [d, c.numChannels, p, p]);
  const grid = g.conv(pixels, patchWeight, { strides: [p, p] }); // [b, d, g, g]
  const tokens = g.transpose(g.reshape(grid, [0, 0, -1]), [0, 2, 1]); // [b, patches, d]
  // Prepending CLS = a zero row in front, plus (class embedding folded into position row 0).
  const withSlot = g.pad(tokens, [0, 1, 0, 0, 0, 0]);
  const positions = await w.tensor('vision_model.embeddings.position_embedding.weight', [patches + 1, d]);
  for (let i = 0; i < d; i++) positions[i] += classEmbedding[i];
  const h0 = g.add(withSlot, g.initializer('vision_model.embeddings.class_and_position_embedding', positions, [patches + 1, d]));
  const pre = await w.layerNorm(h0, 'vision_model.pre_layrnorm', d, c.layerNormEps);
  const h = await w.encoder(pre, 'vision_model', c);
  const cls = g.gather(h, g.constInt64([0], []), 1); // [b, d]
  const post = await w.layerNorm(cls, 'vision_model.post_layernorm', d, c.layerNormEps);
  const embeds = await w.linear(post, 'visual_projection', ctx.config.projectionDim, d, false);
  g.output(embeds, VISION_OUTPUT, 'float32', ['batch', ctx.config.projectionDim]);
  return g;
}
