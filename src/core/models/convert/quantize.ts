/**
 * Weight quantization as onnxruntime's quantize_dynamic does it for MatMul weights with
 * per_channel=True and QInt8: one scale per output column, symmetric (zero point 0),
 * scale = max|w| / 127, q = round-half-even(w / scale) clipped to [-127, 127].
 */
export interface QuantizedMatrix {
  /** Row-major [rows, cols] int8 values. */
  values: Int8Array;
  /** One scale per column. */
  scales: Float32Array;
}

/** Quantizes a row-major [rows, cols] matrix (the MatMul B operand, [in, out]) per column. */
export function quantizePerColumn(w: Float32Array, rows: number, cols: number): QuantizedMatrix {
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
  for (let c = 0; c < cols; c++) scales[c] = absMax[c] > 0 ? absMax[c] / 127 : 1;
  const values = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const q = roundHalfEven(w[base + c] / scales[c]);
      values[base + c] = q > 127 ? 127 : q < -127 ? -127 : q;
    }
  }
  return { values, scales };
}

/** numpy's rounding (half to even), which the reference quantizer uses. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
