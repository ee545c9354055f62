import { readFile, stat } from 'node:fs/promises';
import { RunFolder, thumbnailName } from '../../core/run/output';
import type { Logger } from '../../core/log';

/** Grid previews are this wide (about twice a card's width on a dense display). */
export const THUMBNAIL_WIDTH = 384;

/**
 * The WebP preview of one image of a run, made once with sharp and kept in the run folder's
 * `.thumbnails/` (through the engine's write path: atomic, inside the folder, no symlinks), so a
 * grid of eight 2-megapixel PNGs loads a few dozen KB each. Named by index and seed, it stays valid
 * when the image moves to its ranked name. Null (and a log line) when the image cannot be read.
 */
export async function ensureThumbnail(runDir: string, imageFile: string, index: number, seed: number, logger: Logger): Promise<string | null> {
  try {
    const folder = await RunFolder.open(runDir);
    const name = thumbnailName(index, seed);
    if (await folder.exists(name)) return folder.pathOf(name);
    // sharp is loaded on the first preview, never at activation.
    const { default: sharp } = await import('sharp');
    const webp = await sharp(await folder.readFile(imageFile))
      .resize({ width: THUMBNAIL_WIDTH, withoutEnlargement: true })
      .webp({ quality: 80 })
      .toBuffer();
    return await folder.writeFile(name, webp);
  } catch (e) {
    logger.warn(`No preview for ${imageFile} in ${runDir}: ${(e as Error).message}`);
    return null;
  }
}

/** Largest preview sent inline to the panel (a 384-px WebP is a few dozen KB). */
const INLINE_PREVIEW_MAX_BYTES = 256 * 1024;

/** A preview made by ensureThumbnail as a data: URI, or null (too large or unreadable). */
export async function previewDataUri(path: string): Promise<string | null> {
  if (!path.endsWith('.webp')) return null;
  try {
    if ((await stat(path)).size > INLINE_PREVIEW_MAX_BYTES) return null;
    return `data:image/webp;base64,${(await readFile(path)).toString('base64')}`;
  } catch {
    return null;
  }
}
