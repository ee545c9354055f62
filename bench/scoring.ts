/**
 * Scoring benchmark: full-size random-weight PickScore (CLIP ViT-H/14) and CLIP ViT-L/14 towers,
 * built by the project's converter, scored in onnxruntime-node with the scorer's session options.
 *
 *   npm run bench:scoring [-- --precision fp32,int8 --images 8 --repeats 1 --threads 2 --low-memory --keep DIR]
 *
 * Every figure that matters is a ratio measured in one process (machines of this kind differ ~3×):
 * each precision runs in its own child process, which measures the MatMul rate ([257×1280]·[1280×5120],
 * fp32 or dynamic int8), then scores 8 images + 1 prompt warm (PickScore + CLIP-L, text and vision)
 * and prints time ÷ (FLOPs ÷ that rate) and its peak RSS. DESIGN.md targets: ≤ 1.1 fp32, ≤ 1.2 int8.
 * Needs ~5.6 GB (fp32) + 1.7 GB (int8) in a temp folder, deleted at the end. Minutes: not for CI.
 *
 * int8 accuracy on REAL weights (random weights cannot tell; run it where the model is downloaded):
 *   npm run bench:scoring -- --accuracy <folder with config.json, model.safetensors, tokenizer.json,
 *                            preprocessor_config.json> [--images a.png,b.jpg,...]
 * converts the checkpoint in fp32 and int8 and prints, per prompt and image, how far int8 moves
 * the embeddings (cosine to fp32) and the scores (100·cos and logit_scale·cos), and whether the
 * best image per prompt stays the same.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, readdir } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Precision } from '../src/core/scoring/types';
import type { ClipArchConfig, ClipEncoderConfig } from '../src/core/models/convert/clipConfig';
import { buildTextGraph, buildVisionGraph, type ClipTensorSource, type TowerBuildContext } from '../src/core/models/convert/clipGraphs';
import { ExternalDataWriter } from '../src/core/models/onnx/externalDataWriter';
import { GraphBuilder } from '../src/core/models/onnx/graphBuilder';
import { LinearLayerEmitter } from '../src/core/models/convert/linearLayer';
import { convertClipToOnnx, type ClipOnnxInfo } from '../src/core/models/convert/clipOnnx';
import { ClipTokenizer } from '../src/core/scoring/clipTokenizer';
import { clipImageConfigFromPreprocessorJson, clipPixelValues } from '../src/core/scoring/clipPreprocess';
import { cosineSimilarity } from '../src/sandbox/cosineSimilarity';

// ---- architectures (FACTS.md §3) -------------------------------------------------------------

const PICKSCORE_VIT_H14: ClipArchConfig = {
  projectionDim: 1024,
  logitScaleInitValue: 2.6592,
  text: { vocabSize: 49408, hiddenSize: 1024, intermediateSize: 4096, numAttentionHeads: 16, numHiddenLayers: 24, maxPositionEmbeddings: 77, hiddenAct: 'gelu', layerNormEps: 1e-5, bosTokenId: 49406, eosTokenId: 49407 },
  vision: { hiddenSize: 1280, intermediateSize: 5120, numAttentionHeads: 16, numHiddenLayers: 32, hiddenAct: 'gelu', layerNormEps: 1e-5, imageSize: 224, patchSize: 14, numChannels: 3 },
};

const CLIP_VIT_L14: ClipArchConfig = {
  projectionDim: 768,
  logitScaleInitValue: 2.6592,
  text: { vocabSize: 49408, hiddenSize: 768, intermediateSize: 3072, numAttentionHeads: 12, numHiddenLayers: 12, maxPositionEmbeddings: 77, hiddenAct: 'quick_gelu', layerNormEps: 1e-5, bosTokenId: 49406, eosTokenId: 2 },
  vision: { hiddenSize: 1024, intermediateSize: 4096, numAttentionHeads: 16, numHiddenLayers: 24, hiddenAct: 'quick_gelu', layerNormEps: 1e-5, imageSize: 224, patchSize: 14, numChannels: 3 },
};

const MODELS = { pickscore: PICKSCORE_VIT_H14, clip_l: CLIP_VIT_L14 } as const;
type ModelName = keyof typeof MODELS;

// ---- FLOPs (multiply-add = 2) ------------------------------------------------------------------

function encoderFlops(c: ClipEncoderConfig, tokens: number): number {
  const d = c.hiddenSize;
  const perLayer = 2 * tokens * d * (4 * d + 2 * c.intermediateSize) + 2 * 2 * tokens * tokens * d;
  return c.numHiddenLayers * perLayer;
}

function visionFlops(a: ClipArchConfig): number {
  const v = a.vision;
  const patches = (v.imageSize / v.patchSize) ** 2;
  return 2 * patches * v.hiddenSize * v.numChannels * v.patchSize ** 2 + encoderFlops(v, patches + 1) + 2 * v.hiddenSize * a.projectionDim;
}

function textFlops(a: ClipArchConfig, tokens: number): number {
  return encoderFlops(a.text, tokens) + 2 * a.text.hiddenSize * a.projectionDim;
}

// ---- random full-size weights ----------------------------------------------------------------

/** Deterministic uniform weights with a sane scale per tensor kind (values do not change speed). */
class RandomClipWeights implements ClipTensorSource {
  private state = 0x2545f491;

