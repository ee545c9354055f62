import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { convertClipToOnnx } from '../../src/core/models/convert/clipOnnx';
import { LinearLayerEmitter } from '../../src/core/models/convert/linearLayer';
import { writeSafetensors } from '../../src/core/models/safetensors';
import { ExternalDataWriter } from '../../src/core/models/onnx/externalDataWriter';
import { GraphBuilder } from '../../src/core/models/onnx/graphBuilder';
import { createSession, sessionOrigin, type SessionSettings } from '../../src/core/scoring/onnxSession';
import type { Precision } from '../../src/core/scoring/types';
import { tinyClipArchConfig, tinyClipCheckpoint } from '../../src/sandbox/tinyModels/tinyClipCheckpoint';

const K = 64;
const N = 96;
const ROWS = 5;

/** Two linear layers with weights in an external data file, as the converter writes towers. */
async function writeGraph(dir: string, precision: Precision, seed: number): Promise<string> {
  const path = join(dir, 'tower.onnx');
  const g = new GraphBuilder('tower', { externalData: new ExternalDataWriter(`${path}.data`) });
  const lin = new LinearLayerEmitter(g, precision);
  const weights = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + s) * 0.2);
  const x = g.input('x', 'float32', [ROWS, K]);
  const h = lin.linear(x, 'fc1', weights(N * K, seed), N, K, weights(N, seed + 1));
  const y = lin.linear(h, 'fc2', weights(K * N, seed + 2), K, N);
  g.output(y, 'y', 'float32', [ROWS, K]);
  await g.save(path);
  return path;
}

function feeds(): Record<string, ort.Tensor> {
  return { x: new ort.Tensor('float32', Float32Array.from({ length: ROWS * K }, (_, i) => Math.cos(i * 0.11)), [ROWS, K]) };
}

async function run(session: ort.InferenceSession): Promise<Float32Array> {
  return (await session.run(feeds())).y.data as Float32Array;
}

async function plainOutput(path: string): Promise<Float32Array> {
  const s = await createSession(path, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    return await run(s);
  } finally {
    await s.release();
  }
}

async function entries(cacheDir: string): Promise<string[]> {
  return (await readdir(cacheDir).catch(() => [] as string[])).sort();
}

