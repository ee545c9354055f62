/**
 * The LAION "improved aesthetic predictor" head (sac+logos+ava1-l14-linearMSE.pth): Linear layers
 * 0, 2, 4, 6, 7 with dropouts between and no activations. Because nothing between the layers is
 * non-linear, at inference the MLP is one affine map w·x + b on the L2-normalised ViT-L/14 image
 * embedding: we fold it once at load time and keep the layered path for checking the fold.
 */
import { ContactSheetError } from '../../shared/errors';
import { readTorchStateDict, type TorchStateDict } from './torchCheckpoint';

/** Layer indices of the Linear modules inside the original `nn.Sequential`. */
export const AESTHETIC_LAYER_INDICES = [0, 2, 4, 6, 7] as const;

export interface LinearLayer {
  /** Row-major [outFeatures, inFeatures]. */
  weight: Float32Array;
  bias: Float32Array;
  inFeatures: number;
  outFeatures: number;
}

export class AestheticHead {
  /** Folded weights (length = embedding dim) and bias, in float64 for an exact-as-possible fold. */
  readonly w: Float64Array;
  readonly b: number;

  constructor(readonly layers: LinearLayer[]) {
    const folded = foldLinearLayers(layers);
    this.w = folded.w;
    this.b = folded.b;
  }

  get embeddingDim(): number {
    return this.layers[0].inFeatures;
  }

  /** Aesthetic score on the model's own ~1–10 scale, from the folded affine map. */
  score(normalizedEmbedding: Float32Array): number {
    this.checkInput(normalizedEmbedding);
    let s = this.b;
    for (let i = 0; i < this.w.length; i++) s += this.w[i] * normalizedEmbedding[i];
    return s;
  }

  /** Runs the five Linear layers one after another in float32 (the reference the fold must match). */
  layered(normalizedEmbedding: Float32Array): number {
    this.checkInput(normalizedEmbedding);
    let x = normalizedEmbedding;
    for (const layer of this.layers) {
      const y = new Float32Array(layer.outFeatures);
      for (let o = 0; o < layer.outFeatures; o++) {
        let acc = layer.bias[o];
        const row = o * layer.inFeatures;
        for (let i = 0; i < layer.inFeatures; i++) acc += layer.weight[row + i] * x[i];
        y[o] = acc;
      }
      x = y;
    }
    return x[0];
  }

  private checkInput(v: Float32Array): void {
    if (v.length !== this.embeddingDim) {
      throw new ContactSheetError('scoring-failed', `The aesthetic head expects a ${this.embeddingDim}-dim embedding, got ${v.length}.`, {
        action: 'Check that the aesthetic model is paired with the CLIP ViT-L/14 image tower.',
      });
    }
  }
}

/**
 * Composes y = W_n(…(W_1 x + b_1)…) + b_n into w·x + b by pushing a row vector back through the
 * layers: start from the last layer's single output row and multiply by each earlier weight.
 */
export function foldLinearLayers(layers: LinearLayer[]): { w: Float64Array; b: number } {
  const last = layers[layers.length - 1];
  if (last.outFeatures !== 1) throw new ContactSheetError('model-format', 'The aesthetic head must end in a single output.');
  let row = Float64Array.from(last.weight);
  let b = last.bias[0];
  for (let l = layers.length - 2; l >= 0; l--) {
    const layer = layers[l];
    if (layer.outFeatures !== row.length) throw new ContactSheetError('model-format', 'The aesthetic head layers do not chain.');
    const next = new Float64Array(layer.inFeatures);
    for (let o = 0; o < layer.outFeatures; o++) {
      const r = row[o];
      b += r * layer.bias[o];
      const base = o * layer.inFeatures;
      for (let i = 0; i < layer.inFeatures; i++) next[i] += r * layer.weight[base + i];
    }
    row = next;
  }
  return { w: row, b };
}

/** Builds the head from a state dict with keys `layers.{0,2,4,6,7}.{weight,bias}`. */
export function aestheticHeadFromStateDict(state: TorchStateDict, source = 'aesthetic checkpoint'): AestheticHead {
  const layers: LinearLayer[] = [];
  let expectedIn: number | undefined;
  for (const index of AESTHETIC_LAYER_INDICES) {
    const weight = state[`layers.${index}.weight`];
    const bias = state[`layers.${index}.bias`];
    if (!weight || !bias || weight.shape.length !== 2 || bias.shape.length !== 1 || bias.shape[0] !== weight.shape[0]) {
      throw new ContactSheetError('model-format', `${source} has no usable layers.${index} (is it the linearMSE aesthetic predictor?).`, {
        action: 'Delete the file and download the model again (`contact-sheet models pull aesthetic`).',
      });
    }
    const [outFeatures, inFeatures] = weight.shape;
    if (expectedIn !== undefined && inFeatures !== expectedIn) {
      throw new ContactSheetError('model-format', `${source}: layers.${index} takes ${inFeatures} inputs but the previous layer gives ${expectedIn}.`);
    }
    expectedIn = outFeatures;
    layers.push({ weight: weight.data, bias: bias.data, inFeatures, outFeatures });
  }
  return new AestheticHead(layers);
}

export async function loadAestheticHead(pthPath: string): Promise<AestheticHead> {
  return aestheticHeadFromStateDict(await readTorchStateDict(pthPath), pthPath);
}

/** Maps the head's ~1–10 output to 0–100 (clamped), as DESIGN.md specifies. */
export function aestheticToPercent(a: number): number {
  return Math.min(100, Math.max(0, ((a - 1) / 9) * 100));
}