  async readFloat32(name: string, shape: number[] = []): Promise<Float32Array> {
    const n = shape.reduce((a, d) => a * d, 1);
    const isNorm = /norm|layrnorm/.test(name);
    const mean = isNorm && name.endsWith('.weight') ? 1 : 0;
    const std = isNorm || name.endsWith('.bias') ? 0.02 : name.includes('embedding') ? 0.1 : 1 / Math.sqrt(shape.slice(1).reduce((a, d) => a * d, 1) || 1);
    const out = new Float32Array(n);
    const amp = std * Math.sqrt(3) * 2;
    let s = this.state;
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      out[i] = mean + ((s >>> 0) / 4294967296 - 0.5) * amp;
    }
    this.state = s;
    return out;
  }
}

async function buildTowers(model: ModelName, precision: Precision, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [file, build] of [['text.onnx', buildTextGraph], ['vision.onnx', buildVisionGraph]] as const) {
    const externalData = new ExternalDataWriter(join(dir, `${file}.data`));
    try {
      const ctx: TowerBuildContext = { reader: new RandomClipWeights(), config: MODELS[model], precision, externalData, producerVersion: 'bench' };
      const g = await build(ctx);
      await g.save(join(dir, file));
    } finally {
      externalData.close();
    }
  }
}

// ---- measurements (child process) -------------------------------------------------------------

function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Times [257×1280]·[1280×5120] in ORT, fp32 (MatMul) or int8 (the converter's dynamic
 * quantization), with the scorer's session options. `sample` returns the median rate.
 */
class MatMulProbe {
  static readonly M = 257;
  static readonly K = 1280;
  static readonly N = 5120;

  private constructor(private readonly session: ort.InferenceSession, private readonly feeds: Record<string, ort.Tensor>) {}

  static async create(precision: Precision, threads: number): Promise<MatMulProbe> {
    const { M, K, N } = MatMulProbe;
    const g = new GraphBuilder('matmul');
    const x = g.input('x', 'float32', [M, K]);
    const w = await new RandomClipWeights().readFloat32('w.weight', [N, K]);
    g.output(new LinearLayerEmitter(g, precision).linear(x, 'w', w, N, K), 'y', 'float32', [M, N]);
    const session = await ort.InferenceSession.create(g.toBuffer(), sessionOptions(threads));
    const probe = new MatMulProbe(session, { x: new ort.Tensor('float32', await new RandomClipWeights().readFloat32('x', [M, K]), [M, K]) });
    await probe.sample(3);
    return probe;
  }

  async sample(runs: number): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await this.session.run(this.feeds);
      times.push(performance.now() - t0);
    }
    return (2 * MatMulProbe.M * MatMulProbe.K * MatMulProbe.N) / (median(times) / 1000);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

interface ScoreResult {
  precision: Precision;
  lowMemory: boolean;
  /** Median MatMul rates measured before and after the scoring runs. */
  fp32Rates: [number, number];
  int8Rates: [number, number];
  /**
   * Rates of the run's own precision probed between the prompt and each image (not counted in the
   * run's time): on a shared machine they see the same contention as the scoring itself.
   */
  interleavedRates: number[];
  loadMs: number;
  runsMs: number[];
  textMs: Record<ModelName, number>;
  visionMsPerImage: Record<ModelName, number>;
  flops: number;
  peakRssBytes: number;
  loadAverage: number[];
}

