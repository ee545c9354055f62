import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { convertClipToOnnx, ensureClipOnnx, CLIP_INFO_FILE, type ClipOnnxInfo } from '../../src/core/models/convert/clipOnnx';
import type { ClipArchConfig } from '../../src/core/models/convert/clipConfig';
import { writeSafetensors, type TensorToWrite } from '../../src/core/models/safetensors';
import { int8WeightRange, quantizePerColumn, roundHalfEven } from '../../src/core/models/convert/quantize';
import { SeededNormal, tinyClipArchConfig, tinyClipCheckpoint } from '../../src/sandbox/tinyModels/tinyClipCheckpoint';
import { referenceImageEmbeds, referenceTextEmbeds } from '../support/clipReference';
import { cosineSimilarity } from '../../src/sandbox/cosineSimilarity';

// The scorer's session options: the graphs must load and run with them.
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 2, graphOptimizationLevel: 'all' };

interface Checkpoint {
  dir: string;
  config: ClipArchConfig;
  tensors: Record<string, TensorToWrite>;
}

async function writeCheckpoint(root: string, config: ClipArchConfig, seed: number, dtype: 'F32' | 'F16' = 'F32'): Promise<Checkpoint> {
  const dir = join(root, `ckpt-${seed}-${dtype}`);
  const { configJson, tensors } = tinyClipCheckpoint(config, seed, { dtype });
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(configJson, null, 2));
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return { dir, config, tensors };
}

async function runText(onnxDir: string, info: ClipOnnxInfo, rows: number[][]): Promise<Float32Array[]> {
  const s = await ort.InferenceSession.create(join(onnxDir, info.text.file), SESSION_OPTIONS);
  try {
    const len = rows[0].length;
    const ids = BigInt64Array.from(rows.flat().map((v) => BigInt(v)));
    const out = await s.run({ [info.text.input]: new ort.Tensor('int64', ids, [rows.length, len]) });
    const t = out[info.text.output];
    assert.deepEqual(t.dims, [rows.length, info.projection_dim]);
    const data = t.data as Float32Array;
    return rows.map((_, r) => data.slice(r * info.projection_dim, (r + 1) * info.projection_dim));
  } finally {
    await s.release();
  }
}

async function runVision(onnxDir: string, info: ClipOnnxInfo, pixels: Float32Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(join(onnxDir, info.vision.file), SESSION_OPTIONS);
  try {
    const size = info.vision.image_size;
    const out = await s.run({ [info.vision.input]: new ort.Tensor('float32', pixels, [1, 3, size, size]) });
    assert.deepEqual(out[info.vision.output].dims, [1, info.projection_dim]);
    return out[info.vision.output].data as Float32Array;
  } finally {
    await s.release();
  }
}

function testImage(size: number, seed: number): Float32Array {
  const rng = new SeededNormal(seed);
  return Float32Array.from({ length: 3 * size * size }, () => Math.max(-2, Math.min(2, rng.normal())));
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst <= tol, `${what}: max |diff| ${worst} > ${tol}`);
}

function basenameOf(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.includes('partial'));
}

