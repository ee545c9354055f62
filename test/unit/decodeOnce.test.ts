/**
 * Each image of a run is decoded once: when its download is validated. The PNG written, CLIP's
 * preprocessing and VQAScore's start from those pixels, and give what decoding the files gives.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRunFolder } from '../../src/core/run/output';
import { readPromptFile } from '../../src/core/prompt';
import { ReplicateClient } from '../../src/core/replicate/client';
import { generateImages } from '../../src/core/replicate/generator';
import { loadPricing } from '../../src/core/replicate/pricing';
import { executeRun } from '../../src/core/run/executeRun';
import { newTrace, resolveSettings } from '../../src/core/run/runPlan';
import { clipImageConfigFromPreprocessorJson, clipPixelValues, clipPixelValuesFromRgb } from '../../src/core/scoring/clipPreprocess';
import { decodeImage, encodePng, imageDecodeCount, toRgb } from '../../src/core/imageDecode';
import { inProcessScorer } from '../../src/sandbox/inProcessScorer';
import type { ScorerConfig } from '../../src/core/scoring/types';
import { idefics3ConfigFromJson, idefics3Preprocess } from '../../src/core/scoring/vqa/idefics3Preprocess';
import type { GenerationTrace } from '../../src/core/run/trace';
import { startRunFixture, writePrompt, type RunFixture } from '../support/runFixture';

const IMAGES = join(__dirname, '..', 'fixtures', 'preprocess', 'images');

describe('each image is decoded once', function () {
  this.timeout(180_000);

  describe('pixels decoded once = pixels decoded from the written PNG', () => {
    const clipConfig = clipImageConfigFromPreprocessorJson({ size: 224, crop_size: 224 });
    const vqaConfig = idefics3ConfigFromJson({ max_image_size: { longest_edge: 512 }, size: { longest_edge: 2048 }, resample: 1 });
    // Every format and mode of the preprocessing fixtures (16-bit ones become 8-bit PNGs).
    for (const file of readdirSync(IMAGES).filter((f) => !/16_/.test(f))) {
      it(file, async () => {
        const bytes = readFileSync(join(IMAGES, file));
        const before = imageDecodeCount();
        const pixels = await decodeImage(bytes, 'srgb');
        const png = await encodePng(pixels);
        const clip = clipPixelValuesFromRgb(toRgb(pixels), clipConfig);
        const vqa = await idefics3Preprocess(pixels, vqaConfig, 'fast');
        // The exact resize is slow; the channel layouts (grey, alpha, palette) are what can differ.
        const exact = /^(la_|rgba_|webp_alpha|grey_|palette_trns|bilevel|jpeg_grey)/.test(file);
        const vqaExact = exact ? await idefics3Preprocess(pixels, vqaConfig, 'exact') : undefined;
        assert.equal(imageDecodeCount() - before, 1, 'one decode for PNG, CLIP and VQA');
        // What the previous pipeline did: sharp's PNG conversion, then each scorer decodes the file.
        const previousPng = await sharp(bytes).png().toBuffer();
        assert.deepEqual(await sharp(png).raw().toBuffer(), await sharp(previousPng).raw().toBuffer(), 'same pixels written');
        assert.deepEqual(clip, await clipPixelValues(png, clipConfig), 'CLIP pixel_values as from the file');
        assert.deepEqual(vqa.pixelValues, (await idefics3Preprocess(png, vqaConfig, 'fast')).pixelValues, 'VQA (fast) as from the file');
        if (vqaExact) assert.deepEqual(vqaExact.pixelValues, (await idefics3Preprocess(png, vqaConfig, 'exact')).pixelValues, 'VQA (exact) as from the file');
      });
    }
  });

  describe('in a run (fake Replicate, tiny models, scorer in process)', () => {
    let fx: RunFixture;
    before(async () => {
      fx = await startRunFixture({ processingMs: 200 });
    });
    after(async () => {
      await fx?.close();
    });

    it('decodes N images N times, and the scores equal those of the PNG files written', async () => {
      const { dir, path } = await writePrompt(fx.root, 'fox.txt', 'a red fox in fresh snow, morning light');
      const prompt = await readPromptFile(path);
      const settings = resolveSettings(prompt, { apiBaseUrl: fx.fake.url, numVariations: 3, seed: 7 });
      const folder = await createRunFolder({ promptPath: path });
      const trace = newTrace({ prompt, settings, demo: false, estimate: null });
      const client = new ReplicateClient({ token: fx.fake.token, baseUrl: fx.fake.url, pollIntervalMs: 50 });
      const config: ScorerConfig = {
        modelsDir: fx.modelsDir,
        precision: 'fp32',
        enabled: settings.enabled_metrics,
        lowMemory: false,
        executionProviders: ['cpu'],
        intraOpNumThreads: 1,
        allowDownload: true,
        hubEndpoint: fx.hub.url,
        manifestPath: fx.tiny.manifestPath,
      };
      const pricing = loadPricing();
      const before = imageDecodeCount();
      const result = await executeRun(folder, trace, {
        generate: (req, onEvent) => generateImages(client, req, onEvent, pricing),
        // In process, so this thread's decode counter sees the scorer's decodes too.
        createScorer: (onProgress) => inProcessScorer(config, { onProgress }),
      });
      const decodes = imageDecodeCount() - before;
      assert.equal(result.status, 'succeeded');
      assert.equal(decodes, 3, `3 images decoded ${decodes} times`);

      // Scoring the written files (as `contact-sheet score` does) gives the run's scores.
      const onDisk = JSON.parse(await readFile(join(folder.root, 'generation_trace.json'), 'utf8')) as GenerationTrace;
      const scorer = inProcessScorer(config);
      try {
        await scorer.setPrompt(prompt.text);
        for (const img of onDisk.images) {
          const fromFile = await scorer.scoreImage(await readFile(join(folder.root, img.file as string)));
          assert.deepEqual(fromFile, img.scores, `image ${img.index}`);
        }
      } finally {
        await scorer.dispose();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
