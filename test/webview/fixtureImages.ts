/**
 * Small generated pictures for the webview tests: one dusk seascape per image index (sky, sea,
 * cliff, lighthouse, beam), each a bit different, drawn as SVG and rendered by sharp into the
 * full-size PNG and the WebP thumbnail the host would serve.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export const IMAGE_WIDTH = 672;
export const IMAGE_HEIGHT = 384;
const THUMB_WIDTH = 448;

export function thumbnailName(index: number): string {
  return `thumb_${String(index + 1).padStart(3, '0')}.webp`;
}

export function imageName(index: number): string {
  return `image_${String(index + 1).padStart(3, '0')}.png`;
}

function scene(index: number): string {
  const w = IMAGE_WIDTH;
  const h = IMAGE_HEIGHT;
  const hue = (200 + index * 23) % 360;
  const warm = (20 + index * 11) % 60;
  const horizon = Math.round(h * (0.58 + 0.03 * Math.sin(index)));
  const x = Math.round(w * (0.58 + 0.05 * Math.cos(index * 1.7)));
  const tower = 70 + (index % 3) * 12;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="hsl(${hue},45%,18%)"/>
      <stop offset="0.65" stop-color="hsl(${warm + 10},70%,52%)"/>
      <stop offset="1" stop-color="hsl(${warm + 30},85%,70%)"/>
    </linearGradient>
    <linearGradient id="sea" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="hsl(${hue},35%,32%)"/>
      <stop offset="1" stop-color="hsl(${hue},40%,10%)"/>
    </linearGradient>
    <radialGradient id="glow"><stop offset="0" stop-color="#fff6c8" stop-opacity="0.95"/><stop offset="1" stop-color="#fff6c8" stop-opacity="0"/></radialGradient>
  </defs>
  <rect width="${w}" height="${h}" fill="url(#sky)"/>
  <circle cx="${Math.round(w * 0.2 + index * 30)}" cy="${horizon - 30}" r="26" fill="hsl(${warm + 25},95%,80%)" opacity="0.9"/>
  <rect y="${horizon}" width="${w}" height="${h - horizon}" fill="url(#sea)"/>
  <path d="M${x - 120},${h} L${x - 60},${horizon - 20} L${x + 40},${horizon - 34} L${x + 150},${horizon + 10} L${x + 260},${h} Z" fill="hsl(${hue},20%,9%)"/>
  <rect x="${x - 9}" y="${horizon - 34 - tower}" width="18" height="${tower}" fill="#e8e4dc"/>
  <rect x="${x - 9}" y="${horizon - 34 - tower * 0.6}" width="18" height="${tower * 0.15}" fill="#b3312b"/>
  <rect x="${x - 11}" y="${horizon - 46 - tower}" width="22" height="12" fill="#3a3a3a"/>
  <polygon points="${x},${horizon - 40 - tower} ${x - 320},${horizon - 110 - tower} ${x - 320},${horizon - 10 - tower}" fill="#fff6c8" opacity="0.22"/>
  <circle cx="${x}" cy="${horizon - 40 - tower}" r="22" fill="url(#glow)"/>
  <g stroke="hsl(${warm + 30},80%,80%)" stroke-opacity="0.25" stroke-width="2">
    <line x1="0" y1="${horizon + 20}" x2="${w}" y2="${horizon + 22}"/>
    <line x1="0" y1="${horizon + 48}" x2="${w}" y2="${horizon + 44}"/>
  </g>
</svg>`;
}

/** Writes image_NNN.png and thumb_NNN.webp for `count` images into `dir`. */
export async function writeFixtureImages(dir: string, count: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const png = await sharp(Buffer.from(scene(index))).png().toBuffer();
      await sharp(png).toFile(join(dir, imageName(index)));
      await sharp(png).resize({ width: THUMB_WIDTH }).webp({ quality: 80 }).toFile(join(dir, thumbnailName(index)));
    }),
  );
}
