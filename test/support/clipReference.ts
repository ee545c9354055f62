/**
 * An independent forward pass of Hugging Face's CLIPModel in plain TypeScript (float64), written
 * from the model's equations, not from the ONNX graph builder. Tests compare converted graphs to
 * it. Slow by design (plain loops): use it on tiny models only.
 */
import { fromHalfBits, toHalfBits } from '../../src/core/models/float16';
import type { TensorToWrite } from '../../src/core/models/safetensors';
import type { ClipArchConfig, ClipEncoderConfig } from '../../src/core/models/convert/clipConfig';

type Weights = Record<string, TensorToWrite>;

/** A [rows, cols] float64 matrix, row-major. */
interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** The tensor's values as stored (fp16 tensors rounded through half precision). */
function values(w: Weights, name: string): Float64Array {
  const t = w[name];
  if (!t) throw new Error(`reference: missing tensor ${name}`);
  const out = Float64Array.from(t.data);
  if (t.dtype === 'F16') for (let i = 0; i < out.length; i++) out[i] = fromHalfBits(toHalfBits(out[i]));
  return out;
}

/** y = x · Wᵀ + b with PyTorch's W [out, in]. */
function linear(x: Matrix, w: Weights, prefix: string, bias = true): Matrix {
  const W = values(w, `${prefix}.weight`);
  const out = W.length / x.cols;
  const b = bias ? values(w, `${prefix}.bias`) : new Float64Array(out);
  const y = new Float64Array(x.rows * out);
  for (let r = 0; r < x.rows; r++)
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let i = 0; i < x.cols; i++) s += x.data[r * x.cols + i] * W[o * x.cols + i];
      y[r * out + o] = s;
    }
  return { rows: x.rows, cols: out, data: y };
}

function layerNorm(x: Matrix, w: Weights, prefix: string, eps: number): Matrix {
  const g = values(w, `${prefix}.weight`);
  const b = values(w, `${prefix}.bias`);
  const y = new Float64Array(x.data.length);
  for (let r = 0; r < x.rows; r++) {
    let mean = 0;
    for (let i = 0; i < x.cols; i++) mean += x.data[r * x.cols + i];
    mean /= x.cols;
    let variance = 0;
    for (let i = 0; i < x.cols; i++) variance += (x.data[r * x.cols + i] - mean) ** 2;
    variance /= x.cols;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < x.cols; i++) y[r * x.cols + i] = (x.data[r * x.cols + i] - mean) * inv * g[i] + b[i];
  }
  return { rows: x.rows, cols: x.cols, data: y };
}

/** erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, far below the test tolerance). */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

function activate(x: Matrix, act: ClipEncoderConfig['hiddenAct']): Matrix {
  const f = act === 'quick_gelu' ? (v: number) => v / (1 + Math.exp(-1.702 * v)) : (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
  return { rows: x.rows, cols: x.cols, data: x.data.map(f) };
}

function add(a: Matrix, b: Matrix): Matrix {
  return { rows: a.rows, cols: a.cols, data: a.data.map((v, i) => v + b.data[i]) };
}

/** Multi-head self-attention; `causal` hides later positions. */
function selfAttention(x: Matrix, w: Weights, prefix: string, heads: number, causal: boolean): Matrix {
  const q = linear(x, w, `${prefix}.q_proj`);
  const k = linear(x, w, `${prefix}.k_proj`);
  const v = linear(x, w, `${prefix}.v_proj`);
  const n = x.rows;
  const d = x.cols;
  const dh = d / heads;
  const scale = 1 / Math.sqrt(dh);
  const ctx = new Float64Array(n * d);
  const p = new Float64Array(n);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < n; i++) {
      const last = causal ? i : n - 1;
      let max = -Infinity;
      for (let j = 0; j <= last; j++) {
        let s = 0;
        for (let e = 0; e < dh; e++) s += q.data[i * d + h * dh + e] * k.data[j * d + h * dh + e];
        p[j] = s * scale;
        if (p[j] > max) max = p[j];
      }
      let z = 0;
      for (let j = 0; j <= last; j++) z += p[j] = Math.exp(p[j] - max);
      for (let e = 0; e < dh; e++) {
        let s = 0;
        for (let j = 0; j <= last; j++) s += p[j] * v.data[j * d + h * dh + e];
        ctx[i * d + h * dh + e] = s / z;
      }
    }
  return linear({ rows: n, cols: d, data: ctx }, w, `${prefix}.out_proj`);
}

