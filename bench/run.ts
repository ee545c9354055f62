/**
 * `npm run bench`: every performance figure of Contact Sheet in one run, one table.
 *
 *   npm run bench [-- --quick] [--keep DIR] [--only scoring,torch,generation,overlap,activation,panel]
 *
 * Scoring runs through the production scorer on random-weight models of full size (PickScore
 * ViT-H/14 + CLIP ViT-L/14 + the aesthetic head + SmolVLM-256M-shaped VQAScore; --quick: ViT-B/16
 * sized CLIP models), one child process per measurement (bench/scoring.ts). Every ratio is taken
 * within one process or one run: on machines of this kind (and on a shared one) absolute times are
 * noise, ratios are not. Needs about 35 GB of temporary disk at full size (--keep DIR keeps the
 * models and caches for the next run) and, idle, 10–15 minutes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { cpuFeatures, describeCpu } from '../src/core/cpuFeatures';
import type { Precision } from '../src/core/scoring/types';
import { measureActivation, readPanelLatency } from './activation';
import { visionFlops as clipVisionFlops, prepareBenchModels, type BenchModels } from './fullSizeModels';
import { GENERATION_LIMIT, measureGeneration } from './generation';
import { findTorchPython, timeTorchTowers } from './pytorchPeer';
import { measureRunOverlap } from './runOverlap';
import { decoderFlops as smolVlmDecoderFlops, visionFlops as smolVlmVisionFlops } from './vqaFullSizeModel';
import { median } from './matmulProbe';
import { BENCH_PROMPT, folderBytes, forgetConversions, itemRatios, medianRate, runChild, type ChildMode, type ChildResult } from './scoring';

interface Row {
  figure: string;
  measured: string;
  target: string;
  /** The figure's own ratio (or measured ÷ limit for absolute targets). */
  ratio: number | null;
  pass: boolean | null;
  /** Why there is no measurement, when there is none. */
  note?: string;
}

