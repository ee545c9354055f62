/**
 * Pillow's `Image.resize` for 8-bit images (no reducing_gap), written from the algorithm Pillow
 * documents in libImaging/Resample.c (an independent implementation, reproduced to the bit):
 * separable convolution, horizontal pass first into an 8-bit intermediate, then vertical; the
 * kernel support grows with the shrink factor; per-pixel coefficients are normalised to sum 1,
 * then held in fixed point with 22 fractional bits; sums start at one half, are shifted back and
 * clipped to 0–255. A pass whose size does not change is skipped, as Pillow does.
 *
 * Two pipelines depend on matching Pillow exactly: CLIP (BICUBIC, then a centre crop) and
 * Idefics3/SmolVLM (LANCZOS). sharp's resize shrinks in boxes first and does not match.
 *
 * Any window of the output can be computed on its own (CLIP keeps only a 224² centre crop): each
 * output pixel depends only on its own row and column coefficients, so a window is bit-identical
 * to the same region of the full resize, and the horizontal pass need only run over the input
 * rows the window's vertical coefficients touch.
 */
import type { RgbImage } from '../imageDecode';

export type PillowFilter = 'lanczos' | 'bicubic' | 'bilinear';

/** Pillow's resample codes as stored in preprocessor_config.json ("resample"). */
export function pillowFilterFromCode(code: number): PillowFilter | undefined {
  if (code === 1) return 'lanczos';
  if (code === 2) return 'bilinear';
  if (code === 3) return 'bicubic';
  return undefined;
}

export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  /** Interleaved channels per pixel. */
  channels: number;
}

/** A rectangle of the resized image, in output pixels. */
export interface ResizeWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

