/**
 * Weight quantization as onnxruntime's quantize_dynamic does it for MatMul weights with
 * per_channel=True and QInt8: one scale per output column, symmetric (zero point 0),
 * scale = max|w| / qmax, q = round-half-even(w / scale) clipped to [-qmax, qmax]; qmax is 127, or
 * 64 with its reduce_range (7-bit weights) on x86 CPUs without VNNI (see int8WeightRange).
 */
import { cpuFeatures } from '../../cpuFeatures';

export interface QuantizedMatrix {
  /** Row-major [rows, cols] int8 values. */
  values: Int8Array;
  /** One scale per column. */
  scales: Float32Array;
}

/**
 * The largest int8 weight for this CPU. onnxruntime's uint8 × int8 MatMul on x86 without VNNI
 * (AVX2, and AVX-512 before VNNI) adds pairs of products in 16 bits (VPMADDUBSW), which saturates
 * when both weights of a pair are large: 255·127·2 > 32767. Weights up to 64 cannot saturate
 * (255·64·2 = 32640), which is why quantize_dynamic has reduce_range for such CPUs. With VNNI, and
 * on ARM (its dot-product instructions accumulate in 32 bits), the full range is kept. Measured on
 * the tiny CLIP models, AVX2 without VNNI: text cosine to fp32 0.973 at 127, ≥ 0.99 at 64.
 */
export function int8WeightRange(arch: string = process.arch, cpuFlags: readonly string[] | null = cpuFeatures().flags): 127 | 64 {
  if (arch !== 'x64' && arch !== 'ia32') return 127;
  if (cpuFlags === null) return 64;
  return cpuFlags.includes('avx512_vnni') || cpuFlags.includes('avx_vnni') ? 127 : 64;
}

/** Quantizes a row-major [rows, cols] matrix (the MatMul B operand, [in, out]) per column. */
export function quantizePerColumn(w: Float32Array, rows: number, cols: number, qmax: number = 127): QuantizedMatrix {
  const absMax = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(w[base + c]);
      if (a > absMax[c]) absMax[c] = a;
    }
  }
  const scales = new Float32Array(cols);
  // An all-zero column gets scale 1 so dequantization stays finite (its values are all 0 anyway).
  for (let c = 0; c < cols; c++) scales[c] = absMax[c] > 0 ? absMax[c] / qmax : 1;
  const values = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const q = roundHalfEven(w[base + c] / scales[c]);
      values[base + c] = q > qmax ? qmax : q < -qmax ? -qmax : q;
    }
  }
  return { values, scales };
}

/** numpy's rounding (half to even), which the reference quantizer uses. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
