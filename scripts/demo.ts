/**
 * `npm run demo [-- generate options]`
 *
 * With REPLICATE_API_TOKEN set: runs `contact-sheet generate samples/lighthouse.txt` for real
 * (real Replicate predictions, billed to that token; the real scoring models are downloaded on
 * first use, several GB).
 * Without it: says so, then runs the very same pipeline against a local fake Replicate server and
 * tiny random-weight scoring models served by a local hub server. That run is labelled DEMO in the
 * console, in generation_trace.json (`"demo": true`) and in summary.md: its images are synthetic
 * and its scores mean nothing. Everything it writes stays under .cache/demo/.
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CliIO } from '../src/cli/io';
import { processIO } from '../src/cli/io';
import { main } from '../src/cli/main';
import { startFakeReplicate } from '../src/sandbox/fakeReplicate/server';
import { startHubServer } from '../src/sandbox/hub/server';
import { startSourceScoringWorker } from '../src/sandbox/sourceScoringWorker';
import { makeTinyModels, type TinyModels } from '../src/sandbox/tinyModels/makeTinyModels';

const ROOT = join(__dirname, '..');
const SAMPLE = join(ROOT, 'samples', 'lighthouse.txt');
const DEMO_CACHE = join(ROOT, '.cache', 'demo');

async function realRun(io: CliIO, args: string[]): Promise<number> {
  io.stderr('REPLICATE_API_TOKEN is set: generating for real on Replicate (this is billed to your account).');
  io.stderr('The scoring models are downloaded on first use (several GB) into ~/.cache/contact-sheet/models.\n');
  return main(['generate', SAMPLE, ...args], io);
}

async function demoRun(io: CliIO, args: string[]): Promise<number> {
  io.stderr(
    [
      'REPLICATE_API_TOKEN is not set, so this is a DEMO run:',
      '  - images come from a local fake Replicate server (synthetic pictures, nothing is billed);',
      '  - scores come from tiny random-weight models of the real architectures: they mean nothing.',
      'For real images: export REPLICATE_API_TOKEN=… (https://replicate.com/account/api-tokens), then npm run demo again.\n',
    ].join('\n'),
  );
  const tiny = await tinyModels(join(DEMO_CACHE, 'tiny'));
  const hub = await startHubServer(tiny.hubRoot);
  const fake = await startFakeReplicate({ processingMs: 1500 });
  try {
    // The run folder goes next to the prompt: keep both inside the demo cache, out of samples/.
    const prompt = join(DEMO_CACHE, 'lighthouse.txt');
    await copyFile(SAMPLE, prompt);
    const demoIO: CliIO = { ...io, env: { ...io.env, REPLICATE_API_TOKEN: fake.token, CONTACT_SHEET_DEMO: '1' } };
    return await main(
      ['generate', prompt, '--api-base-url', fake.url, '--hub-endpoint', hub.url, '--manifest', tiny.manifestPath, '--models-dir', join(DEMO_CACHE, 'models'), ...args],
      demoIO,
    );
  } finally {
    await fake.close();
    await hub.close();
  }
}

/** The tiny models are made once and reused by later demo runs. */
async function tinyModels(dir: string): Promise<TinyModels> {
  const manifestPath = join(dir, 'manifest.json');
  const hubRoot = join(dir, 'hub');
  if (await exists(manifestPath)) return { manifestPath, hubRoot };
  await mkdir(dir, { recursive: true });
  return makeTinyModels(dir);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

// Runs from source (tsx): the scoring worker starts from its TypeScript, not from dist/.
const io: CliIO = { ...processIO(), startScoringWorker: startSourceScoringWorker };
const args = process.argv.slice(2);
(io.env.REPLICATE_API_TOKEN?.trim() ? realRun(io, args) : demoRun(io, args)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    io.stderr(`demo failed: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
