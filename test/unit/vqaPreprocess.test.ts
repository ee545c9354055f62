import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import {
  compositeOnWhite,
  decodeRgbOnWhite,
  idefics3ConfigFromJson,
  idefics3Preprocess,
  idefics3Resize,
  longestEdgeSize,
  type Idefics3PreprocessConfig,
} from '../../src/core/scoring/vqa/idefics3Preprocess';
import { pillowResize, type RawImage } from '../../src/core/scoring/pillowResample';
import { ContactSheetError } from '../../src/shared/errors';

/** SmolVLM-256M-Instruct's preprocessor_config.json values. */
const SMOLVLM_PREPROCESSOR = {
  do_image_splitting: true,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
  max_image_size: { longest_edge: 512 },
  resample: 1,
  rescale_factor: 0.00392156862745098,
  size: { longest_edge: 2048 },
};

/** The same procedural image the golden values below were computed from with Pillow 9.4. */
function patternImage(width = 97, height = 61): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = (x * 7 + y * 13 + c * 50 + ((x * y) % 17) * 3) % 256;
    }
  }
  return { data, width, height, channels: 3 };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('Idefics3 preprocessing (SmolVLM)', () => {
  const config: Idefics3PreprocessConfig = idefics3ConfigFromJson(SMOLVLM_PREPROCESSOR);

  it('reads the published preprocessor settings', () => {
    assert.deepEqual(config, {
      longestEdge: 2048,
      imageSize: 512,
      filter: 'lanczos',
      rescaleFactor: 0.00392156862745098,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
    });
  });

  it('rejects a config without max_image_size as a model-format error with an action', () => {
    assert.throws(
      () => idefics3ConfigFromJson({ size: { longest_edge: 2048 } }),
      (e: unknown) => e instanceof ContactSheetError && e.code === 'model-format' && !!e.action,
    );
  });

  it('computes the first resize like transformers (longest edge, other edge truncated then even)', () => {
    assert.deepEqual(longestEdgeSize(61, 97, 2048), { height: 1288, width: 2048 });
    assert.deepEqual(longestEdgeSize(1024, 1024, 2048), { height: 2048, width: 2048 });
    assert.deepEqual(longestEdgeSize(768, 1344, 2048), { height: 1170, width: 2048 });
    assert.deepEqual(longestEdgeSize(517, 300, 2048), { height: 2048, width: 1188 });
  });

  it('resizes bit-exactly like Pillow (LANCZOS up to 2048 then squared to 512; golden from Pillow 9.4)', () => {
    const out = idefics3Resize(patternImage(), config);
    assert.equal(out.width, 512);
    assert.equal(out.height, 512);
    assert.deepEqual(Array.from(out.data.subarray((100 * 512 + 200) * 3, (100 * 512 + 200) * 3 + 3)), [195, 145, 24]);
    assert.deepEqual(Array.from(out.data.subarray(511 * 512 * 3, 511 * 512 * 3 + 3)), [0, 56, 106]);
    assert.equal(sha256(out.data), 'd788887f700d8194ae765ee374ab462cb589656454497968ab5f68dfae99800e');
  });

  it('matches Pillow for a shrink in both directions (LANCZOS 200×23, BICUBIC 40×30)', () => {
    assert.equal(sha256(pillowResize(patternImage(), 200, 23, 'lanczos').data), '8ec976eeb959eaabef04b0f547ce70a152eb8b595f140a4c1a311a31759ebf9c');
    assert.equal(sha256(pillowResize(patternImage(), 40, 30, 'bicubic').data), '38ce75e6528f2dc4bf52a06156b728fdd8f05dfef04432f72ca606dbd5a026e0');
  });

  it('composites alpha on white like Pillow alpha_composite (golden pairs from Pillow)', () => {
    const golden: [number, number, number][] = [
      [0, 0, 255], [200, 0, 255], [200, 255, 200], [10, 128, 132], [250, 1, 255], [77, 200, 115], [128, 127, 192], [0, 254, 1],
    ];
    for (const [value, alpha, expected] of golden) assert.equal(compositeOnWhite(value, alpha), expected, `${value}@${alpha}`);
  });

  it('gives pixel_values [1,1,3,512,512] with the normalized value of a solid colour, and an all-true mask', async () => {
    const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 255, g: 0, b: 128 } } }).png().toBuffer();
    const pixels = await idefics3Preprocess(png, config);
    const plane = 512 * 512;
    assert.equal(pixels.pixelValues.length, 3 * plane);
    assert.equal(pixels.pixelAttentionMask.length, plane);
    assert.ok(pixels.pixelAttentionMask.every((m) => m === 1));
    const expected = [1, -1, Math.fround(Math.fround(Math.fround(128 / 255) - 0.5) / 0.5)];
    for (let c = 0; c < 3; c++) {
      const channel = pixels.pixelValues.subarray(c * plane, (c + 1) * plane);
      assert.ok(channel.every((v) => v === expected[c]), `channel ${c} is uniformly ${expected[c]}`);
    }
  });

  it('squashes a wide image to the square (no crop, no padding): left half stays left', async () => {
    // 400×100: red left half, blue right half → in 512² the left columns are red, right are blue.
    const raw = Buffer.alloc(400 * 100 * 3);
    for (let y = 0; y < 100; y++) for (let x = 0; x < 400; x++) raw.set(x < 200 ? [255, 0, 0] : [0, 0, 255], (y * 400 + x) * 3);
    const png = await sharp(raw, { raw: { width: 400, height: 100, channels: 3 } }).png().toBuffer();
    const pixels = await idefics3Preprocess(png, config);
    const plane = 512 * 512;
    const at = (c: number, y: number, x: number) => pixels.pixelValues[c * plane + y * 512 + x];
    for (const y of [0, 255, 511]) {
      assert.equal(at(0, y, 10), 1);
      assert.equal(at(2, y, 10), -1);
      assert.equal(at(0, y, 500), -1);
      assert.equal(at(2, y, 500), 1);
    }
  });

  it("'fast' mode (sharp lanczos3 straight to 512²) stays within a fraction of a level of 'exact'", async () => {
    const width = 1024;
    const height = 768;
    const raw = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        raw[i] = Math.round(127.5 + 127.5 * Math.sin(x / 37) * Math.cos(y / 53));
        raw[i + 1] = Math.round((255 * x) / width);
        raw[i + 2] = Math.round(127.5 + 127.5 * Math.sin((x + y) / 11));
      }
    }
    const png = await sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
    const fast = await idefics3Preprocess(png, config, 'fast');
    const exact = await idefics3Preprocess(png, config, 'exact');
    let sum = 0;
    let max = 0;
    for (let i = 0; i < exact.pixelValues.length; i++) {
      const levels = (Math.abs(fast.pixelValues[i] - exact.pixelValues[i]) * 255) / 2;
      sum += levels;
      max = Math.max(max, levels);
    }
    const mean = sum / exact.pixelValues.length;
    assert.ok(mean > 0 && mean < 0.5, `mean |fast − exact| = ${mean} levels`);
    assert.ok(max <= 4.01, `max |fast − exact| = ${max} levels`);
  });

  it('decodes RGBA onto white and reports an undecodable file as image-unreadable', async () => {
    const rgba = await sharp({ create: { width: 4, height: 4, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const decoded = await decodeRgbOnWhite(rgba);
    assert.equal(decoded.channels, 3);
    assert.ok(decoded.data.every((v) => v === 255));
    await assert.rejects(decodeRgbOnWhite(Buffer.from('not an image')), (e: unknown) => e instanceof ContactSheetError && e.code === 'image-unreadable');
  });
});
