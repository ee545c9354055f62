/**
 * VQAScore benchmark: full-size random-weight SmolVLM-256M-shaped graphs (bench/vqaFullSizeModel.ts)
 * scored through the production VqaScorer, per variant, in one process:
 *
 *   npx tsx bench/vqa.ts [--variants int8,q4,fp32] [--images 8] [--threads 2] [--resize fast|exact] [--keep DIR]
 *
 * Prints medians for: decode + preprocessing (fast and exact resize), each graph alone (vision
 * encoder per precision, decoder per precision at 107 tokens), and VqaScorer.score per variant
 * (decode + preprocessing + vision + embed + decoder). Each timed run is paired with a MatMul
 * probe run just before it, so every figure is also given as time ÷ FLOP limit at that moment's
 * rate (robust on a shared machine) and as the time that ratio implies at FACTS.md's idle rates.
 * DESIGN.md target: VQAScore adds ≤ 0.5 × the time of the other three metrics (bench/scoring.ts).
 * Needs ~1.7 GB in a temp folder (deleted unless --keep; an existing --keep folder is reused) and
 * a few minutes.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { LinearLayerEmitter } from '../src/core/models/convert/linearLayer';
import { GraphBuilder } from '../src/core/models/onnx/graphBuilder';
import { vqaPromptText } from '../src/core/scoring/vqa/chatPrompt';
import { idefics3ConfigFromJson, idefics3Preprocess, type Idefics3ResizeMode } from '../src/core/scoring/vqa/idefics3Preprocess';
import { parseSmolVlmVariant, smolVlmOnnxPath } from '../src/core/scoring/vqa/smolvlmVariant';
import { VqaScorer } from '../src/core/scoring/vqa/vqaScorer';
import { SMOLVLM_256M, decoderFlops, visionFlops, writeFullSizeSmolVlm, type BenchPrecision } from './vqaFullSizeModel';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * A [257×1280]·[1280×5120] MatMul session (fp32 MatMul or dynamic int8), as bench/scoring.ts
 * measures the rate. The machine is shared, so every timed item is paired with a probe run just
 * before it and reported as a ratio to the FLOP limit at that moment's rate.
 */
class MatmulProbe {
  static readonly flops = 2 * 257 * 1280 * 5120;
  private constructor(private readonly session: ort.InferenceSession, private readonly feeds: Record<string, ort.Tensor>) {}

  static async create(precision: 'fp32' | 'int8', threads: number): Promise<MatmulProbe> {
    const [m, k, n] = [257, 1280, 5120];
    const g = new GraphBuilder('matmul');
    const x = g.input('x', 'float32', [m, k]);
    const w = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i) * 0.03);
    g.output(new LinearLayerEmitter(g, precision).linear(x, 'w', w, n, k), 'y', 'float32', [m, n]);
    const session = await ort.InferenceSession.create(g.toBuffer(), { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
    const probe = new MatmulProbe(session, { x: new ort.Tensor('float32', Float32Array.from({ length: m * k }, (_, i) => Math.cos(i)), [m, k]) });
    for (let i = 0; i < 3; i++) await probe.rate();
    return probe;
  }

  /** FLOP/s of one run now (median of 3). */
  async rate(): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await this.session.run(this.feeds);
      times.push(performance.now() - t0);
    }
    return MatmulProbe.flops / (median(times) / 1000);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** FACTS.md §1 rates on an idle machine of this kind, for the "estimated idle time" column. */
const IDLE_RATE = { fp32: 463e9, int8: 930e9 } as const;
const rateKind = (precision: string): 'fp32' | 'int8' => (precision === 'fp32' ? 'fp32' : 'int8');

/** Times `work` `count` times, each paired with a probe; returns median ms and median time ÷ limit. */
async function paired(count: number, probe: MatmulProbe, flops: number, work: () => Promise<unknown>): Promise<{ ms: number; ratio: number }> {
  const ms: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < count; i++) {
    const rate = await probe.rate();
    const t0 = performance.now();
    await work();
    const elapsed = performance.now() - t0;
    ms.push(elapsed);
    ratios.push(elapsed / ((flops / rate) * 1000));
  }
  return { ms: median(ms), ratio: median(ratios) };
}

/** One graph alone, with inputs shaped as the scorer feeds it. */
async function graphOnly(path: string, threads: number, feeds: Record<string, ort.Tensor>): Promise<{ run: () => Promise<unknown>; release: () => Promise<void> }> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  await session.run(feeds);
  return { run: () => session.run(feeds), release: () => session.release() };
}

