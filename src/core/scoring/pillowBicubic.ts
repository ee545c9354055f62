/**
 * Pillow's `Image.resize(size, BICUBIC)` for 8-bit RGB, reproduced to the bit (Pillow's
 * libImaging/Resample.c describes the algorithm; this is an independent implementation of it):
 * separable, horizontal pass first into an 8-bit intermediate, then vertical; cubic kernel with
 * a = -0.5 whose support grows with the shrink factor; per-pixel weights normalised to sum 1 and
 * held as fixed point with 22 fractional bits; sums start at one half, are shifted back, clipped
 * to 0–255. A pass whose size does not change is skipped, as Pillow does.
 *
 * Only a window of the output is computed (CLIP keeps a centre crop): every output pixel depends
 * only on its own row/column weights, so a window is bit-identical to the same region of the full
 * resize. The horizontal pass runs only over the input rows the window's vertical weights touch.
 */
import type { RgbImage } from './imageDecode';

export interface ResizeWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;
const BICUBIC_SUPPORT = 2;
const CUBIC_A = -0.5;

/** Keys' cubic convolution kernel, evaluated in the same operation order as Pillow. */
function bicubic(x: number): number {
  if (x < 0) x = -x;
  if (x < 1) return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * CUBIC_A;
  return 0;
}

/** Fixed-point weights of output positions [first, first + count) along one axis. */
interface AxisWeights {
  /** First input index used by each output position. */
  start: Int32Array;
  /** Number of input indices used by each output position. */
  taps: Int32Array;
  /**
   * `stride` fixed-point weights per output position (only the first `taps[i]` are meaningful).
   * Integers held as doubles: products and sums stay exact (|sum| < 2^31, as in Pillow's int32
   * accumulators) and V8 avoids int→double conversions in the inner loops.
   */
  weights: Float64Array;
  stride: number;
}

function axisWeights(inSize: number, outSize: number, first: number, count: number): AxisWeights {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BICUBIC_SUPPORT * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const inverseFilterScale = 1 / filterScale;
  const start = new Int32Array(count);
  const taps = new Int32Array(count);
  const weights = new Float64Array(count * stride);
  const raw = new Float64Array(stride);
  for (let i = 0; i < count; i++) {
    const center = (first + i + 0.5) * scale;
    // Pillow rounds the bounds with (int)(v + 0.5), i.e. truncation toward zero.
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - lo;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const w = bicubic((k + lo - center + 0.5) * inverseFilterScale);
      raw[k] = w;
      sum += w;
    }
    for (let k = 0; k < n; k++) {
      const w = sum !== 0 ? raw[k]! / sum : raw[k]!;
      weights[i * stride + k] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    start[i] = lo;
    taps[i] = n;
  }
  return { start, taps, weights, stride };
}

/** Fixed-point accumulator → 8-bit sample, as Pillow's clip8. */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resizes `src` to outWidth × outHeight with Pillow's BICUBIC and returns the pixels of `window`
 * (default: the whole output) as interleaved RGB, row-major.
 */
export function pillowBicubicResize(
  src: RgbImage,
  outWidth: number,
  outHeight: number,
  window: ResizeWindow = { left: 0, top: 0, width: outWidth, height: outHeight },
): Uint8Array {
  const { left, top, width, height } = window;
  if (
    !(outWidth > 0 && outHeight > 0 && src.width > 0 && src.height > 0) ||
    left < 0 || top < 0 || width < 0 || height < 0 ||
    left + width > outWidth || top + height > outHeight
  ) {
    throw new RangeError(`bad resize ${src.width}x${src.height} → ${outWidth}x${outHeight} window ${JSON.stringify(window)}`);
  }
  if (src.data.length !== src.width * src.height * 3) throw new RangeError('RGB data does not match its size');
  if (width === 0 || height === 0) return new Uint8Array(0);

  const needHorizontal = outWidth !== src.width;
  const needVertical = outHeight !== src.height;

  // Rows of the source the vertical pass reads (or copies, when it is skipped).
  let rowWeights: AxisWeights | undefined;
  let firstRow = top;
  let rowCount = height;
  if (needVertical) {
    rowWeights = axisWeights(src.height, outHeight, top, height);
    firstRow = rowWeights.start[0]!;
    const last = height - 1;
    rowCount = rowWeights.start[last]! + rowWeights.taps[last]! - firstRow;
  }

  // Horizontal pass: the window's columns of rows [firstRow, firstRow + rowCount), into 8 bits.
  const temp = needHorizontal
    ? resampleRows(src, firstRow, rowCount, axisWeights(src.width, outWidth, left, width))
    : copyRows(src, firstRow, rowCount, left, width);

  if (!rowWeights) return temp;
  return resampleColumns(temp, width, firstRow, height, rowWeights);
}

function resampleRows(src: RgbImage, firstRow: number, rowCount: number, w: AxisWeights): Uint8Array {
  const outWidth = w.start.length;
  const out = new Uint8Array(rowCount * outWidth * 3);
  const { data } = src;
  const { start, taps, weights, stride } = w;
  for (let y = 0; y < rowCount; y++) {
    const rowBase = (firstRow + y) * src.width * 3;
    let o = y * outWidth * 3;
    for (let x = 0; x < outWidth; x++) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      let s = rowBase + start[x]! * 3;
      const kBase = x * stride;
      const n = taps[x]!;
      for (let k = 0; k < n; k++, s += 3) {
        const weight = weights[kBase + k]!;
        r += data[s]! * weight;
        g += data[s + 1]! * weight;
        b += data[s + 2]! * weight;
      }
      out[o++] = clip8(r);
      out[o++] = clip8(g);
      out[o++] = clip8(b);
    }
  }
  return out;
}

/** Vertical pass, one output row at a time, accumulating whole source rows (sequential reads). */
function resampleColumns(temp: Uint8Array, width: number, firstRow: number, height: number, w: AxisWeights): Uint8Array {
  const out = new Uint8Array(height * width * 3);
  const rowBytes = width * 3;
  const acc = new Float64Array(rowBytes);
  const { start, taps, weights, stride } = w;
  for (let y = 0; y < height; y++) {
    acc.fill(HALF);
    const kBase = y * stride;
    const n = taps[y]!;
    let rowBase = (start[y]! - firstRow) * rowBytes;
    for (let k = 0; k < n; k++, rowBase += rowBytes) {
      const weight = weights[kBase + k]!;
      for (let c = 0; c < rowBytes; c++) acc[c] += temp[rowBase + c]! * weight;
    }
    const o = y * rowBytes;
    for (let c = 0; c < rowBytes; c++) out[o + c] = clip8(acc[c]!);
  }
  return out;
}

function copyRows(src: RgbImage, firstRow: number, rowCount: number, left: number, width: number): Uint8Array {
  const out = new Uint8Array(rowCount * width * 3);
  for (let y = 0; y < rowCount; y++) {
    const from = ((firstRow + y) * src.width + left) * 3;
    out.set(src.data.subarray(from, from + width * 3), y * width * 3);
  }
  return out;
}
