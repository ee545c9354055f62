import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { ContactSheetError } from '../../src/shared/errors';
import type { ModelVersion } from '../../src/core/replicate/apiTypes';
import { generateImages } from '../../src/core/replicate/generator';
import { adaptInput, closestRatio, inputSchemaOf, sizeFor } from '../../src/core/replicate/inputAdapter';
import { ASPECT_RATIOS, type AspectRatio } from '../../src/core/replicate/types';
import { startFakeReplicate, type FakeReplicate } from '../../src/sandbox/fakeReplicate/server';
import { testClient } from '../support/testClient';

const FIXTURES = join(__dirname, '..', '..', 'src', 'sandbox', 'fakeReplicate', 'models');

function version(file: string): ModelVersion {
  return JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')).latest_version as ModelVersion;
}

function adapt(file: string, aspectRatio: AspectRatio, negativePrompt?: string) {
  return adaptInput(inputSchemaOf(version(file), file), { prompt: 'a cat', negativePrompt, aspectRatio, seed: 1234 }, file);
}

describe('model input adapters (from each model\'s own schema)', () => {
  it('flux-schnell: aspect_ratio enum, seed, one output, PNG, nothing else', () => {
    const a = adapt('black-forest-labs--flux-schnell.json', '16:9', 'blurry');
    assert.deepEqual(a.input, { prompt: 'a cat', aspect_ratio: '16:9', seed: 1234, num_outputs: 1, output_format: 'png' });
    assert.equal(a.aspectRatio.exact, true);
    assert.equal(a.seedSupported, true);
    assert.ok(a.notes.some((n) => /no negative prompt/.test(n)));
  });

  it('flux-dev: same mapping, image-to-image inputs left out', () => {
    const a = adapt('black-forest-labs--flux-dev.json', '9:16');
    assert.deepEqual(a.input, { prompt: 'a cat', aspect_ratio: '9:16', seed: 1234, num_outputs: 1, output_format: 'png' });
    assert.deepEqual(a.notes, []);
  });

  it('flux-1.1-pro: exact enum value, no width/height, no num_outputs (absent from schema)', () => {
    const a = adapt('black-forest-labs--flux-1.1-pro.json', '4:3');
    assert.deepEqual(a.input, { prompt: 'a cat', aspect_ratio: '4:3', seed: 1234, output_format: 'png' });
  });

  it('flux-1.1-pro without the ratio in its enum: "custom" with width/height in multiples of 32', () => {
    const v = version('black-forest-labs--flux-1.1-pro.json');
    v.openapi_schema!.components!.schemas!.aspect_ratio.enum = ['custom', '1:1'];
    const a = adaptInput(inputSchemaOf(v, 'pro'), { prompt: 'a cat', aspectRatio: '16:9', seed: 1 }, 'pro');
    assert.equal(a.input.aspect_ratio, 'custom');
    const w = a.input.width as number;
    const h = a.input.height as number;
    assert.equal(w % 32, 0);
    assert.equal(h % 32, 0);
    assert.ok(w >= 256 && w <= 1440 && h >= 256 && h <= 1440);
    assert.ok(Math.abs(w / h / (16 / 9) - 1) < 0.03, `${w}×${h} is close to 16:9`);
    assert.equal(a.aspectRatio.exact, true);
  });

  it('sdxl: width/height for ~1 MP in multiples of 64, negative prompt, no scheduler or refiner', () => {
    const sizes = Object.fromEntries(ASPECT_RATIOS.map((r) => [r, adapt('stability-ai--sdxl.json', r).input]));
    assert.deepEqual([sizes['1:1'].width, sizes['1:1'].height], [1024, 1024]);
    assert.deepEqual([sizes['16:9'].width, sizes['16:9'].height], [1344, 768]);
    assert.deepEqual([sizes['9:16'].width, sizes['9:16'].height], [768, 1344]);
    assert.deepEqual([sizes['4:3'].width, sizes['4:3'].height], [1152, 896]);
    assert.deepEqual([sizes['3:4'].width, sizes['3:4'].height], [896, 1152]);
    const a = adapt('stability-ai--sdxl.json', '1:1', 'blurry, low quality');
    assert.deepEqual(Object.keys(a.input).sort(), ['height', 'negative_prompt', 'num_outputs', 'prompt', 'seed', 'width']);
    assert.equal(a.input.negative_prompt, 'blurry, low quality');
    assert.equal(a.aspectRatio.sent, null);
  });

  it('imagen-4: no seed (recorded, user told), PNG, no safety level override', () => {
    const a = adapt('google--imagen-4.json', '3:4');
    assert.deepEqual(a.input, { prompt: 'a cat', aspect_ratio: '3:4', output_format: 'png' });
    assert.equal(a.seedSupported, false);
    assert.ok(a.notes.some((n) => /not reproducible/.test(n)));
  });

  it('picks the closest offered ratio when the exact one is missing, and says so', () => {
    assert.equal(closestRatio('9:16', ['1:1', '16:9', '2:3']), '2:3');
    assert.equal(closestRatio('16:9', ['1:1', '21:9', '3:2']), '3:2');
    const v = version('google--imagen-4.json');
    const schema = inputSchemaOf(v, 'imagen');
    schema.properties.aspect_ratio.enum = ['1:1', '16:9', '2:3'];
    const a = adaptInput(schema, { prompt: 'x', aspectRatio: '9:16', seed: 1 }, 'imagen');
    assert.equal(a.input.aspect_ratio, '2:3');
    assert.deepEqual(a.aspectRatio, { requested: '9:16', sent: '2:3', exact: false });
    assert.ok(a.notes.some((n) => /closest offered ratio 2:3/.test(n)));
  });

  it('width/height respect the schema bounds', () => {
    const s = sizeFor('16:9', { maximum: 1024, minimum: 256, multipleOf: 16 }, { maximum: 1024, minimum: 256, multipleOf: 16 });
    assert.deepEqual(s, { width: 1024, height: 576 });
    const tall = sizeFor('9:16', { minimum: 900 }, {});
    assert.ok(tall.width >= 900 && tall.width % 64 === 0);
  });

  it('seeds above the schema maximum are wrapped and noted', () => {
    const v = version('stability-ai--sdxl.json');
    const schema = inputSchemaOf(v, 'sdxl');
    schema.properties.seed.maximum = 1000;
    const a = adaptInput(schema, { prompt: 'x', aspectRatio: '1:1', seed: 2500 }, 'sdxl');
    assert.equal(a.input.seed, 2500 % 1001);
    assert.ok(a.notes.some((n) => /2500/.test(n)));
  });

  it('refuses models it cannot drive, with invalid-input', () => {
    const v = version('black-forest-labs--flux-schnell.json');
    const schema = inputSchemaOf(v, 'm');
    schema.required = ['prompt', 'image'];
    schema.properties.image = { type: 'string', format: 'uri' };
    assert.throws(() => adaptInput(schema, { prompt: 'x', aspectRatio: '1:1', seed: 1 }, 'm'), (e: ContactSheetError) => e.code === 'invalid-input' && /image/.test(e.message));
    delete schema.properties.prompt;
    assert.throws(() => adaptInput(schema, { prompt: 'x', aspectRatio: '1:1', seed: 1 }, 'm'), (e: ContactSheetError) => e.code === 'invalid-input' && /no "prompt"/.test(e.message));
    assert.throws(() => inputSchemaOf({ id: 'v' }, 'm'), (e: ContactSheetError) => e.code === 'invalid-input');
  });

  describe('against the fake, which validates inputs like Cog', () => {
    let fake: FakeReplicate;
    before(async () => {
      fake = await startFakeReplicate({ processingMs: 0, maxImageSide: 64 });
    });
    after(async () => {
      await fake.close();
    });
    const models = ['black-forest-labs/flux-schnell', 'black-forest-labs/flux-dev', 'black-forest-labs/flux-1.1-pro', 'stability-ai/sdxl', 'google/imagen-4'];
    for (const model of models) {
      it(`${model}: every aspect ratio is accepted and gives an image of that shape`, async () => {
        const { client } = testClient(fake);
        const result = await generateImages(
          client,
          { models: [model], prompt: 'a lighthouse', negativePrompt: 'fog', aspectRatio: '16:9', jobs: [{ index: 0, seed: 7 }], concurrency: 1 },
          () => {},
        );
        assert.deepEqual(result.failures, []);
        const meta = await sharp(result.images[0].bytes).metadata();
        assert.ok(meta.width! > meta.height!, `${model} gave ${meta.width}×${meta.height} for 16:9`);
        for (const ratio of ASPECT_RATIOS) {
          const r = await generateImages(client, { models: [model], prompt: 'a lighthouse', aspectRatio: ratio, jobs: [{ index: 0, seed: 1 }], concurrency: 1 }, () => {});
          assert.deepEqual(r.failures, [], `${model} ${ratio}`);
        }
      });
    }
  });
});
