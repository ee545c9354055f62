/**
 * The "FLOP limit" of this machine, measured in the same process as what it judges: one
 * [257×1280]·[1280×5120] product (a ViT-H/14 MLP layer on one image) in onnxruntime, fp32 MatMul
 * or the converter's dynamic int8, with the scorer's own session options. On a shared machine the
 * rate moves with the load, so benchmarks sample it right before each timed item.
 */
import * as ort from 'onnxruntime-node';
import { LinearLayerEmitter } from '../src/core/models/convert/linearLayer';
import { GraphBuilder } from '../src/core/models/onnx/graphBuilder';
import type { Precision } from '../src/core/scoring/types';

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Deterministic values in [-scale, scale) (xorshift; values do not change the speed). */
export function uniformFloats(n: number, scale: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}

export class MatMulProbe {
  static readonly M = 257;
  static readonly K = 1280;
  static readonly N = 5120;
  static readonly FLOPS = 2 * MatMulProbe.M * MatMulProbe.K * MatMulProbe.N;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly feeds: Record<string, ort.Tensor>,
  ) {}

  /** `threads` 0 = onnxruntime's default (all cores), as the scorer runs. */
  static async create(precision: Precision, threads: number, extra?: Record<string, string>): Promise<MatMulProbe> {
    const { M, K, N } = MatMulProbe;
    const g = new GraphBuilder('matmul');
    const x = g.input('x', 'float32', [M, K]);
    g.output(new LinearLayerEmitter(g, precision).linear(x, 'w', uniformFloats(N * K, 1 / Math.sqrt(K), 7), N, K), 'y', 'float32', [M, N]);
    const session = await ort.InferenceSession.create(g.toBuffer(), {
      graphOptimizationLevel: 'all',
      ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
      ...(extra ? { extra: { session: extra } } : {}),
    });
    const probe = new MatMulProbe(session, { x: new ort.Tensor('float32', uniformFloats(M * K, 1, 11), [M, K]) });
    await probe.rate(3);
    return probe;
  }

  /** FLOP/s (int8: effective operations/s) of the median of `runs` products now. */
  async rate(runs = 3): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await this.session.run(this.feeds);
      times.push(performance.now() - t0);
    }
    return MatMulProbe.FLOPS / (median(times) / 1000);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