const GB = 1e9;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const gb = (b: number) => `${(b / GB).toFixed(2)} GB`;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function machineLine(): string {
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  return `${describeCpu(cpuFeatures())}; load average ${load}; node ${process.version}; onnxruntime-node ${ort.env.versions.common}`;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = new Set((option('only') ?? 'scoring,torch,generation,overlap,activation,panel').split(','));
  const images = 8;
  const dir = option('keep') ?? join(tmpdir(), quick ? 'contact-sheet-bench-quick' : 'contact-sheet-bench');
  const keep = option('keep') !== undefined;
  const rows: Row[] = [];
  const notes: string[] = [];
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const machineBefore = machineLine();
  log(`Contact Sheet benchmark${quick ? ' (--quick: ViT-B/16-sized CLIP models)' : ''}: ${machineBefore}`);
  if (loadavg()[0] > cpus().length) log(`warning: load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs: other work shares the cores; ratios hold better than times`);

  let models: BenchModels | undefined;
  const results: Partial<Record<Precision, Partial<Record<ChildMode, ChildResult>>>> = {};
  const failed = (figure: string, target: string, why: string) => rows.push({ figure, measured: '—', target, ratio: null, pass: false, note: why });

  if (only.has('scoring') || only.has('torch') || only.has('overlap')) {
    log(`models: ${dir}`);
    models = await prepareBenchModels(dir, quick, [BENCH_PROMPT], log);
  }

  if (models && only.has('scoring')) {
    for (const precision of ['fp32', 'int8'] as const) {
      const r: Partial<Record<ChildMode, ChildResult>> = (results[precision] = {});
      await forgetConversions(models.modelsDir, precision);
      for (const mode of ['first', 'before', 'second', 'warm', 'lowmem'] as const) {
        log(`  ${precision}: ${mode}…`);
        try {
          r[mode] = await runChild({ mode, precision, modelsDir: models.modelsDir, manifestPath: models.manifestPath, images, quick });
        } catch (e) {
          log(`    failed: ${(e as Error).message}`);
        }
      }
      scoringRows(precision, r, rows, notes, failed);
      const cache = (await folderBytes(join(models.modelsDir, 'pickscore', 'onnx', precision, 'optimized'))) + (await folderBytes(join(models.modelsDir, 'clip', 'onnx', precision, 'optimized')));
      const converted = (await folderBytes(join(models.modelsDir, 'pickscore', 'onnx', precision))) + (await folderBytes(join(models.modelsDir, 'clip', 'onnx', precision))) - cache;
      notes.push(`${precision}: converted CLIP graphs ${gb(converted)} on disk, onnxruntime's optimized graphs with pre-packed weights ${gb(cache)} beside them.`);
    }
    rssRows(results, rows, failed);
    vqaRows(results, rows, notes, failed, models.archs);
  }

  if (models && only.has('torch')) {
    if (!results.fp32?.warm) {
      // Run alone (--only torch): our side of the comparison is measured here too.
      log('  fp32: warm…');
      const warm = await runChild({ mode: 'warm', precision: 'fp32', modelsDir: models.modelsDir, manifestPath: models.manifestPath, images, quick }).catch((e: Error) => void log(`    failed: ${e.message}`));
      if (warm) (results.fp32 ??= {}).warm = warm;
    }
    const ours = results.fp32?.warm?.threeMs;
    const tokens = results.fp32?.warm?.promptTokens ?? results.int8?.warm?.promptTokens ?? 77;
    const py = await findTorchPython();
    if ('skip' in py) {
      rows.push({ figure: 'PyTorch eager fp32 ÷ ours fp32 (same towers, same run)', measured: 'skipped', target: '≥ 1.20', ratio: null, pass: null, note: py.skip });
    } else {
      log('  PyTorch peer…');
      try {
        const t = await timeTorchTowers(py.python, [models.archs.pickscore, models.archs.clip], images, tokens, cpus().length);
        const ratio = ours ? t.total_ms / ours : null;
        rows.push({
          figure: `PyTorch eager fp32 ÷ ours fp32 (prompt + ${images} images)`,
          measured: `torch ${s(t.total_ms)} vs ours ${ours ? s(ours) : '—'}`,
          target: '≥ 1.20',
          ratio,
          pass: ratio === null ? null : ratio >= 1.2,
        });
        notes.push(`PyTorch ${t.torch} (${t.python}), ${t.threads} threads, BLAS: ${t.blas}; its time excludes image decoding and preprocessing, ours includes them.`);
      } catch (e) {
        failed('PyTorch eager fp32 ÷ ours fp32', '≥ 1.20', (e as Error).message);
      }
    }
  }

  if (only.has('generation')) {
    log('  generation…');
    const g = await measureGeneration(1.5);
    rows.push({
      figure: `8 predictions of latency L = ${g.latencyS} s (fake Replicate, real HTTP)`,
      measured: `${g.concurrentS.toFixed(2)} s (serial ${g.serialS.toFixed(1)} s)`,
      target: `≈ L (≤ ${GENERATION_LIMIT.toFixed(2)} L)`,
      ratio: g.concurrentS / g.latencyS,
      pass: g.concurrentS / g.latencyS <= GENERATION_LIMIT,
    });
  }

  if (models && only.has('overlap')) {
    log('  a whole run (int8, all metrics)…');
    try {
      const o = await measureRunOverlap({ modelsDir: models.modelsDir, manifestPath: models.manifestPath, images, latencyS: 1.5, staggerS: 0.4 });
      const limit = Math.max(o.generationS, o.scoringS) + 2;
      rows.push({
        figure: `run wall ÷ (max(generation, scoring) + 2 s), ${o.images} images`,
        measured: `wall ${o.wallS.toFixed(2)} s; generation ${o.generationS.toFixed(2)} s, scoring ${o.scoringS.toFixed(2)} s`,
        target: '≤ 1.00',
        ratio: o.wallS / limit,
        pass: o.wallS <= limit && o.status === 'succeeded',
        ...(o.status !== 'succeeded' ? { note: `run ${o.status}` } : {}),
      });
      rows.push({ figure: 'full image decodes per image in a run', measured: `${o.decodes} for ${o.images} images`, target: '= 1', ratio: o.decodes / o.images, pass: o.decodes === o.images });
      notes.push(`Run: predictions created ${o.staggerS} s apart, each taking ${o.latencyS} s on the fake; models ready ${o.modelLoadS?.toFixed(2) ?? '—'} s after the start (loading overlaps generation); scorer in process (the CLI and the extension use a worker thread).`);
    } catch (e) {
      failed('run wall ÷ (max(generation, scoring) + 2 s)', '≤ 1.00', (e as Error).message);
    }
  }

  if (only.has('activation')) {
    log('  extension activation (code-server)…');
    const a = await measureActivation();
    if (a.measured) {
      rows.push({ figure: `extension activation in VS Code ${a.vscode} (extension host, code-server)`, measured: `${a.activateMs.toFixed(1)} ms`, target: '≤ 50 ms', ratio: a.activateMs / 50, pass: a.activateMs <= 50 });
    } else {
      rows.push({ figure: 'extension activation (extension host, code-server)', measured: 'not measured', target: '≤ 50 ms', ratio: null, pass: null, note: a.reason });
    }
    if (a.nodeShimMs !== null) notes.push(`Activation breakdown: require(dist/extension.js) + activate() in plain Node with a recording vscode shim (not an extension host): ${a.nodeShimMs.toFixed(1)} ms.`);
  }

  if (only.has('panel')) {
    const p = readPanelLatency();
    rows.push(
      p
        ? { figure: 'first image in the panel after it is on disk (e2e, median)', measured: `${p.medianMs} ms (max ${p.maxMs} ms, ${p.samples} images)`, target: '≤ 300 ms', ratio: p.medianMs / 300, pass: p.medianMs <= 300, note: `read from ${p.file}` }
        : { figure: 'first image in the panel after it is on disk', measured: 'not measured in this run', target: '≤ 300 ms', ratio: null, pass: null, note: 'the e2e layer writes test-output/e2e/panel-latency.json (npm run test:e2e)' },
    );
  }

  const machineAfter = machineLine();
  printTable(rows, notes, machineBefore, machineAfter, quick);
  const out = join(__dirname, '..', 'test-output', 'bench');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, quick ? 'results-quick.json' : 'results.json'), JSON.stringify({ machineBefore, machineAfter, quick, rows, notes, results }, null, 2));
  if (!keep && !quick) log(`(models and caches kept in ${dir} for the next run; delete it to free the disk)`);
  if (rows.some((r) => r.pass === false)) process.exitCode = 1;
}

