/**
 * The one place an image file is decoded. A run decodes each generated image exactly once (when
 * its download is validated); the PNG it writes, CLIP's preprocessing and VQAScore's all start
 * from those pixels. `imageDecodeCount` counts full decodes so tests and benches can hold the run
 * to that.
 *
 * Two ways to read colour:
 * - 'as-stored' (scoring a file, as Hugging Face's processors see it through PIL's
 *   `Image.open(...).convert("RGB")`): no ICC conversion, no EXIF rotation, no shrink-on-load;
 *   16-bit samples keep their high byte, except 16-bit grey without alpha, which PIL opens as mode
 *   "I" and clips above 255 when converting;
 * - 'srgb' (a generated image the run will write as PNG): converted to sRGB through its embedded
 *   profile, as the written PNG is, so that scoring the file on disk later gives the same pixels.
 * Either way the result is 8-bit grey, grey+alpha, RGB or RGBA as stored, and `toRgb` applies
 * PIL's RGB conversion (alpha dropped, grey copied to the three channels).
 */
import sharp from 'sharp';
import { ContactSheetError } from '../shared/errors';

export interface RgbImage {
  /** Interleaved RGB, row-major, 3 bytes per pixel. */
  data: Uint8Array;
  width: number;
  height: number;
}

/** 8-bit pixels as decoded: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA channels, interleaved. */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

export type ColourReading = 'as-stored' | 'srgb';

const UNREADABLE_ACTION = 'Check that the file is a complete PNG, JPEG or WebP image; regenerate it if it was cut short.';

let decodes = 0;

/** Full decodes of image files so far in this thread (the run's "each image once" check). */
export function imageDecodeCount(): number {
  return decodes;
}

/** Counts a full decode made outside this module (sharp pipelines that take file bytes). */
export function countImageDecode(): void {
  decodes += 1;
}

export function isDecodedImage(x: unknown): x is DecodedImage {
  return typeof x === 'object' && x !== null && !Buffer.isBuffer(x) && (x as DecodedImage).data instanceof Uint8Array && typeof (x as DecodedImage).channels === 'number';
}

export async function decodeImage(bytes: Buffer, colour: ColourReading = 'as-stored'): Promise<DecodedImage> {
  if (bytes.length === 0) {
    throw new ContactSheetError('image-unreadable', 'The image file is empty.', { action: UNREADABLE_ACTION });
  }
  decodes += 1;
  try {
    // failOn 'error': PIL decodes files that only raise decoder warnings (e.g. trailing bytes).
    const input = sharp(bytes, { ignoreIcc: colour === 'as-stored', autoOrient: false, failOn: 'error' });
    if (colour === 'as-stored') {
      const meta = await input.metadata();
      // 16-bit grey without alpha is the one case where PIL does not keep the high byte, so it
      // needs the real 16-bit samples; sharp's default 8-bit output already is the high byte.
      if (meta.depth === 'ushort' && meta.channels === 1) {
        const { data, info } = await input.toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
        return { data: clipGrey16(asUint16(data)), width: info.width, height: info.height, channels: 1 };
      }
    }
    const { data, info } = await input.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels < 1 || info.channels > 4) {
      throw new ContactSheetError('image-unreadable', `Unsupported image with ${info.channels} channels.`, { action: UNREADABLE_ACTION });
    }
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels as DecodedImage['channels'] };
  } catch (e) {
    if (e instanceof ContactSheetError) throw e;
    throw new ContactSheetError('image-unreadable', `The image could not be decoded: ${(e as Error).message}`, {
      action: UNREADABLE_ACTION,
      cause: e,
    });
  }
}

/** PIL's convert("RGB") of decoded pixels: alpha dropped without touching colour, grey copied. */
export function toRgb(img: DecodedImage): RgbImage {
  const { width, height, channels } = img;
  const pixels = width * height;
  if (channels === 3) return { data: img.data.length === pixels * 3 ? img.data : img.data.slice(0, pixels * 3), width, height };
  const rgb = new Uint8Array(pixels * 3);
  const samples = img.data;
  for (let p = 0, s = 0, d = 0; p < pixels; p++, s += channels, d += 3) {
    if (channels >= 3) {
      rgb[d] = samples[s]!;
      rgb[d + 1] = samples[s + 1]!;
      rgb[d + 2] = samples[s + 2]!;
    } else {
      const grey = samples[s]!;
      rgb[d] = grey;
      rgb[d + 1] = grey;
      rgb[d + 2] = grey;
    }
  }
  return { data: rgb, width, height };
}

/** Decodes the file and converts it as PIL's `Image.open(...).convert("RGB")` does. */
export async function decodeRgb(bytes: Buffer): Promise<RgbImage> {
  return toRgb(await decodeImage(bytes));
}

/** sharp input options for decoded pixels (no decode happens: sharp reads the raw samples). */
export function rawInput(img: DecodedImage): { raw: { width: number; height: number; channels: 1 | 2 | 3 | 4 } } {
  return { raw: { width: img.width, height: img.height, channels: img.channels } };
}

/** Lossless PNG of decoded pixels (what the run writes); decoding it gives the same pixels back. */
export async function encodePng(img: DecodedImage): Promise<Buffer> {
  return sharp(img.data, rawInput(img)).png().toBuffer();
}

/** sharp's 16-bit raw output is native-endian; copy first if the buffer is not 2-byte aligned. */
function asUint16(data: Buffer): Uint16Array {
  const aligned = data.byteOffset % 2 === 0 ? data : Buffer.from(data);
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >> 1);
}

/** PIL opens 16-bit grey as mode "I"; converting that to RGB clips at 255 (no scaling). */
function clipGrey16(samples: Uint16Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.min(samples[i]!, 255);
  return out;
}