function decoderFeeds(tokens: number): Record<string, ort.Tensor> {
  const m = SMOLVLM_256M;
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: new ort.Tensor('float32', Float32Array.from({ length: tokens * m.hidden }, (_, i) => Math.sin(i)), [1, tokens, m.hidden]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(tokens).fill(1n), [1, tokens]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: tokens }, (_, i) => BigInt(i)), [1, tokens]),
  };
  for (let l = 0; l < m.layers; l++) {
    for (const kind of ['key', 'value']) feeds[`past_key_values.${l}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, m.kvHeads, 0, m.headDim]);
  }
  return feeds;
}

function visionFeeds(): Record<string, ort.Tensor> {
  const size = SMOLVLM_256M.imageSize;
  return {
    pixel_values: new ort.Tensor('float32', Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i) * 0.9), [1, 1, 3, size, size]),
    pixel_attention_mask: new ort.Tensor('bool', new Uint8Array(size * size).fill(1), [1, 1, size, size]),
  };
}

/** 1024² PNGs like generated images: smooth colour fields plus noise (realistic decode cost). */
async function benchImages(count: number): Promise<Buffer[]> {
  const images: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const base = await sharp({ create: { width: 1024, height: 1024, channels: 3, background: { r: 40 * i, g: 120, b: 255 - 30 * i }, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .blur(3)
      .png()
      .toBuffer();
    images.push(base);
  }
  return images;
}

async function main(): Promise<void> {
  const variants = option('variants', 'int8,q4,fp32').split(',');
  const imageCount = Number(option('images', '8'));
  const threads = Number(option('threads', '2'));
  const keep = option('keep', '');
  const resize = option('resize', 'fast') as Idefics3ResizeMode;
  const dir = keep || (await mkdtemp(join(tmpdir(), 'contact-sheet-vqa-bench-')));
  const parsed = variants.map((v) => parseSmolVlmVariant(v));
  const visionPrecisions = [...new Set(parsed.map((p) => p.vision))] as BenchPrecision[];
  const decoderPrecisions = [...new Set(parsed.map((p) => p.decoder))] as BenchPrecision[];
  const prompt = 'a watercolor painting of a red fox sitting in a snowy birch forest at dawn';
  const probes = { fp32: await MatmulProbe.create('fp32', threads), int8: await MatmulProbe.create('int8', threads) };
  try {
    let t0 = performance.now();
    if (!(keep && existsSync(join(dir, 'config.json')))) {
      await writeFullSizeSmolVlm(dir, { vision: visionPrecisions, decoder: decoderPrecisions }, [vqaPromptText(prompt, 0), 'Assistant User']);
      console.log(`built graphs (vision ${visionPrecisions.join('/')}, decoder ${decoderPrecisions.join('/')}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    console.log(`MatMul rate now, ${threads} threads: fp32 ${((await probes.fp32.rate()) / 1e9).toFixed(0)} GFLOP/s, int8 ${((await probes.int8.rate()) / 1e9).toFixed(0)} GOPS (idle machine: ~463 / ~930)`);
    const images = await benchImages(imageCount);

    const preprocessConfig = idefics3ConfigFromJson({ max_image_size: { longest_edge: 512 }, size: { longest_edge: 2048 }, resample: 1 });
    for (const mode of ['fast', 'exact'] as const) {
      let i = 0;
      const r = await paired(imageCount, probes.fp32, 1e9, () => idefics3Preprocess(images[i++ % images.length], preprocessConfig, mode));
      console.log(`decode + preprocessing (${mode}) of a 1024² PNG: median ${r.ms.toFixed(0)} ms now = ${r.ratio.toFixed(2)} × the time of 1 GFLOP at the fp32 rate`);
    }

    const tokens = 107;
    for (const p of visionPrecisions) {
      const g = await graphOnly(join(dir, smolVlmOnnxPath('vision_encoder', p)), threads, visionFeeds());
      const r = await paired(imageCount, probes[rateKind(p)], visionFlops(), g.run);
      await g.release();
      report(`vision_encoder ${p}`, r, visionFlops(), rateKind(p));
    }
    for (const p of decoderPrecisions) {
      const g = await graphOnly(join(dir, smolVlmOnnxPath('decoder_model_merged', p)), threads, decoderFeeds(tokens));
      const r = await paired(imageCount, probes[rateKind(p)], decoderFlops(tokens), g.run);
      await g.release();
      report(`decoder_model_merged ${p} (${tokens} tokens)`, r, decoderFlops(tokens), rateKind(p));
    }

    for (const variant of variants) {
      t0 = performance.now();
      const scorer = await VqaScorer.load(dir, { variant, intraOpNumThreads: threads, resize });
      const loadMs = performance.now() - t0;
      const promptTokens = scorer.promptTokenIds(prompt).length;
      await scorer.score(images[0], prompt); // warm-up
      const p = parseSmolVlmVariant(variant);
      const flops = visionFlops() + decoderFlops(promptTokens);
      let i = 0;
      const r = await paired(imageCount, probes[rateKind(p.vision)], flops, () => scorer.score(images[i++ % images.length], prompt));
      await scorer.dispose();
      report(`VqaScorer.score, ${scorer.modelName}, resize ${resize}, ${promptTokens} tokens, load ${(loadMs / 1000).toFixed(1)} s`, r, flops, rateKind(p.vision));
    }
    console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2)} GB`);
  } finally {
    await Promise.all([probes.fp32.release(), probes.int8.release()]);
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

function report(what: string, r: { ms: number; ratio: number }, flops: number, kind: 'fp32' | 'int8'): void {
  const idleEstimate = r.ratio * (flops / IDLE_RATE[kind]) * 1000;
  console.log(
    `${what}: ${(flops / 1e9).toFixed(1)} GFLOP; median ${r.ms.toFixed(0)} ms now = ${r.ratio.toFixed(2)} × its ${kind} FLOP limit; ` +
      `≈ ${idleEstimate.toFixed(0)} ms at the idle-machine rate`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
