/**
 * Generation concurrency bench: 8 images against the fake Replicate where every prediction takes
 * L seconds. With bounded concurrency (8) the batch should take about L, not 8 L. Measured in one
 * process: concurrent with sync mode (Prefer: wait, the default), concurrent with polling only,
 * and serial (concurrency 1) for comparison. Prints the ratios and a verdict.
 *
 *   npm run bench:generation            (L = 1.5 s)
 *   GEN_BENCH_L=3 npm run bench:generation
 */
import { ReplicateClient } from '../src/core/replicate/client';
import { generateImages } from '../src/core/replicate/generator';
import type { GenerationRequest } from '../src/core/replicate/types';
import { startFakeReplicate, type FakeReplicate } from '../src/sandbox/fakeReplicate/server';

const L = Number(process.env.GEN_BENCH_L ?? 1.5);
const IMAGES = 8;
/** "About L": the batch may add fixed overhead (HTTP, download, decode check), 20 % of L at most. */
export const GENERATION_LIMIT = 1.2;

async function timeBatch(fake: FakeReplicate, label: string, concurrency: number, preferWaitSeconds: number, seedBase: number, latencyS: number): Promise<number> {
  let calls = 0;
  const client = new ReplicateClient({ token: fake.token, baseUrl: fake.url, preferWaitSeconds, onCall: () => calls++ });
  const req: GenerationRequest = {
    models: ['black-forest-labs/flux-schnell'],
    prompt: 'a lighthouse on a cliff at dusk, oil painting',
    aspectRatio: '1:1',
    jobs: Array.from({ length: IMAGES }, (_, i) => ({ index: i, seed: seedBase + i })),
    concurrency,
  };
  const started = performance.now();
  const result = await generateImages(client, req, () => {});
  const wall = (performance.now() - started) / 1000;
  if (result.images.length !== IMAGES) throw new Error(`${label}: only ${result.images.length} of ${IMAGES} images`);
  if (require.main === module) console.log(`${label.padEnd(34)} wall ${wall.toFixed(2)} s   wall/L ${(wall / latencyS).toFixed(2)}   API calls ${calls}`);
  return wall;
}

export interface GenerationFigures {
  latencyS: number;
  /** Wall time of 8 concurrent predictions (sync mode, the default), seconds. */
  concurrentS: number;
  pollingS: number;
  serialS: number;
}

/** The three batches against a fake whose predictions take `latencyS` each (one process). */
export async function measureGeneration(latencyS = L): Promise<GenerationFigures> {
  const fake = await startFakeReplicate({ processingMs: latencyS * 1000, maxImageSide: 512 });
  try {
    await timeBatch(fake, 'warm-up (not counted)', IMAGES, 60, 1000, latencyS);
    const concurrentS = await timeBatch(fake, 'concurrent 8, sync (Prefer: wait)', IMAGES, 60, 2000, latencyS);
    const pollingS = await timeBatch(fake, 'concurrent 8, polling only', IMAGES, 0, 3000, latencyS);
    const serialS = await timeBatch(fake, 'serial (concurrency 1), sync', 1, 60, 4000, latencyS);
    return { latencyS, concurrentS, pollingS, serialS };
  } finally {
    await fake.close();
  }
}

async function main(): Promise<void> {
  console.log(`Generation bench: ${IMAGES} images, fake prediction latency L = ${L} s, node ${process.version}`);
  const g = await measureGeneration(L);
  console.log('');
  console.log(`serial/L = ${(g.serialS / L).toFixed(2)} (the 8 L a one-at-a-time generator takes)`);
  console.log(`serial/concurrent = ${(g.serialS / g.concurrentS).toFixed(2)}× speed-up`);
  const ratio = g.concurrentS / L;
  const verdict = ratio <= GENERATION_LIMIT ? 'PASS' : 'FAIL';
  console.log(`verdict: ${verdict} — concurrent wall/L = ${ratio.toFixed(2)} (limit ${GENERATION_LIMIT}); polling-only wall/L = ${(g.pollingS / L).toFixed(2)}`);
  if (verdict === 'FAIL') process.exitCode = 1;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
