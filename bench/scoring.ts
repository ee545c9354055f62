/**
 * Scoring figures, measured through the production scoring session (ScoringSession, on this thread:
 * model store, converter, optimized-graph cache, tokenizer, preprocessing, session options) on
 * full- or quick-size random-weight models (bench/fullSizeModels.ts). Each measurement runs in a
 * fresh child process (`--child <mode>`), so cold starts are cold and peak RSS is its own:
 *
 *   first   models "just downloaded" (no ONNX, no cache): time until every model is ready, then
 *           8 images warm; ready ÷ 8 images ≤ 1 (the converter and the cache writing included)
 *   before  the converted graphs opened without the optimized-graph cache (what round 1 paid)
 *   second  everything cached: ready ÷ 8 images ≤ 0.25; peak RSS with all four metrics warm
 *   warm    MatMul rate probes around each image; PickScore + CLIP-Score + aesthetic on the
 *           prompt and 8 images ÷ (FLOPs ÷ rate); then VQAScore alone on the same images
 *   lowmem  low-memory mode (load, run, release one tower at a time): time and peak RSS
 *
 * Used by bench/run.ts (npm run bench), which prints the table.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createSession } from '../src/core/scoring/onnxSession';
import type { Scorer } from '../src/core/scoring/scorer';
import { inProcessScorer } from '../src/sandbox/inProcessScorer';
import type { MetricId, Precision, ScorerConfig, ScorerProgress } from '../src/core/scoring/types';
import { clipArchitectures, runFlops } from './fullSizeModels';
import { MatMulProbe, median } from './matmulProbe';

export const BENCH_PROMPT = 'a watercolor painting of a red fox sitting in a snowy birch forest at dawn';

export type ChildMode = 'first' | 'before' | 'second' | 'warm' | 'lowmem';

export interface ChildArgs {
  mode: ChildMode;
  precision: Precision;
  modelsDir: string;
  manifestPath: string;
  images: number;
  quick: boolean;
}

export interface TimedItem {
  what: 'prompt' | 'image';
  ms: number;
  flops: number;
  rate: number;
}

export interface ChildResult {
  mode: ChildMode;
  precision: Precision;
  /** Scorer created → every enabled model ready (first, second). */
  readyMs?: number;
  /** Per model: conversion and session-load times seen in the progress events. */
  timeline?: { model: string; convertMs: number | null; loadMs: number | null }[];
  /** Prompt (warm) + N images, all enabled metrics. */
  scoreMs?: number;
  /** before: each graph opened plainly, ms. */
  plainLoads?: { graph: string; ms: number }[];
  /** warm: three metrics (prompt + images), VQAScore alone (images). */
  threeMs?: number;
  vqaMs?: number;
  promptTokens?: number;
  flops?: number;
  /** Rates sampled before each timed image (and at start/end), FLOP/s. */
  rates?: number[];
  /** Rate of the run's precision with onnxruntime's weight pre-packing off (the trade-off it buys). */
  noPrepackRate?: number;
  /** warm: each timed item with its FLOPs and the rate probed right before it. */
  items?: TimedItem[];
  /** warm: VQAScore's time ÷ the three metrics' time, image by image. */
  vqaRatios?: number[];
  peakRssBytes: number;
  loadAverage: number[];
}

const ALL: Record<MetricId, boolean> = { pickscore: true, clip_score: true, aesthetic: true, vqascore: true };
const THREE: Record<MetricId, boolean> = { ...ALL, vqascore: false };
const VQA_ONLY: Record<MetricId, boolean> = { pickscore: false, clip_score: false, aesthetic: false, vqascore: true };

function config(a: ChildArgs, enabled: Record<MetricId, boolean>, lowMemory = false): ScorerConfig {
  return {
    modelsDir: a.modelsDir,
    manifestPath: a.manifestPath,
    precision: a.precision,
    enabled,
    lowMemory,
    executionProviders: ['cpu'],
    intraOpNumThreads: 0,
    allowDownload: false,
  };
}

