import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTorchStateDict, ZipArchive } from '../../src/core/models/torchCheckpoint';
import { PickleWriter, writeTorchCheckpoint, writeTorchStateDict, writeTorchZip } from '../../src/sandbox/tinyModels/torchCheckpointWriter';

/**
 * Written by real PyTorch (Debian python3-torch 1.13.1) with:
 *   base = torch.arange(20.).reshape(4, 5); torch.manual_seed(0)
 *   torch.save(OrderedDict(plain=torch.randn(3, 4), transposed=base.t(), slice=base[1:3],
 *              half=torch.tensor([0.5, -1.25, 2048, 3], dtype=torch.float16), scalar=torch.tensor(7.5)), 'views.pth')
 * Kept inline so the test needs no Python.
 */
const TORCH_1_13_VIEWS_PTH = [
  'UEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAOABQAdmlld3MvZGF0YS5wa2xGQhAAWlpaWlpaWlpaWlpaWlpaWoACY2NvbGxlY3Rp',
  'b25zCk9yZGVyZWREaWN0CnEAKVJxAShYBQAAAHBsYWlucQJjdG9yY2guX3V0aWxzCl9yZWJ1aWxkX3RlbnNvcl92MgpxAygoWAcA',
  'AABzdG9yYWdlcQRjdG9yY2gKRmxvYXRTdG9yYWdlCnEFWAEAAAAwcQZYAwAAAGNwdXEHSwx0cQhRSwBLA0sEhnEJSwRLAYZxColo',
  'AClScQt0cQxScQ1YCgAAAHRyYW5zcG9zZWRxDmgDKChoBGgFWAEAAAAxcQ9oB0sUdHEQUUsASwVLBIZxEUsBSwWGcRKJaAApUnET',
  'dHEUUnEVWAUAAABzbGljZXEWaAMoKGgEaAVoD2gHSxR0cRdRSwVLAksFhnEYSwVLAYZxGYloAClScRp0cRtScRxYBAAAAGhhbGZx',
  'HWgDKChoBGN0b3JjaApIYWxmU3RvcmFnZQpxHlgBAAAAMnEfaAdLBHRxIFFLAEsEhXEhSwGFcSKJaAApUnEjdHEkUnElWAYAAABz',
  'Y2FsYXJxJmgDKChoBGgFWAEAAAAzcSdoB0sBdHEoUUsAKSmJaAApUnEpdHEqUnErdS5QSwcIvZEebbQBAAC0AQAAUEsDBAAACAgA',
  'AAAAAAAAAAAAAAAAAAAAAAAMABIAdmlld3MvZGF0YS8wRkIOAFpaWlpaWlpaWlpaWlpaXD/FP1A8lr5JcQvAtoQRP6HRir8tBbO/',
  'eoPOPuWIVj9EITi/C4POvhi9GL/GZzo+UEsHCMop6MwwAAAAMAAAAFBLAwQAAAgIAAAAAAAAAAAAAAAAAAAAAAAADAAWAHZpZXdz',
  'L2RhdGEvMUZCEgBaWlpaWlpaWlpaWlpaWlpaWloAAAAAAACAPwAAAEAAAEBAAACAQAAAoEAAAMBAAADgQAAAAEEAABBBAAAgQQAA',
  'MEEAAEBBAABQQQAAYEEAAHBBAACAQQAAiEEAAJBBAACYQVBLBwiRAS1LUAAAAFAAAABQSwMEAAAICAAAAAAAAAAAAAAAAAAAAAAA',
  'AAwANgB2aWV3cy9kYXRhLzJGQjIAWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWloAOAC9',
  'AGgAQlBLBwjdQu/ICAAAAAgAAABQSwMEAAAICAAAAAAAAAAAAAAAAAAAAAAAAAwAPgB2aWV3cy9kYXRhLzNGQjoAWlpaWlpaWlpa',
  'WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWgAA8EBQSwcIMX8kQwQAAAAEAAAAUEsDBAAA',
  'CAgAAAAAAAAAAAAAAAAAAAAAAAANAEEAdmlld3MvdmVyc2lvbkZCPQBaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa',
  'WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaMwpQSwcI0Z5nVQIAAAACAAAAUEsBAgAAAAAICAAAAAAAAL2RHm20AQAAtAEAAA4A',
  'AAAAAAAAAAAAAAAAAAAAAHZpZXdzL2RhdGEucGtsUEsBAgAAAAAICAAAAAAAAMop6MwwAAAAMAAAAAwAAAAAAAAAAAAAAAAABAIA',
  'AHZpZXdzL2RhdGEvMFBLAQIAAAAACAgAAAAAAACRAS1LUAAAAFAAAAAMAAAAAAAAAAAAAAAAAIACAAB2aWV3cy9kYXRhLzFQSwEC',
  'AAAAAAgIAAAAAAAA3ULvyAgAAAAIAAAADAAAAAAAAAAAAAAAAAAgAwAAdmlld3MvZGF0YS8yUEsBAgAAAAAICAAAAAAAADF/JEME',
  'AAAABAAAAAwAAAAAAAAAAAAAAAAAmAMAAHZpZXdzL2RhdGEvM1BLAQIAAAAACAgAAAAAAADRnmdVAgAAAAIAAAANAAAAAAAAAAAA',
  'AAAAABQEAAB2aWV3cy92ZXJzaW9uUEsGBiwAAAAAAAAAHgMtAAAAAAAAAAAABgAAAAAAAAAGAAAAAAAAAF8BAAAAAAAAkgQAAAAA',
  'AABQSwYHAAAAAPEFAAAAAAAAAQAAAFBLBQYAAAAABgAGAF8BAACSBAAAAAA=',
].join('');