function encoder(x: Matrix, w: Weights, prefix: string, c: ClipEncoderConfig, causal: boolean): Matrix {
  let h = x;
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = `${prefix}.encoder.layers.${l}`;
    h = add(h, selfAttention(layerNorm(h, w, `${p}.layer_norm1`, c.layerNormEps), w, `${p}.self_attn`, c.numAttentionHeads, causal));
    const mlp = linear(activate(linear(layerNorm(h, w, `${p}.layer_norm2`, c.layerNormEps), w, `${p}.mlp.fc1`), c.hiddenAct), w, `${p}.mlp.fc2`);
    h = add(h, mlp);
  }
  return h;
}

function row(x: Matrix, r: number): Matrix {
  return { rows: 1, cols: x.cols, data: x.data.slice(r * x.cols, (r + 1) * x.cols) };
}

/** text_embeds (not normalised) of one unpadded id sequence. */
export function referenceTextEmbeds(w: Weights, config: ClipArchConfig, ids: number[]): Float64Array {
  const c = config.text;
  const d = c.hiddenSize;
  const tok = values(w, 'text_model.embeddings.token_embedding.weight');
  const pos = values(w, 'text_model.embeddings.position_embedding.weight');
  const x = new Float64Array(ids.length * d);
  ids.forEach((id, i) => {
    for (let e = 0; e < d; e++) x[i * d + e] = tok[id * d + e] + pos[i * d + e];
  });
  const h = layerNorm(encoder({ rows: ids.length, cols: d, data: x }, w, 'text_model', c, true), w, 'text_model.final_layer_norm', c.layerNormEps);
  // HF: legacy eos_token_id 2 pools at the highest id, otherwise at the first EOS.
  const at = c.eosTokenId === 2 ? ids.indexOf(Math.max(...ids)) : Math.max(ids.indexOf(c.eosTokenId), 0);
  return linear(row(h, at), w, 'text_projection', false).data;
}

/** image_embeds (not normalised) of one image given as CHW float32 pixel values. */
export function referenceImageEmbeds(w: Weights, config: ClipArchConfig, pixels: Float32Array): Float64Array {
  const c = config.vision;
  const d = c.hiddenSize;
  const P = c.patchSize;
  const S = c.imageSize;
  const grid = S / P;
  const n = grid * grid + 1;
  const kernel = values(w, 'vision_model.embeddings.patch_embedding.weight'); // [d, ch, P, P]
  const cls = values(w, 'vision_model.embeddings.class_embedding');
  const pos = values(w, 'vision_model.embeddings.position_embedding.weight');
  const x = new Float64Array(n * d);
  for (let e = 0; e < d; e++) x[e] = cls[e] + pos[e];
  for (let gy = 0; gy < grid; gy++)
    for (let gx = 0; gx < grid; gx++) {
      const t = 1 + gy * grid + gx;
      for (let e = 0; e < d; e++) {
        let s = 0;
        for (let ch = 0; ch < c.numChannels; ch++)
          for (let ky = 0; ky < P; ky++)
            for (let kx = 0; kx < P; kx++)
              s += kernel[((e * c.numChannels + ch) * P + ky) * P + kx] * pixels[(ch * S + gy * P + ky) * S + gx * P + kx];
        x[t * d + e] = s + pos[t * d + e];
      }
    }
  const pre = layerNorm({ rows: n, cols: d, data: x }, w, 'vision_model.pre_layrnorm', c.layerNormEps);
  const h = encoder(pre, w, 'vision_model', c, false);
  const pooled = layerNorm(row(h, 0), w, 'vision_model.post_layernorm', c.layerNormEps);
  return linear(pooled, w, 'visual_projection', false).data;
}
