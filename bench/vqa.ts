/**
 * VQAScore benchmark: full-size random-weight SmolVLM-256M-shaped graphs (bench/vqaFullSizeModel.ts)
 * scored through the production VqaScorer, per variant, in one process:
 *
 *   npx tsx bench/vqa.ts [--variants int8,q4,fp32] [--images 8] [--threads 2] [--resize fast|exact] [--keep DIR]
 *
 * Prints, per variant: load time, median time per image (whole score(): decode + preprocessing +
 * vision + embed + decoder), the preprocessing share, FLOPs per image, and the time ÷ FLOP limit
 * (FLOPs ÷ the MatMul rate of that precision measured in this process). DESIGN.md target: VQAScore
 * adds ≤ 0.5 × the time of the other three metrics (compare with bench/scoring.ts on the same machine).
 * Needs ~1.7 GB in a temp folder (deleted unless --keep) and a few minutes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { LinearLayerEmitter } from '../src/core/models/convert/linearLayer';
import { GraphBuilder } from '../src/core/models/onnx/graphBuilder';
import { vqaPromptText } from '../src/core/scoring/vqa/chatPrompt';
import { idefics3ConfigFromJson, idefics3Preprocess, type Idefics3ResizeMode } from '../src/core/scoring/vqa/idefics3Preprocess';
import { parseSmolVlmVariant } from '../src/core/scoring/vqa/smolvlmVariant';
import { VqaScorer } from '../src/core/scoring/vqa/vqaScorer';
import { decoderFlops, visionFlops, writeFullSizeSmolVlm, type BenchPrecision } from './vqaFullSizeModel';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median rate of [257×1280]·[1280×5120], fp32 MatMul or dynamic int8, as bench/scoring.ts measures it. */
async function matmulRate(precision: 'fp32' | 'int8', threads: number): Promise<number> {
  const [m, k, n] = [257, 1280, 5120];
  const g = new GraphBuilder('matmul');
  const x = g.input('x', 'float32', [m, k]);
  const w = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i) * 0.03);
  g.output(new LinearLayerEmitter(g, precision).linear(x, 'w', w, n, k), 'y', 'float32', [m, n]);
  const session = await ort.InferenceSession.create(g.toBuffer(), { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  try {
    const feeds = { x: new ort.Tensor('float32', Float32Array.from({ length: m * k }, (_, i) => Math.cos(i)), [m, k]) };
    for (let i = 0; i < 3; i++) await session.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < 11; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t0);
    }
    return (2 * m * k * n) / (median(times) / 1000);
  } finally {
    await session.release();
  }
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
  const vision = [...new Set(parsed.map((p) => p.vision))] as BenchPrecision[];
  const decoder = [...new Set(parsed.map((p) => p.decoder))] as BenchPrecision[];
  const prompt = 'a watercolor painting of a red fox sitting in a snowy birch forest at dawn';
  try {
    let t0 = performance.now();
    await writeFullSizeSmolVlm(dir, { vision, decoder }, [vqaPromptText(prompt, 0), 'Assistant User']);
    console.log(`built graphs (vision ${vision.join('/')}, decoder ${decoder.join('/')}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const fp32Rate = await matmulRate('fp32', threads);
    const int8Rate = await matmulRate('int8', threads);
    console.log(`MatMul rate, ${threads} threads: fp32 ${(fp32Rate / 1e9).toFixed(0)} GFLOP/s, int8 ${(int8Rate / 1e9).toFixed(0)} GOPS`);
    const images = await benchImages(imageCount);

    const preprocessConfig = idefics3ConfigFromJson({ max_image_size: { longest_edge: 512 }, size: { longest_edge: 2048 }, resample: 1 });
    const preprocessMs: Record<Idefics3ResizeMode, number> = { fast: 0, exact: 0 };
    for (const mode of ['fast', 'exact'] as const) {
      const times: number[] = [];
      for (const image of images) {
        t0 = performance.now();
        await idefics3Preprocess(image, preprocessConfig, mode);
        times.push(performance.now() - t0);
      }
      preprocessMs[mode] = median(times);
    }
    console.log(
      `decode + Idefics3 preprocessing of a 1024² PNG, median: fast (sharp lanczos3 → 512²) ${preprocessMs.fast.toFixed(0)} ms, ` +
        `exact (Pillow LANCZOS → 2048² → 512²) ${preprocessMs.exact.toFixed(0)} ms; the scorer below uses --resize ${resize}`,
    );

    for (const variant of variants) {
      t0 = performance.now();
      const scorer = await VqaScorer.load(dir, { variant, intraOpNumThreads: threads, resize });
      const loadMs = performance.now() - t0;
      const tokens = scorer.promptTokenIds(prompt).length;
      await scorer.score(images[0], prompt); // warm-up
      const times: number[] = [];
      let last = 0;
      for (const image of images) {
        t0 = performance.now();
        last = (await scorer.score(image, prompt)).raw;
        times.push(performance.now() - t0);
      }
      await scorer.dispose();
      const p = parseSmolVlmVariant(variant);
      const flops = visionFlops() + decoderFlops(tokens);
      const rate = (precision: string) => (precision === 'fp32' ? fp32Rate : int8Rate);
      const limitMs = ((visionFlops() / rate(p.vision) + decoderFlops(tokens) / rate(p.decoder)) * 1000);
      const perImage = median(times);
      const modelMs = perImage - preprocessMs[resize];
      console.log(
        `${scorer.modelName}: load ${(loadMs / 1000).toFixed(1)} s, ${tokens} tokens, ${(flops / 1e9).toFixed(0)} GFLOP/image; ` +
          `median ${perImage.toFixed(0)} ms/image (${imageCount} images: ${(times.reduce((a, b) => a + b, 0) / 1000).toFixed(2)} s), ` +
          `model part ~${modelMs.toFixed(0)} ms = ${(modelMs / limitMs).toFixed(2)} × its FLOP limit ${limitMs.toFixed(0)} ms; ` +
          `P(yes) of the last image ${last.toExponential(2)}; peak RSS so far ${(process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2)} GB`,
      );
    }
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