/** torch.manual_seed(0); torch.randn(3, 4) */
const TORCH_SEED0_RANDN_3x4 = [
  1.5409960746765137, -0.293428897857666, -2.1787893772125244, 0.5684312582015991, -1.0845223665237427, -1.3985954523086548,
  0.40334683656692505, 0.8380263447761536, -0.7192575931549072, -0.40334352850914, -0.5966353416442871, 0.18203648924827576,
];

function isModelFormat(e: unknown): boolean {
  return (e as { code?: string }).code === 'model-format';
}

describe('torch checkpoint reader', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cs-torch-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips a state dict written the way torch.save writes it', async () => {
    const p = join(dir, 'sd.pth');
    const w = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 3);
    const b = new Float32Array([1.5, -2, 1e-7]);
    await writeTorchStateDict(p, { 'layers.0.weight': { shape: [3, 4], data: w }, 'layers.0.bias': { shape: [3], data: b } }, { location: 'cuda:0' });
    const sd = await readTorchStateDict(p);
    assert.deepEqual(Object.keys(sd), ['layers.0.weight', 'layers.0.bias']);
    assert.deepEqual(sd['layers.0.weight'].shape, [3, 4]);
    assert.deepEqual(sd['layers.0.weight'].stride, [4, 1]);
    assert.equal(sd['layers.0.weight'].dtype, 'float32');
    assert.equal(sd['layers.0.weight'].location, 'cuda:0');
    assert.deepEqual(Array.from(sd['layers.0.weight'].data), Array.from(w));
    assert.deepEqual(Array.from(sd['layers.0.bias'].data), Array.from(b));
  });

  it('puts the data of every entry on a 64-byte boundary, as torch does', async () => {
    const p = join(dir, 'sd.pth');
    await writeTorchStateDict(p, { a: { shape: [5], data: new Float32Array(5) } });
    const zip = await ZipArchive.open(p);
    try {
      for (const e of zip.entries.values()) assert.equal((await zip.dataOffset(e)) % 64, 0, e.name);
      assert.equal((await zip.read(zip.entries.get('archive/version')!)).toString(), '3\n');
    } finally {
      await zip.close();
    }
  });

  it('honours storage offsets and strides (shared storage, transposed and sliced views)', async () => {
    const p = join(dir, 'views.pth');
    const storage = Float32Array.from({ length: 20 }, (_, i) => i);
    await writeTorchCheckpoint(p, {
      storages: { s0: { data: storage } },
      tensors: {
        // rows 1..2 of a [4,5] matrix: offset 5, contiguous
        slice: { storage: 's0', offset: 5, shape: [2, 5] },
        // transpose of the [4,5] matrix: shape [5,4], strides [1,5]
        transposed: { storage: 's0', shape: [5, 4], stride: [1, 5] },
        // every other column from offset 1: shape [4,2], strides [5,2]
        strided: { storage: 's0', offset: 1, shape: [4, 2], stride: [5, 2] },
      },
    });
    const sd = await readTorchStateDict(p);
    assert.deepEqual(Array.from(sd.slice.data), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    assert.equal(sd.slice.contiguous, true);
    assert.deepEqual(Array.from(sd.transposed.data), [0, 5, 10, 15, 1, 6, 11, 16, 2, 7, 12, 17, 3, 8, 13, 18, 4, 9, 14, 19]);
    assert.equal(sd.transposed.contiguous, false);
    assert.deepEqual(sd.transposed.stride, [1, 5]);
    assert.deepEqual(Array.from(sd.strided.data), [1, 3, 6, 8, 11, 13, 16, 18]);
  });

  it('reads float16 storages and zip64 archives', async () => {
    const p = join(dir, 'z64.pth');
    const v = new Float32Array([0.5, -1.25, 2048, 3]);
    await writeTorchStateDict(p, { h: { shape: [2, 2], data: v, dtype: 'float16' } }, { forceZip64: true, archiveName: 'z64' });
    const bytes = await readFile(p);
    assert.ok(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06])), 'the file has a zip64 end record');
    const sd = await readTorchStateDict(p);
    assert.equal(sd.h.dtype, 'float16');
    assert.deepEqual(Array.from(sd.h.data), Array.from(v));
  });

  it('reads big memo indices (LONG_BINPUT/LONG_BINGET) in a many-tensor state dict', async () => {
    const p = join(dir, 'many.pth');
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (let i = 0; i < 120; i++) tensors[`t${i}`] = { shape: [1], data: new Float32Array([i]) };
    await writeTorchStateDict(p, tensors);
    const sd = await readTorchStateDict(p);
    assert.equal(Object.keys(sd).length, 120);
    assert.equal(sd.t119.data[0], 119);
  });

  it('reads a checkpoint written by real torch.save: views, shared storage, float16, a scalar', async () => {
    const p = join(dir, 'views.pth');
    await writeFile(p, Buffer.from(TORCH_1_13_VIEWS_PTH, 'base64'));
    const sd = await readTorchStateDict(p);
    assert.deepEqual(Object.keys(sd), ['plain', 'transposed', 'slice', 'half', 'scalar']);
    assert.deepEqual(sd.plain.shape, [3, 4]);
    assert.deepEqual(Array.from(sd.plain.data), TORCH_SEED0_RANDN_3x4.map((v) => Math.fround(v)));
    assert.deepEqual(sd.transposed.stride, [1, 5]);
    assert.deepEqual(Array.from(sd.transposed.data), [0, 5, 10, 15, 1, 6, 11, 16, 2, 7, 12, 17, 3, 8, 13, 18, 4, 9, 14, 19]);
    assert.deepEqual(Array.from(sd.slice.data), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    assert.equal(sd.half.dtype, 'float16');
    assert.deepEqual(Array.from(sd.half.data), [0.5, -1.25, 2048, 3]);
    assert.deepEqual(sd.scalar.shape, []);
    assert.deepEqual(Array.from(sd.scalar.data), [7.5]);
  });

  it('rejects a pickle that calls a global outside the whitelist', async () => {
    const p = join(dir, 'evil.pth');
    const w = new PickleWriter(2);
    w.global('os', 'system').unicode('echo pwned').tuple(1).reduce();
    await writeTorchZip(p, w.stop(), {});
    await assert.rejects(readTorchStateDict(p), (e: Error) => isModelFormat(e) && /os\.system/.test(e.message));
  });

  it('rejects torch globals outside the whitelist too (torch.load)', async () => {
    const p = join(dir, 'evil2.pth');
    const w = new PickleWriter(2);
    w.global('torch', 'load').tuple(0).reduce();
    await writeTorchZip(p, w.stop(), {});
    await assert.rejects(readTorchStateDict(p), isModelFormat);
  });

  it('reports a truncated file and a non-zip file as model-format', async () => {
    const p = join(dir, 'cut.pth');
    await writeTorchStateDict(p, { a: { shape: [64], data: new Float32Array(64) } });
    const bytes = await readFile(p);
    await writeFile(p, bytes.subarray(0, bytes.length - 30));
    await assert.rejects(readTorchStateDict(p), isModelFormat);
    await writeFile(p, Buffer.from('not a checkpoint at all, just some words to be long enough'));
    await assert.rejects(readTorchStateDict(p), isModelFormat);
  });
});