interface FilterDef {
  /** Kernel radius at scale 1. */
  support: number;
  /** Kernel, in the same operation order as Pillow's (the weights must match to the last bit). */
  kernel: (x: number) => number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

const CUBIC_A = -0.5;

const FILTERS: Record<PillowFilter, FilterDef> = {
  lanczos: { support: 3, kernel: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
  bicubic: {
    support: 2,
    // Keys' cubic convolution with a = -0.5.
    kernel: (x) => {
      const ax = Math.abs(x);
      if (ax < 1) return ((CUBIC_A + 2) * ax - (CUBIC_A + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * CUBIC_A;
      return 0;
    },
  },
  bilinear: { support: 1, kernel: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
};

/** Fixed-point coefficients of output positions [first, first + count) along one axis. */
interface AxisCoefficients {
  /** First input index used by each output position. */
  start: Int32Array;
  /** Number of input indices used by each output position. */
  taps: Int32Array;
  /**
   * `stride` fixed-point weights per output position (only the first `taps[i]` are meaningful).
   * Integers held as doubles: products and sums stay exact (Pillow's int32 accumulators never
   * leave ±2^31 for 8-bit input, far inside 2^53) and V8 skips int→double conversions in the
   * inner loops.
   */
  weights: Float64Array;
  stride: number;
}

function axisCoefficients(inSize: number, outSize: number, filter: FilterDef, first: number, count: number): AxisCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  // Pillow multiplies by the reciprocal; dividing instead can differ in the last bit.
  const inverseFilterScale = 1 / filterScale;
  const start = new Int32Array(count);
  const taps = new Int32Array(count);
  const weights = new Float64Array(count * stride);
  const raw = new Float64Array(stride);
  for (let i = 0; i < count; i++) {
    const center = (first + i + 0.5) * scale;
    // Pillow rounds the bounds with (int)(v + 0.5), i.e. truncation toward zero; with the clamp
    // to 0 that equals floor here.
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - lo;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const w = filter.kernel((k + lo - center + 0.5) * inverseFilterScale);
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

/** Resizes like Pillow's `im.resize((width, height), filter)` on an 8-bit image. */
export function pillowResize(image: RawImage, width: number, height: number, filter: PillowFilter): RawImage {
  return { data: pillowResizeWindow(image, width, height, filter), width, height, channels: image.channels };
}

/** CLIP's resize: Pillow BICUBIC of an RGB image, only `window` of the output (default: all). */
export function pillowBicubicResize(src: RgbImage, outWidth: number, outHeight: number, window?: ResizeWindow): Uint8Array {
  return pillowResizeWindow({ ...src, channels: 3 }, outWidth, outHeight, 'bicubic', window);
}

/**
 * Resizes `image` to outWidth × outHeight with Pillow's `filter` and returns only the pixels of
 * `window` (default: the whole output), interleaved like the input, row-major. Always a new array.
 */
export function pillowResizeWindow(
  image: RawImage,
  outWidth: number,
  outHeight: number,
  filterName: PillowFilter,
  window: ResizeWindow = { left: 0, top: 0, width: outWidth, height: outHeight },
): Uint8Array {
  const { left, top, width, height } = window;
  const { channels } = image;
  if (
    !(outWidth > 0 && outHeight > 0 && image.width > 0 && image.height > 0) ||
    !(Number.isInteger(channels) && channels > 0) ||
    left < 0 || top < 0 || width < 0 || height < 0 ||
    left + width > outWidth || top + height > outHeight
  ) {
    throw new RangeError(
      `bad resize ${image.width}x${image.height}x${channels} → ${outWidth}x${outHeight} window ${JSON.stringify(window)}`,
    );
  }
  if (image.data.length !== image.width * image.height * channels) throw new RangeError('pixel data does not match its size');
  if (width === 0 || height === 0) return new Uint8Array(0);

  const filter = FILTERS[filterName];
  const needHorizontal = outWidth !== image.width;
  const needVertical = outHeight !== image.height;

  // Input rows the vertical pass reads (or copies, when it is skipped).
  let rowCoefficients: AxisCoefficients | undefined;
  let firstRow = top;
  let rowCount = height;
  if (needVertical) {
    rowCoefficients = axisCoefficients(image.height, outHeight, filter, top, height);
    firstRow = rowCoefficients.start[0]!;
    const last = height - 1;
    rowCount = rowCoefficients.start[last]! + rowCoefficients.taps[last]! - firstRow;
  }

  if (!needHorizontal) {
    // The vertical pass reads the window's columns straight from the input: no intermediate.
    const source: PassInput = {
      data: image.data,
      rowBytes: image.width * channels,
      offset: left * channels,
      firstRow: 0,
    };
    return rowCoefficients
      ? verticalPass(source, width * channels, rowCoefficients)
      : copyRows(source, firstRow, rowCount, width * channels);
  }

  // Horizontal pass: the window's columns of input rows [firstRow, firstRow + rowCount), 8-bit.
  const columnCoefficients = axisCoefficients(image.width, outWidth, filter, left, width);
  const temp = horizontalPass(image, firstRow, rowCount, columnCoefficients);
  if (!rowCoefficients) return temp;
  return verticalPass({ data: temp, rowBytes: width * channels, offset: 0, firstRow }, width * channels, rowCoefficients);
}

/** Rows the vertical pass reads: input row r starts at byte (r - firstRow) · rowBytes + offset. */
interface PassInput {
  data: Uint8Array;
  rowBytes: number;
  offset: number;
  firstRow: number;
}

/** Horizontal pass over input rows [firstRow, firstRow + rowCount): one 8-bit row per input row. */
function horizontalPass(image: RawImage, firstRow: number, rowCount: number, c: AxisCoefficients): Uint8Array {
  // RGB (both callers' case) gets its own loop with the three sums in registers; a separate
  // function keeps each loop monomorphic for the JIT.
  return image.channels === 3
    ? horizontalRgb(image, firstRow, rowCount, c)
    : horizontalAnyChannels(image, firstRow, rowCount, c);
}

function horizontalRgb(image: RawImage, firstRow: number, rowCount: number, c: AxisCoefficients): Uint8Array {
  const outWidth = c.start.length;
  const out = new Uint8Array(rowCount * outWidth * 3);
  const { data } = image;
  const { start, taps, weights, stride } = c;
  for (let y = 0; y < rowCount; y++) {
    const rowBase = (firstRow + y) * image.width * 3;
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

function horizontalAnyChannels(image: RawImage, firstRow: number, rowCount: number, c: AxisCoefficients): Uint8Array {
  const { data, channels } = image;
  const outWidth = c.start.length;
  const out = new Uint8Array(rowCount * outWidth * channels);
  const { start, taps, weights, stride } = c;
  for (let y = 0; y < rowCount; y++) {
    const rowBase = (firstRow + y) * image.width * channels;
    const rowOut = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      const kBase = x * stride;
      const n = taps[x]!;
      for (let ch = 0; ch < channels; ch++) {
        let acc = HALF;
        let s = rowBase + start[x]! * channels + ch;
        for (let k = 0; k < n; k++, s += channels) acc += data[s]! * weights[kBase + k]!;
        out[rowOut + x * channels + ch] = clip8(acc);
      }
    }
  }
  return out;
}

/**
 * Vertical pass, one output row (`rowBytes` wide) at a time, accumulating whole input rows:
 * sequential reads, and the same integer sum Pillow computes per pixel.
 */
function verticalPass(input: PassInput, rowBytes: number, c: AxisCoefficients): Uint8Array {
  const height = c.start.length;
  const out = new Uint8Array(height * rowBytes);
  const acc = new Float64Array(rowBytes);
  const { data } = input;
  const { start, taps, weights, stride } = c;
  for (let y = 0; y < height; y++) {
    acc.fill(HALF);
    const kBase = y * stride;
    const n = taps[y]!;
    let rowBase = (start[y]! - input.firstRow) * input.rowBytes + input.offset;
    for (let k = 0; k < n; k++, rowBase += input.rowBytes) {
      const weight = weights[kBase + k]!;
      for (let i = 0; i < rowBytes; i++) acc[i] += data[rowBase + i]! * weight;
    }
    const o = y * rowBytes;
    for (let i = 0; i < rowBytes; i++) out[o + i] = clip8(acc[i]!);
  }
  return out;
}

/** Both passes skipped: the window's bytes of rows [firstRow, firstRow + rowCount), copied. */
function copyRows(input: PassInput, firstRow: number, rowCount: number, rowBytes: number): Uint8Array {
  const out = new Uint8Array(rowCount * rowBytes);
  for (let y = 0; y < rowCount; y++) {
    const from = (firstRow + y - input.firstRow) * input.rowBytes + input.offset;
    out.set(input.data.subarray(from, from + rowBytes), y * rowBytes);
  }
  return out;
}
