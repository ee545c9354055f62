/**
 * Image → CLIP pixel_values, equal to Hugging Face's CLIPImageProcessor (PIL path):
 * decode as PIL's convert("RGB") → Pillow BICUBIC resize of the short side to `size` (long side
 * int(size * long / short)) → centre crop (HF's `center_crop`: top = (h - ch) // 2, zero padding
 * when the image is smaller) → x * rescaleFactor in float64 cast to float32 → (x - mean) / std in
 * float32 → channels first. Parameters come from the model's preprocessor_config.json.
 */
import { ContactSheetError, throwIfAborted } from '../../shared/errors';
import { decodeRgb, type RgbImage } from '../imageDecode';
import { pillowBicubicResize, type ResizeWindow } from './pillowResample';

export interface ClipImageConfig {
  /** Shortest edge after resizing. */
  size: number;
  cropHeight: number;
  cropWidth: number;
  mean: [number, number, number];
  std: [number, number, number];
  doResize: boolean;
  doCenterCrop: boolean;
  doNormalize: boolean;
  rescaleFactor: number;
}

const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
/** PIL's Resampling.BICUBIC: the only resample this pipeline reproduces. */
const PIL_BICUBIC = 3;

/** Reads preprocessor_config.json (CLIPImageProcessor keys; absent keys take its defaults). */
export function clipImageConfigFromPreprocessorJson(json: unknown): ClipImageConfig {
  const bad = (why: string) =>
    new ContactSheetError('model-format', `Unsupported preprocessor_config.json: ${why}.`, {
      action: 'Use a CLIP model whose image processor resizes the shortest edge with bicubic resampling.',
    });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('not a JSON object');
  const cfg = json as Record<string, unknown>;

  const size = shortestEdge(cfg.size ?? 224);
  if (size === undefined) throw bad(`size ${JSON.stringify(cfg.size)} is not an integer or {"shortest_edge": n}`);
  const crop = cropSize(cfg.crop_size ?? 224);
  if (crop === undefined) throw bad(`crop_size ${JSON.stringify(cfg.crop_size)} is not an integer or {height, width}`);
  const resample = cfg.resample ?? PIL_BICUBIC;
  if (resample !== PIL_BICUBIC) throw bad(`resample ${JSON.stringify(resample)} is not bicubic (3)`);
  if (cfg.do_rescale === false) throw bad('do_rescale false is not supported');
  if (cfg.do_convert_rgb === false) throw bad('do_convert_rgb false is not supported');

  const rescaleFactor = cfg.rescale_factor ?? 1 / 255;
  if (typeof rescaleFactor !== 'number' || !(rescaleFactor > 0)) throw bad('rescale_factor is not a positive number');
  const mean = triple(cfg.image_mean ?? CLIP_MEAN);
  const std = triple(cfg.image_std ?? CLIP_STD);
  if (!mean || !std || std.some((s) => !(s > 0))) throw bad('image_mean/image_std are not three numbers (std > 0)');

  return {
    size,
    cropHeight: crop.height,
    cropWidth: crop.width,
    mean,
    std,
    doResize: flag(cfg.do_resize, true),
    doCenterCrop: flag(cfg.do_center_crop, true),
    doNormalize: flag(cfg.do_normalize, true),
    rescaleFactor,
  };
}

/**
 * Resizes the short side to `cfg.size` and centre-crops, as interleaved RGB (HWC) uint8 of
 * cropHeight × cropWidth (or the resized size when cropping is off). Only the crop is computed.
 */
export function resizeShortSideAndCrop(rgb: RgbImage, cfg: ClipImageConfig): Uint8Array {
  return resizeAndCrop(rgb, cfg).data;
}

/** pixel_values for one image file: float32 NCHW with N = 1 (length 3 · H · W). */
export async function clipPixelValues(bytes: Buffer, cfg: ClipImageConfig, signal?: AbortSignal): Promise<Float32Array> {
  throwIfAborted(signal);
  const rgb = await decodeRgb(bytes);
  throwIfAborted(signal);
  return clipPixelValuesFromRgb(rgb, cfg);
}

