/**
 * A whole run through the production pipeline (executeRun: generator over real HTTP against the
 * local fake Replicate, save, score, rank, write), with the bench's models at int8 and every
 * metric on. Figures, from the run's own trace:
 *  - overlap: wall ≤ max(generation, scoring busy time) + 2 s (models load while predictions run,
 *    each image is scored as it lands);
 *  - decodes per image: every full decode in this thread, ÷ images (the scorer runs in process
 *    here so its decodes are counted too; the CLI and the extension run the same engine in a
 *    worker thread).
 * Predictions finish spread out, as real ones do: prediction i is created i·Δ after the first,
 * each takes L on the fake.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRunFolder } from '../src/core/run/output';
import { readPromptFile } from '../src/core/prompt';
import { ReplicateClient } from '../src/core/replicate/client';
import { generateImages } from '../src/core/replicate/generator';
import { loadPricing } from '../src/core/replicate/pricing';
import type { GenerationRequest } from '../src/core/replicate/types';
import { executeRun, type GenerationOutcome } from '../src/core/run/executeRun';
import { newTrace, resolveSettings } from '../src/core/run/runPlan';
import { imageDecodeCount } from '../src/core/imageDecode';
import { inProcessScorer } from '../src/sandbox/inProcessScorer';
import { startFakeReplicate } from '../src/sandbox/fakeReplicate/server';
import { BENCH_PROMPT } from './scoring';

export interface OverlapFigures {
  images: number;
  latencyS: number;
  staggerS: number;
  wallS: number;
  generationS: number;
  scoringS: number;
  modelLoadS: number | null;
  decodes: number;
  status: string;
}

export async function measureRunOverlap(opts: { modelsDir: string; manifestPath: string; images: number; latencyS: number; staggerS: number }): Promise<OverlapFigures> {
  const fake = await startFakeReplicate({ processingMs: opts.latencyS * 1000, maxImageSide: 1344 });
  const dir = await mkdtemp(join(tmpdir(), 'cs-bench-run-'));
  try {
    const promptPath = join(dir, 'fox.txt');
    await writeFile(promptPath, `${BENCH_PROMPT}\n`);
    const prompt = await readPromptFile(promptPath);
    const settings = resolveSettings(prompt, { apiBaseUrl: fake.url, numVariations: opts.images, seed: 1234, precision: 'int8' });
    const folder = await createRunFolder({ promptPath });
    const trace = newTrace({ prompt, settings, demo: false, estimate: null });
    const client = new ReplicateClient({ token: fake.token, baseUrl: fake.url });
    const pricing = loadPricing();
    const staggered = async (req: GenerationRequest, onEvent: Parameters<typeof generateImages>[2]): Promise<GenerationOutcome> => {
      const parts = await Promise.all(
        req.jobs.map(async (job, i) => {
          await new Promise((r) => setTimeout(r, i * opts.staggerS * 1000));
          return generateImages(client, { ...req, jobs: [job] }, onEvent, pricing);
        }),
      );
      return { images: parts.flatMap((p) => p.images), failures: parts.flatMap((p) => p.failures) };
    };
    const decodesBefore = imageDecodeCount();
    const t0 = performance.now();
    const result = await executeRun(folder, trace, {
      generate: staggered,
      createScorer: (onProgress) =>
        inProcessScorer(
          {
            modelsDir: opts.modelsDir,
            manifestPath: opts.manifestPath,
            precision: 'int8',
            enabled: settings.enabled_metrics,
            lowMemory: false,
            executionProviders: ['cpu'],
            intraOpNumThreads: 0,
            allowDownload: false,
          },
          { onProgress },
        ),
    });
    const wallS = (performance.now() - t0) / 1000;
    const t = result.trace.timings;
    return {
      images: opts.images,
      latencyS: opts.latencyS,
      staggerS: opts.staggerS,
      wallS,
      generationS: (t.generation_ms ?? NaN) / 1000,
      scoringS: (t.scoring_ms ?? NaN) / 1000,
      modelLoadS: t.model_load_ms === null ? null : t.model_load_ms / 1000,
      decodes: imageDecodeCount() - decodesBefore,
      status: result.status,
    };
  } finally {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
}
