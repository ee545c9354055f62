/**
 * Checks that downloaded output bytes are an image we can use: known magic bytes, a plausible
 * content type, and a full decode by sharp (a truncated or corrupt file fails here, not later
 * in scoring where the cause would be unclear). The decoded pixels are kept: nothing decodes
 * the image again.
 */
import sharp from 'sharp';
import { ContactSheetError } from '../../shared/errors';
import { decodeImage, type DecodedImage } from '../imageDecode';

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';

export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  return null;
}

function ascii(b: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...b.subarray(from, to));
}

/** Content types a CDN may legitimately use for an image file. */
export function isAcceptableImageContentType(contentType: string | null): boolean {
  if (contentType === null || contentType === '') return true; // absent: decide by the bytes
  const type = contentType.split(';')[0].trim().toLowerCase();
  return type.startsWith('image/') || type === 'application/octet-stream' || type === 'binary/octet-stream';
}

export interface ValidatedImage {
  format: ImageFormat;
  width: number;
  height: number;
  /** Canonical content type derived from the bytes. */
  contentType: string;
  /** The full decode that proved the file whole, in sRGB: the run writes and scores these pixels. */
  pixels: DecodedImage;
}

export async function validateImageBytes(bytes: Buffer, source: string): Promise<ValidatedImage> {
  const invalid = (why: string, cause?: unknown) =>
    new ContactSheetError('output-invalid', `The image downloaded from ${source} is not usable: ${why}.`, {
      action: 'Run again; if it repeats, try another model or output format.',
      cause,
      details: { url_path: source, bytes: bytes.length },
    });
  const format = sniffImageFormat(bytes);
  if (!format) throw invalid('not a PNG, JPEG, WebP or GIF file');
  try {
    const meta = await sharp(bytes).metadata();
    if (!meta.width || !meta.height) throw invalid('it has no dimensions');
    // A full decode catches truncation and corrupt data that a header read does not; it is the
    // image's only decode (the PNG written and both scorers' preprocessing start from it).
    const pixels = await decodeImage(bytes, 'srgb');
    return { format, width: meta.width, height: meta.height, contentType: `image/${format}`, pixels };
  } catch (e) {
    if (e instanceof ContactSheetError && e.code !== 'image-unreadable') throw e;
    const why = e instanceof ContactSheetError && e.cause instanceof Error ? e.cause.message : e instanceof Error ? e.message : String(e);
    throw invalid(`it does not decode (${why})`, e);
  }
}
