/**
 * Emits y = x·Wᵀ + b for a PyTorch Linear weight W [out, in], in fp32 (MatMul + Add) or in the
 * int8 form quantize_dynamic produces, which onnxruntime fuses into DynamicQuantizeMatMul:
 *   (xq, xs, xz) = DynamicQuantizeLinear(x)
 *   y = Cast<float>(MatMulInteger(xq, Wq, xz, 0)) · (xs · w_scale) + b
 * One DynamicQuantizeLinear per activation tensor, shared by the layers that read it.
 */
import type { Precision } from '../../../shared/scores';
import type { GraphBuilder, Value } from '../onnx/graphBuilder';
import { int8WeightRange, quantizePerColumn } from './quantize';

/** PyTorch [out, in] → MatMul operand [in, out]. */
export function transposeToInOut(w: Float32Array, out: number, inp: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let o = 0; o < out; o++) {
    const row = o * inp;
    for (let i = 0; i < inp; i++) t[i * out + o] = w[row + i];
  }
  return t;
}

export class LinearLayerEmitter {
  private readonly quantizedInputs = new Map<Value, [Value, Value, Value]>();

  constructor(
    private readonly g: GraphBuilder,
    readonly precision: Precision,
    /** Largest int8 weight: this CPU's by default (127, or 64 where the int8 MatMul saturates). */
    private readonly weightRange: number = int8WeightRange(),
  ) {}

  /** `weight` is PyTorch's [out, in]; `name` prefixes the initializers. */
  linear(x: Value, name: string, weight: Float32Array, out: number, inp: number, bias?: Float32Array): Value {
    const wInOut = transposeToInOut(weight, out, inp);
    let y: Value;
    if (this.precision === 'fp32') {
      y = this.g.matmul(x, this.g.initializer(`${name}.weight`, wInOut, [inp, out]));
    } else {
      const q = quantizePerColumn(wInOut, inp, out, this.weightRange);
      const [xq, xScale, xZero] = this.quantizedInput(x);
      const acc = this.g.matmulInteger(xq, this.g.initializer(`${name}.weight_quantized`, q.values, [inp, out]), xZero, this.g.initializer(`${name}.weight_zero_point`, new Int8Array(out), [out]));
      const scale = this.g.mul(xScale, this.g.initializer(`${name}.weight_scale`, q.scales, [out]));
      y = this.g.mul(this.g.cast(acc, 'float32'), scale);
    }
    return bias ? this.g.add(y, this.g.initializer(`${name}.bias`, bias, [out])) : y;
  }

  private quantizedInput(x: Value): [Value, Value, Value] {
    let q = this.quantizedInputs.get(x);
    if (!q) {
      q = this.g.dynamicQuantizeLinear(x);
      this.quantizedInputs.set(x, q);
    }
    return q;
  }
}
