import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { models } from '../../src/cli/commands/models';
import type { CliIO } from '../../src/cli/io';
import { formatError } from '../../src/cli/formatError';
import { toContactSheetError } from '../../src/shared/errors';
import { loadAestheticHead } from '../../src/core/models/aestheticHead';
import { loadManifest } from '../../src/core/models/store';
import { fakeCommit, startHubServer, type HubServer } from '../../src/sandbox/hub/server';
import { makeTinyModels } from '../../src/sandbox/tinyModels/makeTinyModels';

/**
 * Runs `contact-sheet models …` in-process the way main() does (errors → message + exit code 2 for
 * usage, 1 otherwise). main() itself loads subcommands with a dynamic import(), which mocha's
 * tsx/cjs hook cannot resolve for .ts files, so the subcommand is called directly.
 */
async function runModels(argv: string[], io: CliIO): Promise<number> {
  try {
    return await models(argv, io);
  } catch (e) {
    const err = toContactSheetError(e);
    io.stderr(formatError(err));
    return err.code === 'bad-usage' ? 2 : 1;
  }
}

interface Captured {
  io: CliIO;
  out: string[];
  err: string[];
}

describe('contact-sheet models (CLI)', () => {
  let root: string;
  let manifestPath: string;
  let hub: HubServer;
  let dir: string;

  before(async () => {
    root = await fs.mkdtemp(join(tmpdir(), 'cs-cli-models-tiny-'));
    const tiny = await makeTinyModels(root);
    manifestPath = tiny.manifestPath;
    hub = await startHubServer(tiny.hubRoot);
  });
  after(async () => {
    await hub?.close();
    await fs.rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'cs-cli-models-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  function capture(): Captured {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      isTTY: false,
      // An empty HF cache: tests never read the developer's real one.
      env: { HF_HUB_CACHE: join(dir, 'hf-cache') },
      cwd: dir,
      signal: new AbortController().signal,
    };
    return { io, out, err };
  }

  async function run(args: string[], endpoint = hub.url): Promise<Captured & { code: number }> {
    const c = capture();
    const code = await runModels([...args, '--models-dir', join(dir, 'models'), '--manifest', manifestPath, '--hub-endpoint', endpoint], c.io);
    return { ...c, code };
  }

  it('list shows every model as missing with its size and license', async () => {
    const r = await run(['list']);
    assert.equal(r.code, 0, r.err.join('\n'));
    const text = r.out.join('\n');
    const manifest = await loadManifest(manifestPath);
    for (const [id, m] of Object.entries(manifest.models)) {
      const row = text.split('\n').find((l) => l.startsWith(`${id} `));
      assert.ok(row, `a row for ${id}`);
      assert.match(row, /\bmissing\b/);
      assert.ok(row.includes(m.license), `${id} shows its license`);
      assert.match(row, /\d+(\.\d+)? kB/);
    }
    assert.ok(text.includes(join(dir, 'models')));
  });

  it('pull fetches a model and what it depends on, with progress on stderr, and the files work', async () => {
    const r = await run(['pull', 'aesthetic']);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(r.out.map((l) => l.split(':')[0]), ['clip', 'aesthetic']);
    const progress = r.err.filter((l) => /^aesthetic aesthetic-model\.pth: .* \/ .*B\/s/.test(l));
    assert.ok(progress.length > 0, `progress lines: ${r.err.join(' | ')}`);
    assert.match(progress[progress.length - 1], / 100% /);

    // The downloaded checkpoint goes through the production reader and the fold.
    const head = await loadAestheticHead(join(dir, 'models', 'aesthetic', 'files', 'aesthetic-model.pth'));
    const x = new Float32Array(head.embeddingDim).fill(1 / Math.sqrt(head.embeddingDim));
    assert.ok(Math.abs(head.score(x) - head.layered(x)) < 1e-4);

    // The tiny manifest pins the commits the local hub reports, and the store records them.
    const record = JSON.parse(await fs.readFile(join(dir, 'models', 'clip', 'store.json'), 'utf8')) as { files: Record<string, { revision: string }> };
    assert.equal(record.files['model.safetensors'].revision, fakeCommit('openai/clip-vit-large-patch14'));

    const json = await run(['list', '--json']);
    const states = Object.fromEntries((JSON.parse(json.out.join('')) as { models: { id: string; state: string }[] }).models.map((m) => [m.id, m.state]));
    assert.equal(states.clip, 'ready');
    assert.equal(states.aesthetic, 'ready');
    assert.equal(states.pickscore, 'missing');
  });

  it('verify re-hashes: OK after pull, FAILED with exit 1 after damage', async () => {
    assert.equal((await run(['pull', 'clip'])).code, 0);
    const ok = await run(['verify']);
    assert.equal(ok.code, 0, ok.out.join('\n'));
    assert.ok(ok.out.includes('clip: OK'));
    assert.ok(ok.out.includes('pickscore: not downloaded (skipped)'));

    const weights = join(dir, 'models', 'clip', 'files', 'model.safetensors');
    const bytes = await fs.readFile(weights);
    bytes[bytes.length - 1] ^= 0xff;
    await fs.writeFile(weights, bytes);
    const bad = await run(['verify', 'clip']);
    assert.equal(bad.code, 1);
    assert.ok(bad.out.includes('clip: FAILED'));
    assert.ok(bad.out.some((l) => /✗ model\.safetensors: checksum mismatch/.test(l)));

    // pull repairs it.
    assert.equal((await run(['pull', 'clip'])).code, 0);
    assert.equal((await run(['verify', 'clip'])).code, 0);
  });

  it('pull without a network fails with model-offline and exit 1', async () => {
    const dead = await startHubServer(join(dir, 'nothing'));
    const url = dead.url;
    await dead.close();
    const r = await run(['pull', 'clip'], url);
    assert.equal(r.code, 1);
    assert.ok(r.err.some((l) => l.includes('[model-offline]') && l.includes('contact-sheet models verify')), r.err.join('\n'));
  });

  it('usage errors exit 2; --help exits 0', async () => {
    assert.equal((await run(['frobnicate'])).code, 2);
    assert.equal((await run(['pull', 'no-such-model'])).code, 2);
    assert.equal((await run(['list', '--bogus'])).code, 2);
    const c = capture();
    assert.equal(await runModels(['--help'], c.io), 0);
    assert.match(c.out.join('\n'), /models <list\|pull\|verify\|check-precision>/);
  });
});