function scoringRows(precision: Precision, r: Partial<Record<ChildMode, ChildResult>>, rows: Row[], notes: string[], failed: (f: string, t: string, why: string) => void): void {
  const warm = r.warm;
  const limitTarget = precision === 'fp32' ? 1.1 : 1.2;
  if (warm?.threeMs && warm.flops && warm.rates && warm.items) {
    const rate = medianRate(warm);
    const limitMs = (warm.flops / rate) * 1000;
    const perItem = itemRatios(warm);
    const ratio = median(perItem);
    rows.push({
      figure: `${precision}: prompt + 8 images (PickScore, CLIP-Score, aesthetic) ÷ FLOP limit`,
      measured: `${s(warm.threeMs)}; limit ${s(limitMs)} = ${(warm.flops / 1e12).toFixed(2)} TFLOP at ${(rate / 1e9).toFixed(0)} G/s`,
      target: `≤ ${limitTarget.toFixed(2)}`,
      ratio,
      pass: ratio <= limitTarget,
    });
    const spread = [Math.min(...warm.rates), Math.max(...warm.rates)].map((x) => (x / 1e9).toFixed(0)).join('–');
    notes.push(
      `${precision} ÷ FLOP limit: the median over the prompt and each image of its time ÷ (its FLOPs ÷ the MatMul rate probed just before it); per item ${[...perItem].sort((x, y) => x - y).map((x) => x.toFixed(2)).join(' ')}; the whole run ÷ (all FLOPs ÷ the median rate) is ${(warm.threeMs / limitMs).toFixed(2)}. MatMul rate ${spread} G/s during the run. With onnxruntime's weight pre-packing off the MatMul runs at ${(100 * (warm.noPrepackRate ?? NaN)).toFixed(0)} % of its rate.`,
    );
  } else {
    failed(`${precision}: prompt + 8 images ÷ FLOP limit`, `≤ ${limitTarget}`, 'the warm measurement failed');
  }
  for (const [mode, label, target] of [
    ['second', 'cold start, later runs (cached): models ready ÷ scoring prompt + 8 images', 0.25],
    ['first', 'cold start, first run after download (convert + cache + load): ready ÷ scoring', 1],
  ] as const) {
    const c = r[mode];
    if (c?.readyMs !== undefined && c.scoreMs) {
      const ratio = c.readyMs / c.scoreMs;
      rows.push({ figure: `${precision}: ${label}`, measured: `ready ${s(c.readyMs)}, scoring ${s(c.scoreMs)}`, target: `≤ ${target.toFixed(2)}`, ratio, pass: ratio <= target });
      const parts = (c.timeline ?? []).map((t) => `${t.model} ${t.convertMs !== null && t.convertMs > 50 ? `convert ${s(t.convertMs)} + ` : ''}load ${t.loadMs !== null ? s(t.loadMs) : '—'}`);
      notes.push(`${precision} ${mode === 'first' ? 'first run' : 'later runs'}: ${parts.join('; ')} (VQAScore loads alongside the CLIP models).`);
    } else {
      failed(`${precision}: ${label}`, `≤ ${target}`, `the "${mode}" measurement failed`);
    }
  }
  const before = r.before?.plainLoads;
  if (before) {
    const total = before.reduce((a, b) => a + b.ms, 0);
    notes.push(`${precision} before the cache: opening the 4 converted CLIP graphs plainly (pre-packing on every load) took ${s(total)} (${before.map((b) => `${b.graph} ${s(b.ms)}`).join(', ')}).`);
  }
}