describe('CLIP checkpoint → ONNX', function () {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cs-clip-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('fp32 (QuickGELU, first-EOS pooling) matches the plain-TS forward pass to 1e-4', async () => {
    const config = tinyClipArchConfig({ vocabSize: 500, hiddenAct: 'quick_gelu' });
    const ck = await writeCheckpoint(root, config, 11);
    const out = join(root, 'onnx');
    const steps: number[] = [];
    const info = await convertClipToOnnx({ checkpointDir: ck.dir, outDir: out, precision: 'fp32', onProgress: (_s, f) => steps.push(f) });

    assert.equal(info.text.pooling, 'eos');
    assert.equal(info.text.eos_token_id, 499);
    assert.equal(info.text.max_length, 77);
    assert.equal(info.vision.image_size, 224);
    assert.ok(Math.abs(info.logit_scale - Math.exp(config.logitScaleInitValue)) < 1e-4, 'logit_scale is exp() of the parameter');
    assert.deepEqual(JSON.parse(await readFile(join(out, CLIP_INFO_FILE), 'utf8')), info);
    assert.deepEqual(info.source_files.map((f) => f.path), ['config.json', 'model.safetensors']);
    assert.equal(steps[steps.length - 1], 1);
    assert.ok(steps.every((f, i) => i === 0 || f >= steps[i - 1]), 'progress never goes back');

    const bos = config.text.bosTokenId;
    const eos = config.text.eosTokenId;
    const short = [bos, 17, 301, eos];
    const long = [bos, 5, 99, 250, 7, 480, 12, eos];
    const [gotShort] = await runText(out, info, [short]);
    assertClose(gotShort, referenceTextEmbeds(ck.tensors, config, short), 1e-4, 'text short');
    const [gotLong] = await runText(out, info, [long]);
    assertClose(gotLong, referenceTextEmbeds(ck.tensors, config, long), 1e-4, 'text long');
    // A batch of two rows gives each row its own result.
    const other = [bos, 42, 43, 44, 45, 46, 47, eos];
    const batch = await runText(out, info, [long, other]);
    assertClose(batch[0], gotLong, 1e-5, 'batch row 0');
    assertClose(batch[1], referenceTextEmbeds(ck.tensors, config, other), 1e-4, 'batch row 1');
    // Pooling takes the FIRST EOS: tokens after it (padding) change nothing, thanks to the causal mask.
    const [padded] = await runText(out, info, [[...short, eos, 3, 3]]);
    assertClose(padded, gotShort, 1e-5, 'pooled at first EOS');

    const pixels = testImage(224, 5);
    assertClose(await runVision(out, info, pixels), referenceImageEmbeds(ck.tensors, config, pixels), 1e-4, 'image');
    assert.deepEqual(await leftovers(root), []);
  });

  it('fp32 with exact GELU, legacy eos_token_id 2 (argmax pooling) and an fp16 checkpoint', async () => {
    const config = tinyClipArchConfig({ vocabSize: 400, hiddenAct: 'gelu', eosTokenId: 2 });
    const ck = await writeCheckpoint(root, config, 23, 'F16');
    const out = join(root, 'onnx');
    const info = await convertClipToOnnx({ checkpointDir: ck.dir, outDir: out, precision: 'fp32' });
    assert.equal(info.text.pooling, 'argmax');

    const unpadded = [398, 10, 200, 399];
    const [got] = await runText(out, info, [unpadded]);
    assertClose(got, referenceTextEmbeds(ck.tensors, config, unpadded), 1e-4, 'text');
    // The argmax rule pools at the highest id wherever it is (here position 1, not the end).
    const peak = [5, 399, 10, 20, 30];
    const [gotPeak] = await runText(out, info, [peak]);
    assertClose(gotPeak, referenceTextEmbeds(ck.tensors, config, peak), 1e-4, 'argmax pooling');
    const [prefix] = await runText(out, info, [[5, 399]]);
    assertClose(gotPeak, prefix, 1e-5, 'argmax pooling ignores later tokens');

    const pixels = testImage(224, 9);
    assertClose(await runVision(out, info, pixels), referenceImageEmbeds(ck.tensors, config, pixels), 1e-4, 'image');
  });

  it('int8 stays within cosine 0.99 of fp32 and is built from DynamicQuantizeLinear + MatMulInteger', async () => {
    const config = tinyClipArchConfig({ vocabSize: 300 });
    const ck = await writeCheckpoint(root, config, 31);
    const fp32Dir = join(root, 'fp32');
    const int8Dir = join(root, 'int8');
    const fp32 = await convertClipToOnnx({ checkpointDir: ck.dir, outDir: fp32Dir, precision: 'fp32' });
    const int8 = await convertClipToOnnx({ checkpointDir: ck.dir, outDir: int8Dir, precision: 'int8' });
    assert.equal(int8.precision, 'int8');

    for (const file of ['text.onnx', 'vision.onnx']) {
      const bytes = await readFile(join(int8Dir, file));
      for (const op of ['DynamicQuantizeLinear', 'MatMulInteger']) assert.ok(bytes.includes(op), `${file} uses ${op}`);
      assert.ok(!(await readFile(join(fp32Dir, file))).includes('MatMulInteger'), `fp32 ${file} has no MatMulInteger`);
      // Weights shrink about 4× (embeddings, conv and LayerNorm stay fp32).
      const q = (await stat(join(int8Dir, `${file}.data`))).size;
      const f = (await stat(join(fp32Dir, `${file}.data`))).size;
      assert.ok(q < f * 0.75, `${file}.data: int8 ${q} vs fp32 ${f}`);
    }

    // onnxruntime must recognise the pattern and fuse it (that is where the speed comes from).
    const optimized = join(root, 'optimized.onnx');
    const s = await ort.InferenceSession.create(join(int8Dir, 'vision.onnx'), { ...SESSION_OPTIONS, optimizedModelFilePath: optimized });
    await s.release();
    assert.ok((await readFile(optimized)).includes('DynamicQuantizeMatMul'), 'fused into DynamicQuantizeMatMul');

    // Per-channel int8 weights (≤ 0.4 % of each column's range) and uint8 activations keep each
    // layer within ~1 %; through two layers and the projection the direction moves far less than
    // the 0.99 cosine the scores tolerate (a 0.01 cosine change moves CLIP-Score by 1 point).
    const ids = [config.text.bosTokenId, 3, 77, 150, config.text.eosTokenId];
    const [t32] = await runText(fp32Dir, fp32, [ids]);
    const [t8] = await runText(int8Dir, int8, [ids]);
    const pixels = testImage(224, 2);
    const i32 = await runVision(fp32Dir, fp32, pixels);
    const i8 = await runVision(int8Dir, int8, pixels);
    assert.ok(cosineSimilarity(t32, t8) >= 0.99, `text cosine ${cosineSimilarity(t32, t8)}`);
    assert.ok(cosineSimilarity(i32, i8) >= 0.99, `image cosine ${cosineSimilarity(i32, i8)}`);
    // And int8 is not silently fp32: the outputs differ.
    assert.ok(cosineSimilarity(i32, i8) < 0.999999, 'int8 output differs from fp32');
  });

  it('reads sharded checkpoints (model.safetensors.index.json) like single files', async () => {
    const config = tinyClipArchConfig({ vocabSize: 300 });
    const single = await writeCheckpoint(root, config, 41);
    const sharded = join(root, 'sharded');
    await mkdir(sharded);
    await writeFile(join(sharded, 'config.json'), await readFile(join(single.dir, 'config.json')));
    const names = Object.keys(single.tensors);
    const half = Math.floor(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < 2; i++) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await writeSafetensors(join(sharded, file), Object.fromEntries(shards[i].map((n) => [n, single.tensors[n]])));
      for (const n of shards[i]) weightMap[n] = file;
    }
    await writeFile(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const info = await convertClipToOnnx({ checkpointDir: sharded, outDir: join(root, 'onnx'), precision: 'fp32' });
    assert.equal(info.source_files.length, 4);
    const ids = [config.text.bosTokenId, 9, config.text.eosTokenId];
    const [got] = await runText(join(root, 'onnx'), info, [ids]);
    assertClose(got, referenceTextEmbeds(single.tensors, config, ids), 1e-4, 'sharded text');
  });

  it('ensureClipOnnx reuses a matching conversion and redoes it when the source changes', async () => {
    const config = tinyClipArchConfig({ vocabSize: 300 });
    const ck = await writeCheckpoint(root, config, 51);
    const cache = join(root, 'cache', 'fp32');
    let conversions = 0;
    const onProgress = (step: string) => {
      if (step === 'done') conversions++;
    };
    const first = await ensureClipOnnx(ck.dir, cache, 'fp32', { onProgress });
    const firstIno = (await stat(join(cache, 'text.onnx'))).ino;
    const second = await ensureClipOnnx(ck.dir, cache, 'fp32', { onProgress });
    assert.equal(conversions, 1, 'second call used the cache');
    assert.deepEqual(second, first);
    assert.equal((await stat(join(cache, 'text.onnx'))).ino, firstIno);

    // A re-downloaded checkpoint (new mtime) is converted again.
    const later = new Date(Date.now() + 5000);
    await utimes(join(ck.dir, 'model.safetensors'), later, later);
    await ensureClipOnnx(ck.dir, cache, 'fp32', { onProgress });
    assert.equal(conversions, 2);

    // A clip.json from another converter version does not count.
    const info = JSON.parse(await readFile(join(cache, CLIP_INFO_FILE), 'utf8')) as ClipOnnxInfo;
    await writeFile(join(cache, CLIP_INFO_FILE), JSON.stringify({ ...info, converter_version: 0 }));
    await ensureClipOnnx(ck.dir, cache, 'fp32', { onProgress });
    assert.equal(conversions, 3);
    assert.deepEqual(await leftovers(join(root, 'cache')), []);
  });

  it('removes temporary folders a killed conversion left behind, not those of live processes', async () => {
    const config = tinyClipArchConfig({ vocabSize: 300 });
    const ck = await writeCheckpoint(root, config, 81);
    const dead = join(root, '.onnx.partial-4194999-deadbeef');
    const live = join(root, `.onnx.partial-${process.pid}-0badf00d`);
    for (const d of [dead, live]) {
      await mkdir(d);
      await writeFile(join(d, 'vision.onnx.data'), 'x');
    }
    await convertClipToOnnx({ checkpointDir: ck.dir, outDir: join(root, 'onnx'), precision: 'fp32' });
    assert.deepEqual(await leftovers(root), [basenameOf(live)]);
  });

  it('a truncated safetensors file fails with model-format and leaves no clip.json behind', async () => {
    const config = tinyClipArchConfig({ vocabSize: 300 });
    const ck = await writeCheckpoint(root, config, 61);
    const file = join(ck.dir, 'model.safetensors');
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, bytes.length - 1000));
    const out = join(root, 'onnx');
    await assert.rejects(convertClipToOnnx({ checkpointDir: ck.dir, outDir: out, precision: 'fp32' }), (e: { code?: string; action?: string }) => e.code === 'model-format' && !!e.action);
    await assert.rejects(stat(join(out, CLIP_INFO_FILE)));
    assert.deepEqual(await leftovers(root), []);

    // A checkpoint missing a tensor the config needs is a model-format error too.
    const { tensors } = tinyClipCheckpoint(config, 61);
    delete tensors['vision_model.post_layernorm.weight'];
    await writeSafetensors(file, tensors);
    await assert.rejects(ensureClipOnnx(ck.dir, out, 'int8'), (e: { code?: string }) => e.code === 'model-format');
    await assert.rejects(stat(join(out, CLIP_INFO_FILE)));
    assert.deepEqual(await leftovers(root), []);
  });

  it('aborting mid-conversion leaves nothing that looks valid and keeps the previous conversion', async () => {
    const config = tinyClipArchConfig({ vocabSize: 300 });
    const ck = await writeCheckpoint(root, config, 71);
    const out = join(root, 'onnx');
    const controller = new AbortController();
    await assert.rejects(
      convertClipToOnnx({
        checkpointDir: ck.dir,
        outDir: out,
        precision: 'int8',
        signal: controller.signal,
        onProgress: (_step, fraction) => {
          if (fraction > 0.5) controller.abort();
        },
      }),
      (e: { code?: string }) => e.code === 'canceled',
    );
    await assert.rejects(stat(out), 'no output folder');
    assert.deepEqual(await leftovers(root), []);

    // With an earlier complete conversion in place, an aborted one leaves it untouched.
    const previous = await convertClipToOnnx({ checkpointDir: ck.dir, outDir: out, precision: 'fp32' });
    const again = new AbortController();
    await assert.rejects(
      convertClipToOnnx({ checkpointDir: ck.dir, outDir: out, precision: 'int8', signal: again.signal, onProgress: (_s, f) => f > 0.2 && again.abort() }),
      (e: { code?: string }) => e.code === 'canceled',
    );
    assert.deepEqual(JSON.parse(await readFile(join(out, CLIP_INFO_FILE), 'utf8')), previous);
    assert.deepEqual(await leftovers(root), []);
  });
});

