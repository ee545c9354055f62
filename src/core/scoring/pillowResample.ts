/**
 * Pillow's `Image.resize` for 8-bit images (no reducing_gap), written from the algorithm Pillow
 * documents in Resample.c: separable convolution, horizontal pass first into an 8-bit image,
 * then vertical; the kernel support grows with the shrink factor; per-pixel coefficients are
 * normalised, then held in fixed point with 22 fractional bits; results are rounded and clipped.
 * The Idefics3 processor resizes with Pillow (LANCZOS), so matching it keeps SmolVLM's input equal
 * to the reference. sharp's resize shrinks in boxes first and does not match.
 */

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

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

interface FilterDef {
  support: number;
  kernel: (x: number) => number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

const FILTERS: Record<PillowFilter, FilterDef> = {
  lanczos: { support: 3, kernel: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
  bicubic: {
    support: 2,
    kernel: (x) => {
      const a = -0.5;
      const ax = Math.abs(x);
      if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
      return 0;
    },
  },
  bilinear: { support: 1, kernel: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
};

/** Fixed-point coefficients of one axis: for output i, taps start at `first[i]`, `count[i]` long. */
interface AxisCoefficients {
  first: Int32Array;
  count: Int32Array;
  /** `taps` values per output, fixed point. */
  weights: Int32Array;
  taps: number;
}

function axisCoefficients(inSize: number, outSize: number, filter: FilterDef): AxisCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const k = new Float64Array(taps);
  // Pillow multiplies by the reciprocal; dividing instead can differ in the last bit.
  const inverseScale = 1 / filterScale;
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero; the clamp makes that equal to floor here.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.kernel((x + xmin - center + 0.5) * inverseScale);
      k[x] = w;
      sum += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = sum !== 0 ? k[x] / sum : k[x];
      weights[i * taps + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[i] = xmin;
    count[i] = xmax;
  }
  return { first, count, weights, taps };
}

function clip8(accumulator: number): number {
  const v = accumulator >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Resizes like Pillow's `im.resize((width, height), filter)` on an 8-bit image. */
export function pillowResize(image: RawImage, width: number, height: number, filterName: PillowFilter): RawImage {
  const filter = FILTERS[filterName];
  const needHorizontal = width !== image.width;
  const needVertical = height !== image.height;
  let current = image;
  if (needHorizontal) current = resizeHorizontal(current, width, axisCoefficients(image.width, width, filter));
  if (needVertical) current = resizeVertical(current, height, axisCoefficients(image.height, height, filter));
  if (current === image) return { ...image, data: image.data.slice() };
  return current;
}

function resizeHorizontal(image: RawImage, outWidth: number, c: AxisCoefficients): RawImage {
  const { width, height, channels, data } = image;
  const out = new Uint8Array(outWidth * height * channels);
  const { first, count, weights, taps } = c;
  if (channels === 3) {
    // The common case, with the three channel sums in registers.
    for (let y = 0; y < height; y++) {
      const rowIn = y * width * 3;
      let o = y * outWidth * 3;
      for (let x = 0; x < outWidth; x++, o += 3) {
        const n = count[x];
        const wBase = x * taps;
        let a0 = HALF;
        let a1 = HALF;
        let a2 = HALF;
        let p = rowIn + first[x] * 3;
        for (let t = 0; t < n; t++, p += 3) {
          const w = weights[wBase + t];
          a0 += data[p] * w;
          a1 += data[p + 1] * w;
          a2 += data[p + 2] * w;
        }
        out[o] = clip8(a0);
        out[o + 1] = clip8(a1);
        out[o + 2] = clip8(a2);
      }
    }
    return { data: out, width: outWidth, height, channels };
  }
  for (let y = 0; y < height; y++) {
    const rowIn = y * width * channels;
    const rowOut = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      const n = count[x];
      const wBase = x * taps;
      for (let ch = 0; ch < channels; ch++) {
        let acc = HALF;
        let p = rowIn + first[x] * channels + ch;
        for (let t = 0; t < n; t++, p += channels) acc += data[p] * weights[wBase + t];
        out[rowOut + x * channels + ch] = clip8(acc);
      }
    }
  }
  return { data: out, width: outWidth, height, channels };
}

function resizeVertical(image: RawImage, outHeight: number, c: AxisCoefficients): RawImage {
  const { width, channels, data } = image;
  const stride = width * channels;
  const out = new Uint8Array(stride * outHeight);
  const acc = new Int32Array(stride);
  for (let y = 0; y < outHeight; y++) {
    const start = c.first[y];
    const n = c.count[y];
    const wBase = y * c.taps;
    acc.fill(HALF);
    // Row-major accumulation keeps the inner loop on contiguous memory; the sum is the same
    // integer sum Pillow computes per pixel (exact in int32 for 8-bit input).
    for (let t = 0; t < n; t++) {
      const w = c.weights[wBase + t];
      const rowIn = (start + t) * stride;
      for (let i = 0; i < stride; i++) acc[i] += data[rowIn + i] * w;
    }
    const rowOut = y * stride;
    for (let i = 0; i < stride; i++) out[rowOut + i] = clip8(acc[i]);
  }
  return { data: out, width, height: outHeight, channels };
}
