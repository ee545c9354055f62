import { strict as assert } from 'node:assert';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, attr } from '../../src/core/models/onnx/graphBuilder';
import { ExternalDataWriter } from '../../src/core/models/onnx/externalDataWriter';
import { ProtobufWriter } from '../../src/core/models/onnx/protobufWriter';

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 2, graphOptimizationLevel: 'all' };

function seq(n: number, f: (i: number) => number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => f(i));
}

/** y = LayerNorm(x·W + b) in plain TS, row by row. */
function referenceLinearLayerNorm(x: Float32Array, rows: number, k: number, w: Float32Array, n: number, b: Float32Array, eps: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const y: number[] = [];
    for (let j = 0; j < n; j++) {
      let s = b[j];
      for (let i = 0; i < k; i++) s += x[r * k + i] * w[i * n + j];
      y.push(s);
    }
    const mean = y.reduce((a, v) => a + v, 0) / n;
    const variance = y.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
    for (const v of y) out.push((v - mean) / Math.sqrt(variance + eps));
  }
  return out;
}

describe('ONNX graph builder', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cs-onnx-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('encodes varints like protobuf, including negative int64 as 10 bytes', () => {
    assert.deepEqual([...new ProtobufWriter().varintField(1, 300).finish()], [0x08, 0xac, 0x02]);
    const neg = new ProtobufWriter().varintField(1, -1).finish();
    assert.deepEqual([...neg], [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.deepEqual([...new ProtobufWriter().stringField(2, 'ab').finish()], [0x12, 0x02, 0x61, 0x62]);
    assert.deepEqual([...new ProtobufWriter().packedVarintField(8, [1, 150]).finish()], [0x42, 0x03, 0x01, 0x96, 0x01]);
  });

  it('builds an in-memory graph (MatMul, Add, LayerNorm, symbolic batch) that onnxruntime runs', async () => {
    const k = 4;
    const n = 3;
    const g = new GraphBuilder('tiny');
    const x = g.input('x', 'float32', ['batch', k]);
    const wData = seq(k * n, (i) => Math.sin(i + 1));
    const bData = Float32Array.from([0.5, -0.25, 1]);
    const y = g.add(g.matmul(x, g.initializer('w', wData, [k, n])), g.initializer('b', bData, [n]));
    const ln = g.layerNorm(y, g.constFloat([1, 1, 1]), g.constFloat([0, 0, 0]), 1e-5);
    g.output(ln, 'y', 'float32', ['batch', n]);

    const session = await ort.InferenceSession.create(g.toBuffer(), SESSION_OPTIONS);
    try {
      assert.deepEqual(session.inputNames, ['x']);
      assert.deepEqual(session.outputNames, ['y']);
      const xData = seq(2 * k, (i) => i * 0.3 - 1);
      const out = await session.run({ x: new ort.Tensor('float32', xData, [2, k]) });
      assert.deepEqual(out.y.dims, [2, n]);
      const expected = referenceLinearLayerNorm(xData, 2, k, wData, n, bData, 1e-5);
      const got = out.y.data as Float32Array;
      for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(got[i] - expected[i]) < 1e-4, `y[${i}] ${got[i]} vs ${expected[i]}`);
    } finally {
      await session.release();
    }
  });

  it('writes weights as aligned external data that onnxruntime loads from the model path', async () => {
    const k = 64;
    const n = 32;
    const dataPath = join(dir, 'm.onnx.data');
    const g = new GraphBuilder('ext', { externalData: new ExternalDataWriter(dataPath) });
    const x = g.input('x', 'float32', ['batch', 'seq', k]);
    const w1 = seq(k * n, (i) => Math.cos(i) * 0.1);
    const w2 = seq(k * n, (i) => Math.sin(i) * 0.1);
    const h = g.add(g.matmul(x, g.initializer('w1', w1, [k, n])), g.matmul(x, g.initializer('w2', w2, [k, n])));
    // Reshape with -1 and 0 exercises negative varints; Softmax and Transpose take attributes.
    const r = g.reshape(h, [0, -1]);
    const t = g.transpose(g.softmax(r, -1), [1, 0]);
    g.output(t, 'probs', 'float32', [n * 2, 'batch']);
    await g.save(join(dir, 'm.onnx'));

    // Second tensor starts on the next 4096-byte boundary after the first (8 KiB each).
    assert.equal((await stat(dataPath)).size, 4096 * 4);
    const session = await ort.InferenceSession.create(join(dir, 'm.onnx'), SESSION_OPTIONS);
    try {
      const xData = seq(2 * k, (i) => (i % 7) * 0.2);
      const out = await session.run({ x: new ort.Tensor('float32', xData, [1, 2, k]) });
      assert.deepEqual(out.probs.dims, [2 * n, 1]);
      const got = out.probs.data as Float32Array;
      const logits: number[] = [];
      for (let r2 = 0; r2 < 2; r2++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let i = 0; i < k; i++) s += xData[r2 * k + i] * (w1[i * n + j] + w2[i * n + j]);
          logits.push(s);
        }
      const m = Math.max(...logits);
      const z = logits.reduce((a, v) => a + Math.exp(v - m), 0);
      for (let i = 0; i < logits.length; i++) assert.ok(Math.abs(got[i] - Math.exp(logits[i] - m) / z) < 1e-5, `p[${i}]`);
    } finally {
      await session.release();
    }
  });

  it('runs the dynamic int8 pattern (DynamicQuantizeLinear → MatMulInteger → scale) close to fp32', async () => {
    const k = 16;
    const n = 8;
    const w = seq(k * n, (i) => Math.sin(i * 1.3) * 0.5);
    const wq = new Int8Array(k * n);
    const wScale = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      let max = 0;
      for (let i = 0; i < k; i++) max = Math.max(max, Math.abs(w[i * n + j]));
      wScale[j] = max / 127;
      for (let i = 0; i < k; i++) wq[i * n + j] = Math.round(w[i * n + j] / wScale[j]);
    }
    const g = new GraphBuilder('q');
    const x = g.input('x', 'float32', ['batch', k]);
    const [xq, xScale, xZero] = g.dynamicQuantizeLinear(x);
    const acc = g.matmulInteger(xq, g.initializer('wq', wq, [k, n]), xZero, g.initializer('wz', new Int8Array(n), [n]));
    const scale = g.mul(xScale, g.initializer('ws', wScale, [n]));
    const y = g.mul(g.cast(acc, 'float32'), scale);
    g.output(y, 'y', 'float32', ['batch', n]);
    const session = await ort.InferenceSession.create(g.toBuffer(), SESSION_OPTIONS);
    try {
      const xData = seq(k, (i) => Math.cos(i) * 2);
      const out = await session.run({ x: new ort.Tensor('float32', xData, [1, k]) });
      const got = out.y.data as Float32Array;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let i = 0; i < k; i++) s += xData[i] * w[i * n + j];
        // 8-bit activations and weights: error well under 2 % of the output range here.
        assert.ok(Math.abs(got[j] - s) < 0.05, `y[${j}] ${got[j]} vs ${s}`);
      }
    } finally {
      await session.release();
    }
  });

  it('accepts contrib-domain nodes and declares the com.microsoft opset', async () => {
    const g = new GraphBuilder('ms');
    const x = g.input('x', 'float32', [2]);
    const [y] = g.node('QuickGelu', [x], { alpha: attr.float(1.702) }, { domain: 'com.microsoft' });
    g.output(y, 'y', 'float32', [2]);
    const session = await ort.InferenceSession.create(g.toBuffer(), SESSION_OPTIONS);
    try {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, -2]), [2]) });
      const got = out.y.data as Float32Array;
      const ref = [1, -2].map((v) => v / (1 + Math.exp(-1.702 * v)));
      for (let i = 0; i < 2; i++) assert.ok(Math.abs(got[i] - ref[i]) < 1e-5);
    } finally {
      await session.release();
    }
  });
});
