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
/** "About L": the batch may add fixed overhead (HTTP, download, decode check) but not another L. */
const VERDICT_LIMIT = 1.5;

async function timeBatch(fake: FakeReplicate, label: string, concurrency: number, preferWaitSeconds: number, seedBase: number): Promise<number> {
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
  console.log(`${label.padEnd(34)} wall ${wall.toFixed(2)} s   wall/L ${(wall / L).toFixed(2)}   API calls ${calls}`);
  return wall;
}

async function main(): Promise<void> {
  const fake = await startFakeReplicate({ processingMs: L * 1000, maxImageSide: 512 });
  try {
    console.log(`Generation bench: ${IMAGES} images, fake prediction latency L = ${L} s, node ${process.version}`);
    await timeBatch(fake, 'warm-up (not counted)', IMAGES, 60, 1000);
    const sync = await timeBatch(fake, 'concurrent 8, sync (Prefer: wait)', IMAGES, 60, 2000);
    const polling = await timeBatch(fake, 'concurrent 8, polling only', IMAGES, 0, 3000);
    const serial = await timeBatch(fake, 'serial (concurrency 1), sync', 1, 60, 4000);
    console.log('');
    console.log(`serial/L = ${(serial / L).toFixed(2)} (the 8 L a one-at-a-time generator takes)`);
    console.log(`serial/concurrent = ${(serial / sync).toFixed(2)}× speed-up`);
    const ratio = sync / L;
    const verdict = ratio <= VERDICT_LIMIT ? 'PASS' : 'FAIL';
    console.log(`verdict: ${verdict} — concurrent wall/L = ${ratio.toFixed(2)} (limit ${VERDICT_LIMIT}); polling-only wall/L = ${(polling / L).toFixed(2)}`);
    if (verdict === 'FAIL') process.exitCode = 1;
  } finally {
    await fake.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