/** pixel_values from pixels already decoded (and converted as PIL's convert("RGB")). */
export function clipPixelValuesFromRgb(rgb: RgbImage, cfg: ClipImageConfig): Float32Array {
  return toNormalizedChw(resizeAndCrop(rgb, cfg), cfg);
}

interface SizedRgb {
  data: Uint8Array;
  width: number;
  height: number;
}

function resizeAndCrop(rgb: RgbImage, cfg: ClipImageConfig): SizedRgb {
  const [outWidth, outHeight] = cfg.doResize ? shortSideSize(rgb.width, rgb.height, cfg.size) : [rgb.width, rgb.height];
  if (!cfg.doCenterCrop) {
    return { data: pillowBicubicResize(rgb, outWidth, outHeight), width: outWidth, height: outHeight };
  }
  const { cropHeight, cropWidth } = cfg;
  const rows = cropPlacement(outHeight, cropHeight);
  const cols = cropPlacement(outWidth, cropWidth);
  const window: ResizeWindow = { left: cols.from, top: rows.from, width: cols.count, height: rows.count };
  const inside = pillowBicubicResize(rgb, outWidth, outHeight, window);
  if (cols.count === cropWidth && rows.count === cropHeight) return { data: inside, width: cropWidth, height: cropHeight };
  // The resized image is smaller than the crop: HF pads it with zeros, centred.
  const out = new Uint8Array(cropHeight * cropWidth * 3);
  for (let y = 0; y < rows.count; y++) {
    out.set(inside.subarray(y * cols.count * 3, (y + 1) * cols.count * 3), ((rows.to + y) * cropWidth + cols.to) * 3);
  }
  return { data: out, width: cropWidth, height: cropHeight };
}

/**
 * Along one axis of length `size`, HF's center_crop to `crop`: which source range [from, from +
 * count) is kept and where it lands (`to`) in the crop.
 */
function cropPlacement(size: number, crop: number): { from: number; count: number; to: number } {
  const start = Math.floor((size - crop) / 2);
  if (start >= 0) return { from: start, count: crop, to: 0 };
  // Smaller than the crop: HF pads by ceil((crop - size) / 2) before, then crops [0, crop).
  return { from: 0, count: size, to: Math.ceil((crop - size) / 2) };
}

/** transformers' get_resize_output_image_size with default_to_square=False: [width, height]. */
function shortSideSize(width: number, height: number, size: number): [number, number] {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  // Same double arithmetic as Python's int(size * long / short).
  const newLong = Math.trunc((size * long) / short);
  return width <= height ? [size, newLong] : [newLong, size];
}

function toNormalizedChw(img: SizedRgb, cfg: ClipImageConfig): Float32Array {
  const plane = img.width * img.height;
  const out = new Float32Array(3 * plane);
  const mean = cfg.mean.map(Math.fround);
  const std = cfg.std.map(Math.fround);
  for (let c = 0; c < 3; c++) {
    // Rescale is float64 then cast (HF upcasts first); normalize is float32 arithmetic, which
    // Math.fround of the double result reproduces exactly for a single subtraction or division.
    const levels = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      const x = Math.fround(v * cfg.rescaleFactor);
      levels[v] = cfg.doNormalize ? Math.fround(Math.fround(x - mean[c]!) / std[c]!) : x;
    }
    const base = c * plane;
    for (let p = 0, s = c; p < plane; p++, s += 3) out[base + p] = levels[img.data[s]!]!;
  }
  return out;
}

function shortestEdge(v: unknown): number | undefined {
  if (isPositiveInt(v)) return v;
  if (typeof v === 'object' && v !== null && isPositiveInt((v as Record<string, unknown>).shortest_edge)) {
    return (v as { shortest_edge: number }).shortest_edge;
  }
  return undefined;
}

function cropSize(v: unknown): { height: number; width: number } | undefined {
  if (isPositiveInt(v)) return { height: v, width: v };
  if (typeof v === 'object' && v !== null) {
    const { height, width } = v as Record<string, unknown>;
    if (isPositiveInt(height) && isPositiveInt(width)) return { height, width };
  }
  return undefined;
}

function triple(v: unknown): [number, number, number] | undefined {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) return undefined;
  return [v[0], v[1], v[2]];
}

function flag(v: unknown, fallback: boolean): boolean {
  return typeof v === 'boolean' ? v : fallback;
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}