describe('optimized-graph cache (onnxruntime graphs saved with pre-packed weights)', () => {
  let dir: string;
  let cacheDir: string;
  let settings: SessionSettings;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cs-optcache-'));
    cacheDir = join(dir, 'optimized');
    settings = { executionProviders: ['cpu'], intraOpNumThreads: 1, optimizedCacheDir: cacheDir, probeFeeds: feeds };
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const precision of ['fp32', 'int8'] as const) {
    it(`${precision}: the first load writes the entry, later loads map it, outputs identical to the source graph`, async () => {
      const source = await writeGraph(dir, precision, 1);
      const expected = await plainOutput(source);

      const first = await createSession(source, settings);
      assert.equal(sessionOrigin(first), 'optimized-cache-written');
      assert.deepEqual(await run(first), expected);
      await first.release();

      const [entry, ...more] = await entries(cacheDir);
      assert.equal(more.length, 0, 'one entry');
      assert.match(entry, /^tower-[0-9a-f]{16}$/);
      const files = await readdir(join(cacheDir, entry));
      assert.deepEqual(files.sort(), ['model.onnx', 'model.onnx.data', 'stamp.json']);
      const stamp = JSON.parse(await readFile(join(cacheDir, entry, 'stamp.json'), 'utf8'));
      assert.equal(stamp.onnxruntime, ort.env.versions.common);
      assert.deepEqual(stamp.source.map((f: { name: string }) => f.name), ['tower.onnx', 'tower.onnx.data']);
      assert.match(stamp.source[0].sha256, /^[0-9a-f]{64}$/);

      const second = await createSession(source, settings);
      assert.equal(sessionOrigin(second), 'optimized-cache-hit');
      assert.deepEqual(await run(second), expected);
      await second.release();
    });
  }

  it('a changed source graph gets a new entry and the stale one is deleted', async () => {
    const source = await writeGraph(dir, 'fp32', 1);
    await (await createSession(source, settings)).release();
    const [old] = await entries(cacheDir);

    await writeGraph(dir, 'fp32', 7);
    const expected = await plainOutput(source);
    const s = await createSession(source, settings);
    assert.equal(sessionOrigin(s), 'optimized-cache-written');
    assert.deepEqual(await run(s), expected);
    await s.release();
    const now = await entries(cacheDir);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], old);
  });

  it('a damaged entry (short data file) is never mapped: it is written again', async () => {
    const source = await writeGraph(dir, 'fp32', 1);
    const expected = await plainOutput(source);
    await (await createSession(source, settings)).release();
    const [entry] = await entries(cacheDir);
    await truncate(join(cacheDir, entry, 'model.onnx.data'), 100);

    const s = await createSession(source, settings);
    assert.equal(sessionOrigin(s), 'optimized-cache-written');
    assert.deepEqual(await run(s), expected);
    await s.release();
    const again = await createSession(source, settings);
    assert.equal(sessionOrigin(again), 'optimized-cache-hit');
    await again.release();
  });

  it('a cache folder that cannot be written falls back to a plain session and says why', async () => {
    const source = await writeGraph(dir, 'fp32', 1);
    await writeFile(cacheDir, 'a file where the cache folder should be');
    const warnings: string[] = [];
    const log = () => {};
    const s = await createSession(source, { ...settings, logger: { trace: log, debug: log, info: log, error: log, warn: (m: string) => warnings.push(m) } });
    assert.equal(sessionOrigin(s), 'plain');
    assert.deepEqual(await run(s), await plainOutput(source));
    await s.release();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /cannot be written/);
  });

  it('without probe inputs there is no cache (a saved graph is never kept unchecked)', async () => {
    const source = await writeGraph(dir, 'fp32', 1);
    const s = await createSession(source, { ...settings, probeFeeds: undefined });
    assert.equal(sessionOrigin(s), 'plain');
    await s.release();
    assert.deepEqual(await entries(cacheDir), []);
  });

  it('a saved graph that crashes onnxruntime 1.30 when loaded back is marked, never published or mapped', async () => {
    // A real reproducer: the tiny CLIP text tower (symbolic sequence length) saved with
    // pre-packed weights segfaults onnxruntime 1.30.0 on its first run after loading.
    const checkpoint = join(dir, 'checkpoint');
    await mkdir(checkpoint);
    const { configJson, tensors } = tinyClipCheckpoint(tinyClipArchConfig({ vocabSize: 1000 }), 11);
    await writeSafetensors(join(checkpoint, 'model.safetensors'), tensors);
    await writeFile(join(checkpoint, 'config.json'), JSON.stringify(configJson));
    const info = await convertClipToOnnx({ checkpointDir: checkpoint, outDir: join(dir, 'onnx'), precision: 'fp32' });
    const text = join(dir, 'onnx', info.text.file);
    const ids = () => ({ [info.text.input]: new ort.Tensor('int64', BigInt64Array.from([998n, 5n, 6n, 999n]), [1, 4]) });
    const warnings: string[] = [];
    const log = () => {};
    const logger = { trace: log, debug: log, info: log, error: log, warn: (m: string) => warnings.push(m) };

    const first = await createSession(text, { ...settings, probeFeeds: ids, logger });
    assert.equal(sessionOrigin(first), 'optimized-cache-unsupported');
    const expected = (await first.run(ids()))[info.text.output].data;
    await first.release();
    assert.match(warnings.join('\n'), /not kept: loading the saved graph in a separate process crashed: it was killed by SIGSEGV/);
    const names = await entries(cacheDir);
    assert.equal(names.length, 1, names.join(', '));
    assert.match(names[0], /^text-[0-9a-f]{16}\.unsupported\.json$/);

    const second = await createSession(text, { ...settings, probeFeeds: ids, logger });
    assert.equal(sessionOrigin(second), 'optimized-cache-unsupported');
    assert.deepEqual((await second.run(ids()))[info.text.output].data, expected);
    await second.release();
    assert.deepEqual(await entries(cacheDir), names, 'no second attempt');
  });

  it('leaves no temporary folder behind and removes those of dead processes', async () => {
    const source = await writeGraph(dir, 'int8', 3);
    await mkdir(cacheDir, { recursive: true });
    // A pid that cannot be running (above the kernel's pid_max).
    await mkdir(join(cacheDir, '.tower-0123456789abcdef.partial-99999999-deadbeef'));
    await (await createSession(source, settings)).release();
    const names = await entries(cacheDir);
    assert.equal(names.length, 1);
    assert.ok(!names[0].includes('.partial-'), names.join(', '));
  });
});
