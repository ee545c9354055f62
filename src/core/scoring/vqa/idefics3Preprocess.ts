/**
 * Idefics3ImageProcessor (the PIL path of transformers, as SmolVLM's preprocessor_config.json
 * configures it) for one image with image splitting OFF:
 *   1. resize so the longest edge is `size.longest_edge` (2048 for SmolVLM), the other edge
 *      `int(longest / aspect)` rounded up to even, with Pillow LANCZOS;
 *   2. square the image to `max_image_size.longest_edge` (512) × the same, aspect NOT kept — the
 *      processor squashes when it does not split, and that is what the model saw in training;
 *   3. alpha composited on white (the processor's convert_to_rgb), rescale 1/255, normalize with
 *      mean/std (0.5), channels first;
 *   4. one image needs no padding: pixel_attention_mask is all true.
 * Splitting is off on purpose: it would add up to 16 tiles × 64 image tokens per image, far beyond
 * the CPU budget, and the global 512² view is what VQAScore needs for a yes/no on the whole image.
 * Known differences from the reference (rare for generated images): an RGBA image is composited
 * before the resizes instead of after (Pillow resizes premultiplied RGBa), and grey images are
 * resized as RGB (the reference resizes a 1-channel image as a palette image with NEAREST).
 *
 * Two resize modes:
 *  - 'exact': steps 1–2 with the project's Pillow LANCZOS, bit-identical to the reference; it costs
 *    ~230 M multiply-adds in JS for a 1024² image (the upscale to 2048² then 512²), measured
 *    0.3–0.45 s per image on an idle 2-core machine.
 *  - 'fast' (the scorer's default): sharp's lanczos3 straight to the square (flattened on white,
 *    no shrink-on-load), ~30–50 ms; measured against 'exact' on 1024² and 1344×768 images: mean
 *    |difference| 0.18–0.27 of 255 levels, bias ≤ 0.11, max 3 — far below what moves a yes/no
 *    answer, while 'exact' alone would exceed the VQAScore time budget (DESIGN.md).
 */
import sharp from 'sharp';
import { ContactSheetError } from '../../../shared/errors';
import { countImageDecode, decodeImage, isDecodedImage, rawInput, type DecodedImage } from '../../imageDecode';
import { pillowFilterFromCode, pillowResize, type PillowFilter, type RawImage } from '../pillowResample';

