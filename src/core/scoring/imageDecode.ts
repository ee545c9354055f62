/**
 * Decodes an image file to full-resolution 8-bit RGB exactly as PIL's `Image.open(...).convert("RGB")`
 * does, which is what Hugging Face's CLIPImageProcessor sees. sharp does the decoding; the rules
 * that keep it equal to PIL are applied here:
 * - no ICC conversion (`ignoreIcc`), no EXIF rotation, no shrink-on-load (no resize at all);
 * - alpha is simply dropped (PIL's RGBA→RGB neither premultiplies nor flattens);
 * - grey (and grey+alpha) becomes RGB by copying the grey value;
 * - 16-bit samples keep their high byte, as PIL's "RGB;16B"-style unpackers do (and as sharp's
 *   8-bit output does), except 16-bit grey without alpha: PIL opens that as mode "I" and its
 *   I→RGB conversion clips values above 255 instead.
 */
import sharp from 'sharp';
import { ContactSheetError } from '../../shared/errors';

export interface RgbImage {
  /** Interleaved RGB, row-major, 3 bytes per pixel. */
  data: Uint8Array;
  width: number;
  height: number;
}

const UNREADABLE_ACTION = 'Check that the file is a complete PNG, JPEG or WebP image; regenerate it if it was cut short.';

export async function decodeRgb(bytes: Buffer): Promise<RgbImage> {
  if (bytes.length === 0) {
    throw new ContactSheetError('image-unreadable', 'The image file is empty.', { action: UNREADABLE_ACTION });
  }
  try {
    // failOn 'error': PIL decodes files that only raise decoder warnings (e.g. trailing bytes).
    const input = sharp(bytes, { ignoreIcc: true, autoOrient: false, failOn: 'error' });
    const meta = await input.metadata();
    // 16-bit grey without alpha is the one case where PIL does not keep the high byte, so it
    // needs the real 16-bit samples; sharp's default 8-bit output already is the high byte.
    const grey16 = meta.depth === 'ushort' && meta.channels === 1;
    const decoder = grey16 ? input.toColourspace('grey16').raw({ depth: 'ushort' }) : input.raw();
    const { data, info } = await decoder.toBuffer({ resolveWithObject: true });
    const samples = grey16 ? clipGrey16(asUint16(data)) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { data: toRgb(samples, info.width, info.height, info.channels), width: info.width, height: info.height };
  } catch (e) {
    if (e instanceof ContactSheetError) throw e;
    throw new ContactSheetError('image-unreadable', `The image could not be decoded: ${(e as Error).message}`, {
      action: UNREADABLE_ACTION,
      cause: e,
    });
  }
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

/** Any of grey, grey+alpha, RGB, RGBA → RGB, dropping alpha without touching colour. */
function toRgb(samples: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const pixels = width * height;
  if (channels === 3) return samples.length === pixels * 3 ? samples : samples.slice(0, pixels * 3);
  if (channels < 1 || channels > 4) {
    throw new ContactSheetError('image-unreadable', `Unsupported image with ${channels} channels.`, { action: UNREADABLE_ACTION });
  }
  const rgb = new Uint8Array(pixels * 3);
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
  return rgb;
}
