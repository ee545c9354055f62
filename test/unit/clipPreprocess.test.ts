import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ClipImageConfig,
  clipImageConfigFromPreprocessorJson,
  clipPixelValues,
  resizeShortSideAndCrop,
} from '../../src/core/scoring/clipPreprocess';
import { decodeRgb } from '../../src/core/imageDecode';
import { pillowBicubicResize } from '../../src/core/scoring/pillowResample';
import { ContactSheetError } from '../../src/shared/errors';

// Reference values come from Pillow 9.4 + numpy (test/fixtures/preprocess/make_reference.py,
// which writes out Hugging Face CLIPImageProcessor's PIL path). Parity is exact: equal sha256 of
// the uint8 crop and of the float32 tensor bytes.
const FIXTURES = join(__dirname, '..', 'fixtures', 'preprocess');

interface ReferenceImage {
  file: string;
  width: number;
  height: number;
  pil_mode: string;
  crop_sha256: string;
  pixel_values_sha256: string;
  crop_samples: [number, number][];
  pixel_value_samples: [number, number][];
}
interface ExtraCase {
  file: string;
  preprocessor_config: Record<string, unknown>;
  width: number;
  height: number;
  crop_sha256: string;
  pixel_values_sha256: string;
}
const reference = JSON.parse(readFileSync(join(FIXTURES, 'reference.json'), 'utf8')) as {
  images: ReferenceImage[];
  extra_cases: ExtraCase[];
};

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const tensorSha = (t: Float32Array): string => sha256(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
const imageBytes = (file: string): Buffer => readFileSync(join(FIXTURES, 'images', file));

/** CLIP ViT-L/14's preprocessor_config.json as published (legacy int sizes). */
const CLIP_L_PREPROCESSOR = {
  crop_size: 224,
  do_center_crop: true,
  do_normalize: true,
  do_resize: true,
  feature_extractor_type: 'CLIPFeatureExtractor',
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_std: [0.26862954, 0.26130258, 0.27577711],
  resample: 3,
  size: 224,
};

describe('CLIP image preprocessing (bit-exact with CLIPImageProcessor / Pillow)', () => {
  const cfg: ClipImageConfig = clipImageConfigFromPreprocessorJson(CLIP_L_PREPROCESSOR);

  it('covers every kind of input the spec names', () => {
    const modes = new Set(reference.images.map((r) => r.pil_mode));
    for (const mode of ['RGB', 'RGBA', 'P', 'L', 'LA', 'I', '1']) assert.ok(modes.has(mode), `PIL mode ${mode}`);
    const files = reference.images.map((r) => r.file).join(' ');
    for (const kind of ['jpeg420', 'jpeg444', 'webp_lossy', 'webp_lossless', 'rgb16', 'grey16', 'icc_swapped', 'exif_rotate6', '1344x768', '768x1344', '17x300', '100x80']) {
      assert.ok(files.includes(kind), kind);
    }
  });

  for (const ref of reference.images) {
    it(`${ref.file} (${ref.pil_mode} ${ref.width}x${ref.height}): crop and tensor equal PIL's`, async () => {
      const bytes = imageBytes(ref.file);
      const rgb = await decodeRgb(bytes);
      assert.deepEqual([rgb.width, rgb.height], [ref.width, ref.height]);
      const crop = resizeShortSideAndCrop(rgb, cfg);
      assert.equal(crop.length, 224 * 224 * 3);
      for (const [i, v] of ref.crop_samples) assert.equal(crop[i], v, `crop[${i}]`);
      assert.equal(sha256(crop), ref.crop_sha256, 'uint8 crop sha256');

      const pixels = await clipPixelValues(bytes, cfg);
      assert.equal(pixels.length, 3 * 224 * 224);
      for (const [i, v] of ref.pixel_value_samples) assert.equal(pixels[i], v, `pixel_values[${i}]`);
      assert.equal(tensorSha(pixels), ref.pixel_values_sha256, 'float32 tensor sha256');
    });
  }

  for (const ex of reference.extra_cases) {
    it(`${ex.file} with ${JSON.stringify(ex.preprocessor_config)}: equal to PIL/numpy`, async () => {
      const config = clipImageConfigFromPreprocessorJson(ex.preprocessor_config);
      const bytes = imageBytes(ex.file);
      const crop = resizeShortSideAndCrop(await decodeRgb(bytes), config);
      assert.equal(crop.length, ex.width * ex.height * 3);
      assert.equal(sha256(crop), ex.crop_sha256, 'uint8 crop sha256');
      assert.equal(tensorSha(await clipPixelValues(bytes, config)), ex.pixel_values_sha256, 'float32 tensor sha256');
    });
  }

  it('a resize window equals the same region of the full resize (down and up)', () => {
    let seed = 12345;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    const src = { width: 173, height: 91, data: Uint8Array.from({ length: 173 * 91 * 3 }, next) };
    for (const [w, h] of [[61, 37], [400, 210], [173, 50], [90, 91]] as const) {
      const full = pillowBicubicResize(src, w, h);
      const win = { left: Math.floor(w / 3), top: Math.floor(h / 4), width: Math.ceil(w / 2), height: Math.ceil(h / 2) };
      const part = pillowBicubicResize(src, w, h, win);
      for (let y = 0; y < win.height; y++) {
        const from = ((win.top + y) * w + win.left) * 3;
        assert.deepEqual(part.subarray(y * win.width * 3, (y + 1) * win.width * 3), full.subarray(from, from + win.width * 3), `${w}x${h} row ${y}`);
      }
    }
  });

  it('a same-size resize is the identity', () => {
    const src = { width: 5, height: 4, data: Uint8Array.from({ length: 60 }, (_, i) => (i * 37) % 256) };
    assert.deepEqual(pillowBicubicResize(src, 5, 4), src.data);
  });

  describe('preprocessor_config.json', () => {
    it('reads the legacy and current forms of CLIP configs to the same config', () => {
      const current = clipImageConfigFromPreprocessorJson({
        crop_size: { height: 224, width: 224 },
        do_center_crop: true,
        do_convert_rgb: true,
        do_normalize: true,
        do_rescale: true,
        do_resize: true,
        image_mean: [0.48145466, 0.4578275, 0.40821073],
        image_processor_type: 'CLIPImageProcessor',
        image_std: [0.26862954, 0.26130258, 0.27577711],
        resample: 3,
        rescale_factor: 0.00392156862745098,
        size: { shortest_edge: 224 },
      });
      assert.deepEqual(current, cfg);
      assert.deepEqual(cfg, {
        size: 224,
        cropHeight: 224,
        cropWidth: 224,
        mean: [0.48145466, 0.4578275, 0.40821073],
        std: [0.26862954, 0.26130258, 0.27577711],
        doResize: true,
        doCenterCrop: true,
        doNormalize: true,
        rescaleFactor: 1 / 255,
      });
    });

    it('rejects settings this pipeline does not reproduce', () => {
      for (const bad of [
        { resample: 2 },
        { size: { height: 224, width: 224 } },
        { crop_size: '224' },
        { image_std: [0.5, 0, 0.5] },
        { image_mean: [0.5, 0.5] },
        { do_rescale: false },
        null,
        [1, 2],
      ]) {
        assert.throws(
          () => clipImageConfigFromPreprocessorJson(bad),
          (e: unknown) => e instanceof ContactSheetError && e.code === 'model-format' && !!e.action,
          JSON.stringify(bad),
        );
      }
    });
  });

  describe('unreadable input', () => {
    const png = imageBytes('rgb_640x360.png');
    let seed = 7;
    const noise = Buffer.from(Array.from({ length: 4096 }, () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 24));
    const cases: [string, Buffer][] = [
      ['an empty buffer', Buffer.alloc(0)],
      ['random bytes', noise],
      ['a text file', Buffer.from('a photo of a cat\nthis is not an image\n', 'utf8')],
      ['a truncated PNG', png.subarray(0, Math.floor(png.length / 2))],
      ['a PNG signature with garbage after it', Buffer.concat([png.subarray(0, 8), noise])],
    ];
    for (const [name, bytes] of cases) {
      it(`${name} → image-unreadable with an action`, async () => {
        const isUnreadable = (e: unknown): boolean =>
          e instanceof ContactSheetError && e.code === 'image-unreadable' && typeof e.action === 'string' && e.action.length > 0;
        await assert.rejects(decodeRgb(bytes), isUnreadable);
        await assert.rejects(clipPixelValues(bytes, cfg), isUnreadable);
      });
    }
  });

  it('clipPixelValues honours an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      clipPixelValues(imageBytes('rgb_32x32.png'), cfg, controller.signal),
      (e: unknown) => e instanceof ContactSheetError && e.code === 'canceled',
    );
  });
});