async function scoreChild(dir: string, precision: Precision, images: number, repeats: number, threads: number, lowMemory: boolean): Promise<ScoreResult> {
  const fp32Probe = await MatMulProbe.create('fp32', threads);
  const int8Probe = await MatMulProbe.create('int8', threads);
  const probe = precision === 'fp32' ? fp32Probe : int8Probe;
  const fp32Before = await fp32Probe.sample(15);
  const int8Before = await int8Probe.sample(15);
  const interleavedRates: number[] = [];
  const opts = sessionOptions(threads);
  const promptIds = BigInt64Array.from({ length: 77 }, (_, i) => BigInt(i === 0 ? 49406 : i === 76 ? 49407 : 300 + i));
  const pixels = Array.from({ length: images }, (_, i) => Float32Array.from({ length: 3 * 224 * 224 }, (_, j) => Math.sin(i * 7 + j * 0.01)));
  const names = Object.keys(MODELS) as ModelName[];
  const sessions = new Map<string, ort.InferenceSession>();
  const open = async (model: ModelName, tower: 'text' | 'vision') => {
    const key = `${model}/${tower}`;
    let s = sessions.get(key);
    if (!s) {
      s = await ort.InferenceSession.create(join(dir, precision, model, `${tower}.onnx`), opts);
      sessions.set(key, s);
    }
    return s;
  };
  const release = async (model: ModelName, tower: 'text' | 'vision') => {
    const key = `${model}/${tower}`;
    await sessions.get(key)?.release();
    sessions.delete(key);
  };
  const textMs = {} as Record<ModelName, number>;
  const visionMs = { pickscore: 0, clip_l: 0 };

  /**
   * One scoring run as the scorer does it: the prompt once per model, then each image through
   * both vision towers (low memory: one tower loaded at a time, loads counted). Returns its time
   * without the interleaved probes.
   */
  const run = async (): Promise<number> => {
    let spent = 0;
    const timed = async (f: () => Promise<unknown>) => {
      const t0 = performance.now();
      await f();
      const ms = performance.now() - t0;
      spent += ms;
      return ms;
    };
    for (const model of names) {
      textMs[model] = await timed(async () => (await open(model, 'text')).run({ input_ids: new ort.Tensor('int64', promptIds, [1, 77]) }));
      if (lowMemory) await timed(() => release(model, 'text'));
    }
    interleavedRates.push(await probe.sample(3));
    const perModel = { pickscore: 0, clip_l: 0 };
    if (lowMemory) {
      for (const model of names) {
        await timed(() => open(model, 'vision'));
        for (const p of pixels) {
          perModel[model] += await timed(async () => (await open(model, 'vision')).run({ pixel_values: new ort.Tensor('float32', p, [1, 3, 224, 224]) }));
          interleavedRates.push(await probe.sample(3));
        }
        await timed(() => release(model, 'vision'));
      }
    } else {
      for (const p of pixels) {
        for (const model of names) perModel[model] += await timed(async () => (await open(model, 'vision')).run({ pixel_values: new ort.Tensor('float32', p, [1, 3, 224, 224]) }));
        interleavedRates.push(await probe.sample(3));
      }
    }
    for (const model of names) visionMs[model] = perModel[model] / images;
    return spent;
  };

  const l0 = performance.now();
  if (!lowMemory) for (const model of names) for (const tower of ['text', 'vision'] as const) await open(model, tower);
  const loadMs = performance.now() - l0;
  if (!lowMemory) {
    // Warm-up: one pass through every session (first runs allocate and pre-pack).
    for (const model of names) {
      await (await open(model, 'text')).run({ input_ids: new ort.Tensor('int64', promptIds, [1, 77]) });
      await (await open(model, 'vision')).run({ pixel_values: new ort.Tensor('float32', pixels[0], [1, 3, 224, 224]) });
    }
  }
  const runsMs: number[] = [];
  for (let r = 0; r < repeats; r++) runsMs.push(await run());
  for (const key of [...sessions.keys()]) {
    const [model, tower] = key.split('/') as [ModelName, 'text' | 'vision'];
    await release(model, tower);
  }
  const fp32Rates: [number, number] = [fp32Before, await fp32Probe.sample(15)];
  const int8Rates: [number, number] = [int8Before, await int8Probe.sample(15)];
  await fp32Probe.release();
  await int8Probe.release();
  const flops = names.reduce((a, m) => a + images * visionFlops(MODELS[m]) + textFlops(MODELS[m], 77), 0);
  return {
    precision,
    lowMemory,
    fp32Rates,
    int8Rates,
    interleavedRates,
    loadMs,
    runsMs,
    textMs,
    visionMsPerImage: visionMs,
    flops,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    loadAverage: loadavg(),
  };
}

// ---- int8 accuracy on real weights ------------------------------------------------------------