/** 16:9 PNGs like generated images (colour fields, texture): decode and resize cost as real ones. */
export async function benchImages(count: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      await sharp({ create: { width: 1344, height: 768, channels: 3, background: { r: 30 * i, g: 140, b: 250 - 25 * i }, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
        .blur(2)
        .png()
        .toBuffer(),
    );
  }
  return out;
}

/** Resolves when the models of `enabled` metrics reported ready (or unavailable: then it throws). */
function readyWatcher(enabled: Record<MetricId, boolean>): { onProgress: (p: ScorerProgress) => void; ready: Promise<void>; timeline: () => ChildResult['timeline'] } {
  const wanted = new Set<string>();
  if (enabled.pickscore) wanted.add('pickscore');
  if (enabled.clip_score || enabled.aesthetic) wanted.add('clip');
  if (enabled.vqascore) wanted.add('vqascore');
  const started = performance.now();
  const firstConvert = new Map<string, number>();
  const loadAt = new Map<string, number>();
  const readyAt = new Map<string, number>();
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  const onProgress = (p: ScorerProgress) => {
    const now = performance.now() - started;
    if (p.type === 'convert' && !firstConvert.has(p.model)) firstConvert.set(p.model, now);
    if (p.type === 'load') loadAt.set(p.model, now);
    if (p.type === 'unavailable') reject(new Error(`${p.model} unavailable: ${p.reason}`));
    if (p.type === 'ready') {
      readyAt.set(p.model, now);
      if ([...wanted].every((m) => readyAt.has(m))) resolve();
    }
  };
  const timeline = () =>
    [...wanted].map((model) => {
      const load = loadAt.get(model);
      const convert = firstConvert.get(model);
      const done = readyAt.get(model);
      return {
        model,
        // The CLIP models: checking/converting until their sessions start loading.
        convertMs: convert !== undefined && load !== undefined ? load - convert : null,
        loadMs: done !== undefined ? done - (load ?? 0) : null,
      };
    });
  return { onProgress, ready, timeline };
}

async function scoreAll(scorer: Scorer, images: Buffer[], between?: () => Promise<void>): Promise<number> {
  let spent = 0;
  for (const img of images) {
    await between?.();
    const t0 = performance.now();
    await scorer.scoreImage(img);
    spent += performance.now() - t0;
  }
  return spent;
}

async function child(a: ChildArgs): Promise<ChildResult> {
  const images = await benchImages(a.images);
  const warmUpImage = (await benchImages(a.images + 1))[a.images]!;
  const base = { mode: a.mode, precision: a.precision };
  const finish = (r: Omit<ChildResult, 'peakRssBytes' | 'loadAverage' | 'mode' | 'precision'>): ChildResult => ({
    ...base,
    ...r,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    loadAverage: loadavg(),
  });

  if (a.mode === 'first' || a.mode === 'second') {
    const t0 = performance.now();
    const watch = readyWatcher(ALL);
    const scorer = inProcessScorer(config(a, ALL), { onProgress: watch.onProgress });
    try {
      await scorer.setPrompt(BENCH_PROMPT);
      await watch.ready;
      const readyMs = performance.now() - t0;
      await scorer.scoreImage(warmUpImage);
      const p0 = performance.now();
      await scorer.setPrompt(BENCH_PROMPT);
      const promptMs = performance.now() - p0;
      const scoreMs = promptMs + (await scoreAll(scorer, images));
      return finish({ readyMs, timeline: watch.timeline(), scoreMs });
    } finally {
      await scorer.dispose();
    }
  }

  if (a.mode === 'before') {
    // The graphs the converter wrote, opened by the production factory without the cache.
    const plainLoads: { graph: string; ms: number }[] = [];
    for (const id of ['pickscore', 'clip']) {
      for (const file of ['text.onnx', 'vision.onnx']) {
        const t0 = performance.now();
        const s = await createSession(join(a.modelsDir, id, 'onnx', a.precision, file), { executionProviders: ['cpu'], intraOpNumThreads: 0 });
        plainLoads.push({ graph: `${id}/${file}`, ms: performance.now() - t0 });
        await s.release();
      }
    }
    return finish({ plainLoads });
  }

  if (a.mode === 'lowmem') {
    const scorer = inProcessScorer(config(a, THREE, true));
    try {
      const t0 = performance.now();
      await scorer.setPrompt(BENCH_PROMPT);
      const scoreMs = performance.now() - t0 + (await scoreAll(scorer, images));
      return finish({ scoreMs });
    } finally {
      await scorer.dispose();
    }
  }

  // warm: the rate is probed right before each timed item (the prompt, then each image), on the
  // same cores, in this process; VQAScore alone scores each image right after the three metrics
  // did, so a burst of load elsewhere hits both sides of that ratio alike.
  const archs = clipArchitectures(a.quick);
  const probe = await MatMulProbe.create(a.precision, 0);
  const rates: number[] = [await probe.rate(15)];
  const sample = async () => {
    const r = await probe.rate(3);
    rates.push(r);
    return r;
  };
  const three = inProcessScorer(config(a, THREE));
  const vqa = inProcessScorer(config(a, VQA_ONLY));
  const items: TimedItem[] = [];
  const vqaItems: number[] = [];
  let promptTokens: number;
  try {
    await Promise.all([three.setPrompt(BENCH_PROMPT), vqa.setPrompt(BENCH_PROMPT)]);
    await three.scoreImage(warmUpImage);
    await vqa.scoreImage(warmUpImage);
    let rate = await sample();
    let t0 = performance.now();
    promptTokens = Math.min((await three.setPrompt(BENCH_PROMPT)).tokenCount, 77);
    items.push({ what: 'prompt', ms: performance.now() - t0, flops: runFlops(archs, 0, promptTokens), rate });
    for (const img of images) {
      rate = await sample();
      t0 = performance.now();
      await three.scoreImage(img);
      items.push({ what: 'image', ms: performance.now() - t0, flops: runFlops(archs, 1, 0) - runFlops(archs, 0, 0), rate });
      t0 = performance.now();
      await vqa.scoreImage(img);
      vqaItems.push(performance.now() - t0);
    }
  } finally {
    await Promise.all([three.dispose(), vqa.dispose()]);
  }
  rates.push(await probe.rate(15));
  await probe.release();
  const noPrepack = await MatMulProbe.create(a.precision, 0, { disable_prepacking: '1' });
  const withPrepack = await MatMulProbe.create(a.precision, 0);
  const noPrepackRate = (await noPrepack.rate(15)) / (await withPrepack.rate(15));
  await Promise.all([noPrepack.release(), withPrepack.release()]);
  const threeMs = items.reduce((sum, i) => sum + i.ms, 0);
  const vqaMs = vqaItems.reduce((sum, ms) => sum + ms, 0);
  const vqaRatios = vqaItems.map((ms, i) => ms / items[i + 1]!.ms);
  return finish({ threeMs, vqaMs, vqaRatios, items, promptTokens, flops: runFlops(archs, a.images, promptTokens), rates, noPrepackRate });
}

/** Runs one measurement in a fresh process (this file with --child). */
export function runChild(a: ChildArgs): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const args = ['--child', a.mode, '--precision', a.precision, '--models', a.modelsDir, '--manifest', a.manifestPath, '--images', String(a.images), ...(a.quick ? ['--quick'] : [])];
    const proc = spawn(process.execPath, [...process.execArgv, __filename, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice(7)) as ChildResult);
      else reject(new Error(`scoring child "${a.mode}" (${a.precision}) ended with ${signal ?? code}: ${err.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

/** Returns the state "just downloaded" for a precision: no conversion, no optimized graphs. */
export async function forgetConversions(modelsDir: string, precision: Precision): Promise<void> {
  for (const id of ['pickscore', 'clip']) await fs.rm(join(modelsDir, id, 'onnx', precision), { recursive: true, force: true });
  await fs.rm(join(modelsDir, 'vqascore', 'optimized'), { recursive: true, force: true });
}

/** Bytes under a folder (the caches' disk cost). */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? await folderBytes(p) : (await fs.stat(p)).size;
  }
  return total;
}

export const medianRate = (r: ChildResult): number => median(r.rates ?? [NaN]);

/** Each item's time ÷ its FLOP limit at the rate probed just before it. */
export const itemRatios = (r: ChildResult): number[] => (r.items ?? []).map((i) => i.ms / ((i.flops / i.rate) * 1000));

if (require.main === module && process.argv.includes('--child')) {
  const arg = (name: string) => process.argv[process.argv.indexOf(`--${name}`) + 1]!;
  child({
    mode: arg('child') as ChildMode,
    precision: arg('precision') as Precision,
    modelsDir: arg('models'),
    manifestPath: arg('manifest'),
    images: Number(arg('images')),
    quick: process.argv.includes('--quick'),
  }).then(
    (r) => process.stdout.write(`RESULT ${JSON.stringify(r)}\n`),
    (e) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