describe('per-column int8 weight quantization', () => {
  it('is symmetric per output column with scale max|w|/127 and numpy rounding', () => {
    // [rows=3, cols=3]; column 2 is all zeros.
    const w = Float32Array.from([1.27, -0.5, 0, -2.54, 0.25, 0, 0.635, 1, 0]);
    const q = quantizePerColumn(w, 3, 3);
    assert.ok(Math.abs(q.scales[0] - 2.54 / 127) < 1e-9);
    assert.ok(Math.abs(q.scales[1] - 1 / 127) < 1e-9);
    assert.equal(q.scales[2], 1, 'an all-zero column keeps a finite scale');
    assert.deepEqual(Array.from(q.values), [64, -64, 0, -127, 32, 0, 32, 127, 0]);
    // Dequantized values are within half a step of the originals.
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(q.values[i] * q.scales[i % 3] - w[i]) <= q.scales[i % 3] / 2 + 1e-7, `value ${i}`);
  });

  it('with reduce range (7-bit weights) uses max|w|/64 and clips to ±64', () => {
    const w = Float32Array.from([1.27, -0.5, -2.54, 1]);
    const q = quantizePerColumn(w, 2, 2, 64);
    assert.ok(Math.abs(q.scales[0] - 2.54 / 64) < 1e-9);
    assert.deepEqual(Array.from(q.values), [32, -32, -64, 64]);
  });

  it('keeps 8-bit weights only where the int8 MatMul cannot saturate: VNNI on x86, or not x86', () => {
    assert.equal(int8WeightRange('x64', ['sse4_1', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni']), 127);
    assert.equal(int8WeightRange('x64', ['sse4_1', 'avx', 'avx2', 'fma', 'avx_vnni']), 127);
    assert.equal(int8WeightRange('x64', ['sse4_1', 'avx', 'avx2', 'fma', 'avx512f', 'avx512bw']), 64, 'AVX-512 without VNNI saturates too');
    assert.equal(int8WeightRange('x64', ['sse4_1', 'avx', 'avx2', 'fma']), 64);
    assert.equal(int8WeightRange('x64', null), 64, 'unknown x86 flags: the safe range');
    assert.equal(int8WeightRange('arm64', null), 127);
  });

  it('rounds halves to even like numpy', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven), [0, 2, 2, -0, -2, -2, 2, -3]);
  });
});