const ACCURACY_PROMPTS = [
  'a photograph of an astronaut riding a horse',
  'a red cube on top of a blue sphere',
  'an oil painting of a lighthouse in a storm, dramatic lighting',
  'a cat sleeping on a laptop keyboard',
  'a bowl of ramen with a soft boiled egg, studio photo',
  'the word "hello" written in neon letters',
];

async function embedAll(dir: string, info: ClipOnnxInfo, ids: BigInt64Array[], pixels: Float32Array[], size: number): Promise<{ text: Float32Array[]; image: Float32Array[] }> {
  const opts = sessionOptions(2);
  const t = await ort.InferenceSession.create(join(dir, info.text.file), opts);
  const text: Float32Array[] = [];
  for (const i of ids) text.push((await t.run({ [info.text.input]: new ort.Tensor('int64', i, [1, i.length]) }))[info.text.output].data as Float32Array);
  await t.release();
  const v = await ort.InferenceSession.create(join(dir, info.vision.file), opts);
  const image: Float32Array[] = [];
  for (const p of pixels) image.push((await v.run({ [info.vision.input]: new ort.Tensor('float32', p, [1, 3, size, size]) }))[info.vision.output].data as Float32Array);
  await v.release();
  return { text, image };
}

async function accuracy(modelDir: string, imageFiles: string[]): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'cs-bench-accuracy-'));
  try {
    const tokenizer = await ClipTokenizer.load(join(modelDir, 'tokenizer.json'));
    const imageConfig = clipImageConfigFromPreprocessorJson(JSON.parse(await readFile(join(modelDir, 'preprocessor_config.json'), 'utf8')));
    const size = imageConfig.cropHeight;
    const ids = ACCURACY_PROMPTS.map((p) => tokenizer.encode(p).ids);
    const pixels = imageFiles.length
      ? await Promise.all(imageFiles.map(async (f) => clipPixelValues(await readFile(f), imageConfig)))
      : Array.from({ length: 4 }, (_, k) => Float32Array.from({ length: 3 * size * size }, (_, j) => Math.sin((k + 1) * j * 0.001) * 1.5));
    if (!imageFiles.length) console.log('no --images given: using 4 synthetic patterns (score figures mean little without real images)');
    const embeds: Record<Precision, { text: Float32Array[]; image: Float32Array[] }> = {} as never;
    let logitScale = 1;
    for (const precision of ['fp32', 'int8'] as const) {
      const t0 = performance.now();
      const info = await convertClipToOnnx({ checkpointDir: modelDir, outDir: join(work, precision), precision });
      console.log(`converted ${precision} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      logitScale = info.logit_scale;
      embeds[precision] = await embedAll(join(work, precision), info, ids, pixels, size);
    }
    const textCos = embeds.fp32.text.map((e, i) => cosineSimilarity(e, embeds.int8.text[i]));
    const imageCos = embeds.fp32.image.map((e, i) => cosineSimilarity(e, embeds.int8.image[i]));
    console.log(`embedding cosine int8 vs fp32: text min ${Math.min(...textCos).toFixed(5)}, images min ${Math.min(...imageCos).toFixed(5)}`);
    let maxClipDelta = 0;
    let maxPickDelta = 0;
    let sameBest = 0;
    ACCURACY_PROMPTS.forEach((prompt, i) => {
      const scores = (p: Precision) => embeds[p].image.map((img) => cosineSimilarity(img, embeds[p].text[i]));
      const a = scores('fp32');
      const b = scores('int8');
      a.forEach((c, j) => {
        maxClipDelta = Math.max(maxClipDelta, Math.abs(100 * c - 100 * b[j]));
        maxPickDelta = Math.max(maxPickDelta, Math.abs(logitScale * (c - b[j])));
      });
      const best = (xs: number[]) => xs.indexOf(Math.max(...xs));
      if (best(a) === best(b)) sameBest++;
      console.log(`  "${prompt}": 100·cos fp32 [${a.map((c) => (100 * c).toFixed(2)).join(', ')}] int8 [${b.map((c) => (100 * c).toFixed(2)).join(', ')}]`);
    });
    console.log(`max |Δ| 100·cos ${maxClipDelta.toFixed(3)}; max |Δ| logit_scale·cos ${maxPickDelta.toFixed(3)} (logit_scale ${logitScale.toFixed(2)}); same best image for ${sameBest}/${ACCURACY_PROMPTS.length} prompts`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// ---- orchestration (parent) -------------------------------------------------------------------

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) total += e.isDirectory() ? await folderBytes(join(dir, e.name)) : (await stat(join(dir, e.name))).size;
  return total;
}

function runChild(args: string[]): Promise<ScoreResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, __filename, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice(7)) as ScoreResult);
      else reject(new Error(`benchmark child exited with ${code}`));
    });
  });
}

const gb = (b: number) => (b / 1e9).toFixed(2);

async function main(): Promise<void> {
  const images = Number(arg('images', '8'));
  const repeats = Number(arg('repeats', '1'));
  const threads = Number(arg('threads', '2'));
  const lowMemory = process.argv.includes('--low-memory');

  const accuracyDir = arg('accuracy', '');
  if (accuracyDir) {
    const imageList = arg('images', '');
    await accuracy(accuracyDir, imageList ? imageList.split(',') : []);
    return;
  }
  if (process.argv.includes('--child')) {
    const r = await scoreChild(arg('dir', ''), arg('precision', 'fp32') as Precision, images, repeats, threads, lowMemory);
    process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
    return;
  }

  const precisions = arg('precision', 'fp32,int8').split(',') as Precision[];
  const keep = arg('keep', '');
  const dir = keep || (await mkdtemp(join(tmpdir(), 'cs-bench-scoring-')));
  if (loadavg()[0] > cpus().length) console.log(`warning: load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs: other work shares the cores, absolute times will be slow and ratios noisy`);
  console.log(`scoring bench: ${images} images + 1 prompt (77 tokens), PickScore ViT-H/14 + CLIP ViT-L/14, ${threads} threads, onnxruntime-node ${ort.env.versions.common}, folder ${dir}`);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  try {
    for (const precision of precisions) {
      for (const model of Object.keys(MODELS) as ModelName[]) {
        const target = join(dir, precision, model);
        if (await stat(join(target, 'vision.onnx')).then(() => true, () => false)) continue;
        const t0 = performance.now();
        await buildTowers(model, precision, target);
        console.log(`  built ${precision} ${model}: ${gb(await folderBytes(target))} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s (peak RSS so far ${gb(process.resourceUsage().maxRSS * 1024)} GB)`);
      }
    }
    const results: ScoreResult[] = [];
    for (const precision of precisions) {
      if (controller.signal.aborted) break;
      const r = await runChild(['--child', '--dir', dir, '--precision', precision, '--images', String(images), '--repeats', String(repeats), '--threads', String(threads), ...(lowMemory ? ['--low-memory'] : [])]);
      results.push(r);
      const best = Math.min(...r.runsMs) / 1000;
      const target = precision === 'fp32' ? 1.1 : 1.2;
      const interleaved = median(r.interleavedRates);
      const limitS = r.flops / interleaved;
      const g = (rates: number[]) => rates.map((x) => (x / 1e9).toFixed(0)).join(' / ');
      console.log(`\n${precision}${r.lowMemory ? ' (low memory: load → run → release per tower, loads counted)' : ' (all sessions warm)'}`);
      console.log(`  MatMul [257×1280]·[1280×5120] before / after: fp32 ${g(r.fp32Rates)} GFLOP/s, int8 ${g(r.int8Rates)} GOPS; ${precision} between images: median ${(interleaved / 1e9).toFixed(0)} (${g([Math.min(...r.interleavedRates), Math.max(...r.interleavedRates)])})`);
      console.log(`  work ${(r.flops / 1e12).toFixed(3)} TFLOP → limit ${limitS.toFixed(2)} s at the interleaved ${precision} rate`);
      console.log(`  runs ${r.runsMs.map((m) => (m / 1000).toFixed(2)).join(', ')} s; ratio ${(best / limitS).toFixed(3)} (target ≤ ${target}); against the best before/after rate ${(best / (r.flops / Math.max(...(precision === 'fp32' ? r.fp32Rates : r.int8Rates)))).toFixed(3)}`);
      console.log(`  per image: PickScore vision ${r.visionMsPerImage.pickscore.toFixed(0)} ms, CLIP-L vision ${r.visionMsPerImage.clip_l.toFixed(0)} ms; prompt: ViT-H text ${r.textMs.pickscore.toFixed(0)} ms, ViT-L text ${r.textMs.clip_l.toFixed(0)} ms`);
      console.log(`  sessions load ${(r.loadMs / 1000).toFixed(1)} s; peak RSS ${gb(r.peakRssBytes)} GB; load average ${r.loadAverage.map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} CPUs`);
    }
    if (results.length === 2) {
      const [a, b] = results;
      console.log(`\nint8 / fp32 time: ${(Math.min(...b.runsMs) / Math.min(...a.runsMs)).toFixed(3)}`);
    }
  } finally {
    process.off('SIGINT', stop);
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exitCode = 1;
});
