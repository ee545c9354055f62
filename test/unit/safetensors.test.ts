import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHalfBits, toHalfBits } from '../../src/core/models/float16';
import { SafetensorsFile, writeSafetensors } from '../../src/core/models/safetensors';

describe('safetensors', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cs-st-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips F32 and F16 tensors', async () => {
    const p = join(dir, 'm.safetensors');
    const a = new Float32Array([1, -2.5, 3.25, 0, 1e-3, 65504]);
    await writeSafetensors(p, { a: { shape: [2, 3], data: a }, h: { dtype: 'F16', shape: [6], data: a } });
    const f = await SafetensorsFile.open(p);
    try {
      assert.deepEqual(f.info('a').shape, [2, 3]);
      assert.deepEqual(Array.from(await f.readFloat32('a')), Array.from(a));
      const h = await f.readFloat32('h');
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(h[i] - a[i]) <= Math.abs(a[i]) * 1e-3 + 1e-6, `f16 ${i}: ${h[i]} vs ${a[i]}`);
    } finally {
      await f.close();
    }
  });

  it('half conversion is exact on representable values', () => {
    for (const v of [0, 1, -1, 0.5, 2048, -65504, 6.103515625e-5]) assert.equal(fromHalfBits(toHalfBits(v)), v);
  });

  it('rejects a truncated file with a model-format error', async () => {
    const p = join(dir, 'm.safetensors');
    await writeSafetensors(p, { a: { shape: [100], data: new Float32Array(100) } });
    const bytes = await readFile(p);
    await writeFile(p, bytes.subarray(0, bytes.length - 10));
    await assert.rejects(SafetensorsFile.open(p), (e: { code?: string }) => e.code === 'model-format');
  });
});