function rssRows(results: Partial<Record<Precision, Partial<Record<ChildMode, ChildResult>>>>, rows: Row[], failed: (f: string, t: string, why: string) => void): void {
  for (const [precision, limit] of [['fp32', 3], ['int8', 1]] as const) {
    const low = results[precision]?.lowmem;
    if (low) rows.push({ figure: `${precision}: peak RSS, low-memory mode (CLIP metrics; ${s(low.scoreMs ?? NaN)} for prompt + 8 images)`, measured: gb(low.peakRssBytes), target: `≤ ${limit} GB`, ratio: low.peakRssBytes / (limit * GB), pass: low.peakRssBytes <= limit * GB });
    else failed(`${precision}: peak RSS, low-memory mode`, `≤ ${limit} GB`, 'the low-memory measurement failed');
  }
  const warm = results.fp32?.second;
  if (warm) rows.push({ figure: 'fp32: peak RSS, every model warm, all four metrics', measured: gb(warm.peakRssBytes), target: '≤ 6.5 GB', ratio: warm.peakRssBytes / (6.5 * GB), pass: warm.peakRssBytes <= 6.5 * GB });
  else failed('fp32: peak RSS, all four metrics warm', '≤ 6.5 GB', 'the measurement failed');
}

function vqaRows(
  results: Partial<Record<Precision, Partial<Record<ChildMode, ChildResult>>>>,
  rows: Row[],
  notes: string[],
  failed: (f: string, t: string, why: string) => void,
  archs: BenchModels['archs'],
): void {
  for (const precision of ['int8', 'fp32'] as const) {
    const w = results[precision]?.warm;
    if (w?.vqaMs && w.threeMs && w.vqaRatios) {
      // Image by image (VQAScore right after the three metrics on the same image), median.
      const ratio = median(w.vqaRatios);
      const label = precision === 'int8' ? 'int8: VQAScore (int8) ÷ the other three at int8' : 'fp32: VQAScore (int8, as shipped) ÷ the other three at fp32';
      rows.push({ figure: `${label}, per image (median of 8)`, measured: `${s(w.vqaMs)} vs ${s(w.threeMs)} (prompt included)`, target: '≤ 0.50', ratio, pass: ratio <= 0.5 });
    } else {
      failed(`${precision}: VQAScore ÷ the other three`, '≤ 0.50', 'the warm measurement failed');
    }
  }
  // Work per image: SmolVLM's vision encoder (SigLIP-base on 512², 1024 patches) and decoder
  // (~107 tokens with the 64 image tokens) against the two CLIP vision towers.
  const vqa = smolVlmVisionFlops() + smolVlmDecoderFlops(107);
  const clip = clipVisionFlops(archs.pickscore) + clipVisionFlops(archs.clip);
  notes.push(
    `VQAScore runs SmolVLM-256M as published (int8 vision encoder and decoder) whatever the CLIP precision. Its work per image is ${(vqa / 1e9).toFixed(0)} GFLOP against ${(clip / 1e9).toFixed(0)} GFLOP for the CLIP towers: ${(vqa / clip).toFixed(2)}× at equal efficiency, before its fp32 attention (1024 × 1024 per head) is counted.`,
  );
}

function printTable(rows: Row[], notes: string[], before: string, after: string, quick: boolean): void {
  const header = ['figure', 'measured', 'target', 'ratio', 'result'];
  const body = rows.map((r) => [r.figure, r.measured, r.target, r.ratio === null || !Number.isFinite(r.ratio) ? '—' : r.ratio.toFixed(3), r.pass === null ? 'n/a' : r.pass ? 'PASS' : 'FAIL']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [
    '',
    `Contact Sheet performance${quick ? ' (--quick sizes: not the targets\' models)' : ''}`,
    `machine (start): ${before}`,
    `machine (end):   ${after}`,
    '',
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...body.map(line),
    '',
    ...rows.filter((r) => r.note).map((r) => `- ${r.figure}: ${r.note}`),
    ...notes.map((n) => `- ${n}`),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exitCode = 1;
});