export interface Idefics3PreprocessConfig {
  /** First resize: longest edge (size.longest_edge). */
  longestEdge: number;
  /** Side of the square the vision encoder takes (max_image_size.longest_edge). */
  imageSize: number;
  filter: PillowFilter;
  rescaleFactor: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** The upper bound transformers applies after the first resize (MAX_IMAGE_SIZE). */
const MAX_IMAGE_SIZE = 4096;

export interface Idefics3Pixels {
  /** [1, 1, 3, S, S] float32, channels first. */
  pixelValues: Float32Array;
  /** [1, 1, S, S], all true for one unsplit image. */
  pixelAttentionMask: Uint8Array;
  imageSize: number;
}

/** Reads the processor settings from preprocessor_config.json's parsed JSON. */
export function idefics3ConfigFromJson(json: Record<string, unknown>): Idefics3PreprocessConfig {
  const size = json.size as { longest_edge?: number } | undefined;
  const maxImageSize = json.max_image_size as { longest_edge?: number } | undefined;
  const resample = typeof json.resample === 'number' ? json.resample : 1;
  const filter = pillowFilterFromCode(resample);
  const mean = json.image_mean as number[] | undefined;
  const std = json.image_std as number[] | undefined;
  if (!maxImageSize?.longest_edge || !filter) {
    throw new ContactSheetError('model-format', 'preprocessor_config.json lacks max_image_size.longest_edge or has an unknown resample filter.', {
      action: 'Re-download the VQAScore model (contact-sheet models download vqascore).',
    });
  }
  return {
    longestEdge: size?.longest_edge ?? maxImageSize.longest_edge,
    imageSize: maxImageSize.longest_edge,
    filter,
    rescaleFactor: typeof json.rescale_factor === 'number' ? json.rescale_factor : 1 / 255,
    mean: tripleOr(mean, 0.5),
    std: tripleOr(std, 0.5),
  };
}

function tripleOr(v: number[] | undefined, fallback: number): [number, number, number] {
  return v && v.length === 3 ? [v[0], v[1], v[2]] : [fallback, fallback, fallback];
}

/** Output size of step 1 (transformers' _resize_output_size_rescale_to_max_len, then the bound). */
export function longestEdgeSize(height: number, width: number, maxLen: number): { height: number; width: number } {
  const aspect = width / height;
  let h: number;
  let w: number;
  if (width >= height) {
    w = maxLen;
    h = Math.trunc(w / aspect);
    if (h % 2 !== 0) h += 1;
  } else {
    h = maxLen;
    w = Math.trunc(h * aspect);
    if (w % 2 !== 0) w += 1;
  }
  h = Math.max(h, 1);
  w = Math.max(w, 1);
  if (w >= h && w > MAX_IMAGE_SIZE) {
    w = MAX_IMAGE_SIZE;
    h = Math.max(Math.trunc(w / aspect), 1);
  } else if (h > w && h > MAX_IMAGE_SIZE) {
    h = MAX_IMAGE_SIZE;
    w = Math.max(Math.trunc(h * aspect), 1);
  }
  return { height: h, width: w };
}

/** Decodes to full-resolution 8-bit RGB: no ICC conversion, no EXIF rotation, alpha on white. */
export async function decodeRgbOnWhite(imageBytes: Buffer): Promise<RawImage> {
  return rgbOnWhite(await decodeImage(imageBytes));
}

/** Decoded pixels as RGB with any alpha composited on white (grey copied to the three channels). */
export function rgbOnWhite(img: DecodedImage): RawImage {
  const { width, height, channels } = img;
  const src = img.data;
  if (channels === 3) return { data: src, width, height, channels: 3 };
  const out = new Uint8Array(width * height * 3);
  const grey = channels < 3;
  const alpha = channels === 2 || channels === 4;
  for (let i = 0, o = 0; i < src.length; i += channels, o += 3) {
    const a = alpha ? src[i + channels - 1] : 255;
    for (let c = 0; c < 3; c++) out[o + c] = compositeOnWhite(src[i + (grey ? 0 : c)], a);
  }
  return { data: out, width, height, channels: 3 };
}

/** Pillow's alpha_composite of a pixel over opaque white (7-bit fixed point, /255 by shifts). */
export function compositeOnWhite(value: number, alpha: number): number {
  if (alpha === 0) return 255;
  const tmp = (value * alpha + 255 * (255 - alpha)) * 128 + (0x80 << 7);
  return (((tmp >> 8) + tmp) >> 8) >> 7;
}

/** Steps 1–2 on decoded pixels: the 8-bit square image the vision encoder sees. */
export function idefics3Resize(image: RawImage, config: Idefics3PreprocessConfig): RawImage {
  const first = longestEdgeSize(image.height, image.width, config.longestEdge);
  const resized = pillowResize(image, first.width, first.height, config.filter);
  return pillowResize(resized, config.imageSize, config.imageSize, config.filter);
}

/** Step 3: rescale in float64 then cast to float32 (transformers' rescale), normalize in float32. */
export function idefics3Normalize(image: RawImage, config: Idefics3PreprocessConfig): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(3 * plane);
  const rescale = config.rescaleFactor;
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(config.mean[c]);
    const std = Math.fround(config.std[c]);
    for (let p = 0; p < plane; p++) {
      const scaled = Math.fround(image.data[p * 3 + c] * rescale);
      out[c * plane + p] = Math.fround(Math.fround(scaled - mean) / std);
    }
  }
  return out;
}

export type Idefics3ResizeMode = 'exact' | 'fast';

/**
 * 'fast' mode: sharp flattens on white and resizes to the square in one pipeline, from pixels
 * already decoded (no second decode) or from file bytes (decoded here, counted).
 */
export async function sharpSquare(image: Buffer | DecodedImage, size: number): Promise<RawImage> {
  const input = isDecodedImage(image) ? sharp(image.data, rawInput(image)) : sharp(image, { ignoreIcc: true, failOn: 'error' });
  if (!isDecodedImage(image)) countImageDecode();
  try {
    const { data, info } = await input
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .resize(size, size, { fit: 'fill', kernel: 'lanczos3', fastShrinkOnLoad: false })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after flatten, got ${info.channels}`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 };
  } catch (e) {
    throw new ContactSheetError('image-unreadable', `The image could not be decoded: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      action: 'Check that the file is a PNG, JPEG or WebP image.',
    });
  }
}

export async function idefics3Preprocess(image: Buffer | DecodedImage, config: Idefics3PreprocessConfig, mode: Idefics3ResizeMode = 'exact'): Promise<Idefics3Pixels> {
  const decoded = (): Promise<RawImage> => (isDecodedImage(image) ? Promise.resolve(rgbOnWhite(image)) : decodeRgbOnWhite(image));
  const square = mode === 'fast' ? await sharpSquare(image, config.imageSize) : idefics3Resize(await decoded(), config);
  return {
    pixelValues: idefics3Normalize(square, config),
    pixelAttentionMask: new Uint8Array(config.imageSize * config.imageSize).fill(1),
    imageSize: config.imageSize,
  };
}
