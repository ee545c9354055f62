import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '../../src/core/models/manifest';
import { loadManifest, ModelStore, type ModelStoreOptions } from '../../src/core/models/store';
import type { ScorerProgress } from '../../src/core/scoring/types';
import { fakeCommit, startHubServer, type HubFaults, type HubServer } from '../../src/sandbox/hub/server';

const REPO = 'acme/tiny-clip';
const OTHER_REPO = 'acme/tokenizers';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

describe('model store', () => {
  let dir: string;
  let hubRoot: string;
  let modelsDir: string;
  let hfCache: string;
  let server: HubServer | undefined;
  let weights: Buffer;
  let tokenizer: Buffer;
  const config = Buffer.from('{"projection_dim": 16}\n');

  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'cs-store-'));
    hubRoot = join(dir, 'hub');
    modelsDir = join(dir, 'models');
    hfCache = join(dir, 'hf-cache');
    weights = randomBytes(200_000);
    tokenizer = randomBytes(5_000);
    await fs.mkdir(join(hubRoot, REPO, 'sub'), { recursive: true });
    await fs.mkdir(join(hubRoot, OTHER_REPO), { recursive: true });
    await fs.writeFile(join(hubRoot, REPO, 'model.safetensors'), weights);
    await fs.writeFile(join(hubRoot, REPO, 'sub', 'config.json'), config);
    await fs.writeFile(join(hubRoot, OTHER_REPO, 'tokenizer.json'), tokenizer);
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    await fs.rm(dir, { recursive: true, force: true });
  });

  function manifest(overrides: { weightsSha?: string; extraOptional?: boolean } = {}): Manifest {
    return {
      schema_version: 1,
      hub_endpoint: 'https://huggingface.invalid',
      models: {
        tiny: {
          id: 'tiny',
          kind: 'clip',
          name: 'Tiny CLIP',
          license: 'MIT',
          source: { type: 'huggingface', repo: REPO, revision: 'main' },
          files: [
            { path: 'model.safetensors', size: weights.length, sha256: overrides.weightsSha ?? sha256(weights) },
            { path: 'sub/config.json' },
            { path: 'tokenizer.json', repo: OTHER_REPO },
            ...(overrides.extraOptional ? [{ path: 'special_tokens_map.json', optional: true }] : []),
          ],
        },
      },
    };
  }

  async function start(faults?: HubFaults): Promise<HubServer> {
    server = await startHubServer(hubRoot, { faults });
    return server;
  }

  function store(extra: Partial<ModelStoreOptions> = {}): ModelStore {
    return new ModelStore({ modelsDir, manifest: manifest(), hubEndpoint: server?.url, env: { HF_HUB_CACHE: hfCache }, ...extra });
  }

  async function readStoreJson(): Promise<{ files: Record<string, { sha256: string; size: number; revision: string | null; checked_against: string; origin: string }>; absent: string[] }> {
    return JSON.parse(await fs.readFile(join(modelsDir, 'tiny', 'store.json'), 'utf8'));
  }

  it('downloads, verifies and records every file, then serves them with no network at all', async () => {
    const hub = await start();
    const progress: ScorerProgress[] = [];
    const folder = await store().ensure('tiny', { onProgress: (p) => progress.push(p) });
    assert.equal(folder, join(modelsDir, 'tiny', 'files'));
    assert.deepEqual(await fs.readFile(join(folder, 'model.safetensors')), weights);
    assert.deepEqual(await fs.readFile(join(folder, 'sub', 'config.json')), config);
    assert.deepEqual(await fs.readFile(join(folder, 'tokenizer.json')), tokenizer);
    assert.equal(existsSync(join(folder, 'model.safetensors.partial')), false);

    const record = await readStoreJson();
    assert.equal(record.files['model.safetensors'].checked_against, 'manifest');
    assert.equal(record.files['model.safetensors'].revision, fakeCommit(REPO));
    assert.equal(record.files['sub/config.json'].checked_against, 'git-blob-sha1');
    assert.equal(record.files['tokenizer.json'].checked_against, 'hub-lfs-etag');
    assert.equal(record.files['tokenizer.json'].revision, fakeCommit(OTHER_REPO));
    assert.equal(record.files['tokenizer.json'].sha256, sha256(tokenizer));

    // The large file was resolved with a HEAD (302 → CDN) and fetched from the CDN.
    assert.ok(hub.requests.some((r) => r.method === 'HEAD' && r.path === `/${REPO}/resolve/main/model.safetensors`));
    assert.ok(hub.requests.some((r) => r.method === 'GET' && r.path.startsWith('/cdn/') && r.path.endsWith('/model.safetensors')));
    const last = progress.filter((p) => p.type === 'download' && p.file === 'model.safetensors').pop();
    assert.ok(last && last.type === 'download');
    assert.equal(last.receivedBytes, weights.length);
    assert.equal(last.totalBytes, weights.length);
    assert.equal(last.etaSeconds, 0);

    const status = await store().status('tiny');
    assert.equal(status.state, 'ready');
    assert.ok(status.files.every((f) => f.state === 'present' && f.verified));

    // Everything cached: no request at all, even with the server gone.
    await hub.close();
    server = undefined;
    let calls = 0;
    const counting: typeof fetch = (...args) => {
      calls += 1;
      return fetch(...args);
    };
    assert.equal(await store({ fetch: counting, allowDownload: false }).ensure('tiny'), folder);
    assert.equal(await store({ fetch: counting }).ensure('tiny'), folder);
    assert.equal(calls, 0);
  });

  it('resumes after a dropped connection with a Range request, resolving the CDN link again', async () => {
    const hub = await start({ dropAfterBytes: { match: 'model.safetensors', bytes: 70_000 } });
    const folder = await store().ensure('tiny');
    assert.deepEqual(await fs.readFile(join(folder, 'model.safetensors')), weights);
    const gets = hub.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/model.safetensors'));
    assert.equal(gets.length, 2);
    assert.equal(gets[0].range, undefined);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(gets[1].range ?? '')?.[1]);
    assert.ok(resumedAt > 0 && resumedAt <= 70_000, `resumed at ${gets[1].range}`);
    const heads = hub.requests.filter((r) => r.method === 'HEAD' && r.path.endsWith('/model.safetensors'));
    assert.equal(heads.length, 2, 'resolved again before resuming');
    assert.equal((await readStoreJson()).files['model.safetensors'].checked_against, 'manifest');
  });

  it('keeps the partial file when a dropped download is not retried, and the next run resumes it', async () => {
    await start({ dropAfterBytes: { match: 'model.safetensors', bytes: 50_000 } });
    await assert.rejects(store({ downloadRetries: 0 }).ensure('tiny'), (e) => codeOf(e) === 'model-download-failed');
    const partial = join(modelsDir, 'tiny', 'files', 'model.safetensors.partial');
    const kept = (await fs.stat(partial)).size;
    // Normally all 50,000 bytes sent before the cut; never more.
    assert.ok(kept > 0 && kept <= 50_000, `partial keeps ${kept} bytes`);
    assert.equal(existsSync(join(modelsDir, 'tiny', 'files', 'model.safetensors')), false);
    const status = await store().status('tiny');
    assert.equal(status.state, 'partial');
    assert.equal(status.files[0].state, 'partial');
    assert.equal(status.files[0].bytesOnDisk, kept);

    await server!.close();
    const hub = await start();
    await store().ensure('tiny');
    assert.deepEqual(await fs.readFile(join(modelsDir, 'tiny', 'files', 'model.safetensors')), weights);
    const get = hub.requests.find((r) => r.method === 'GET' && r.path.endsWith('/model.safetensors'));
    assert.equal(get?.range, `bytes=${kept}-`);
    assert.equal(existsSync(partial), false);
  });

  it('starts over when the server ignores Range', async () => {
    await start({ dropAfterBytes: { match: 'model.safetensors', bytes: 30_000 } });
    await assert.rejects(store({ downloadRetries: 0 }).ensure('tiny'), (e) => codeOf(e) === 'model-download-failed');
    const kept = (await fs.stat(join(modelsDir, 'tiny', 'files', 'model.safetensors.partial'))).size;
    assert.ok(kept > 0 && kept <= 30_000, `partial keeps ${kept} bytes`);
    await server!.close();
    const hub = await start({ ignoreRange: true });
    await store().ensure('tiny');
    assert.deepEqual(await fs.readFile(join(modelsDir, 'tiny', 'files', 'model.safetensors')), weights);
    assert.equal(hub.requests.find((r) => r.method === 'GET' && r.path.endsWith('/model.safetensors'))?.range, `bytes=${kept}-`);
  });

  it('resolves again when the signed CDN link has expired, and gives up with a retryable error', async () => {
    await server?.close();
    server = await startHubServer(hubRoot, { cdnTtlMs: -1 });
    const hub = server;
    await assert.rejects(store().ensure('tiny'), (e) => codeOf(e) === 'model-download-failed' && /403/.test((e as Error).message));
    const heads = hub.requests.filter((r) => r.method === 'HEAD' && r.path.endsWith('/model.safetensors'));
    assert.equal(heads.length, 3, 'one resolve per attempt (1 + 2 retries)');
    assert.equal(existsSync(join(modelsDir, 'tiny', 'files', 'model.safetensors')), false);
  });

  it('does not download into a partial file another live process is writing, but takes over a stale lock', async () => {
    await start();
    const files = join(modelsDir, 'tiny', 'files');
    await fs.mkdir(files, { recursive: true });
    const lock = join(files, 'model.safetensors.partial.lock');
    await fs.writeFile(lock, String(process.ppid)); // a live process that is not us
    await assert.rejects(store().ensure('tiny'), (e) => codeOf(e) === 'model-download-failed' && new RegExp(`pid ${process.ppid}`).test((e as Error).message));
    await fs.writeFile(lock, '999999999'); // no such process
    await store().ensure('tiny');
    assert.deepEqual(await fs.readFile(join(files, 'model.safetensors')), weights);
    assert.equal(existsSync(lock), false, 'the lock is released');
  });

  it('follows the hub\'s relative redirect of a renamed repo, but not into the CDN on HEAD', async () => {
    await fs.rename(join(hubRoot, OTHER_REPO), join(hubRoot, 'acme', 'tokenizers-v2'));
    const hub = await start({ renamed: { [OTHER_REPO]: 'acme/tokenizers-v2' } });
    await store().ensure('tiny');
    assert.deepEqual(await fs.readFile(join(modelsDir, 'tiny', 'files', 'tokenizer.json')), tokenizer);
    const record = await readStoreJson();
    assert.equal(record.files['tokenizer.json'].revision, fakeCommit('acme/tokenizers-v2'));
    assert.equal(record.files['tokenizer.json'].checked_against, 'hub-lfs-etag');
    const heads = hub.requests.filter((r) => r.method === 'HEAD' && r.path.endsWith('/tokenizer.json')).map((r) => r.path);
    assert.deepEqual(heads, [`/${OTHER_REPO}/resolve/main/tokenizer.json`, '/acme/tokenizers-v2/resolve/main/tokenizer.json']);
  });

  it('rejects corrupted bytes: checksum error, no final file, partial removed', async () => {
    await start({ corrupt: { match: 'model.safetensors' } });
    await assert.rejects(store().ensure('tiny'), (e) => codeOf(e) === 'model-checksum-mismatch' && typeof (e as { action?: string }).action === 'string');
    const files = join(modelsDir, 'tiny', 'files');
    assert.equal(existsSync(join(files, 'model.safetensors')), false);
    assert.equal(existsSync(join(files, 'model.safetensors.partial')), false);
  });

  it('refuses a file whose hub sha256 differs from the manifest before downloading it', async () => {
    const hub = await start();
    const s = new ModelStore({ modelsDir, manifest: manifest({ weightsSha: 'ab'.repeat(32) }), hubEndpoint: hub.url, env: {} });
    await assert.rejects(s.ensure('tiny'), (e) => codeOf(e) === 'model-checksum-mismatch');
    assert.equal(hub.requests.filter((r) => r.path.startsWith('/cdn/')).length, 0);
    assert.equal(existsSync(join(modelsDir, 'tiny', 'files', 'model.safetensors')), false);
  });

  it('reports a missing remote file as model-missing, and skips a missing optional one', async () => {
    await start({ notFound: [`${OTHER_REPO}/tokenizer.json`] });
    await assert.rejects(store().ensure('tiny'), (e) => codeOf(e) === 'model-missing' && /404/.test((e as Error).message));
    await server!.close();
    const hub = await start();
    const s = new ModelStore({ modelsDir, manifest: manifest({ extraOptional: true }), hubEndpoint: hub.url, env: {} });
    await s.ensure('tiny');
    assert.deepEqual((await readStoreJson()).absent, ['special_tokens_map.json']);
    assert.equal((await s.status('tiny')).state, 'ready');
    // The absence is remembered: an offline run does not ask again.
    const before = hub.requests.length;
    await s.ensure('tiny');
    assert.equal(hub.requests.length, before);
  });

  it('says model-offline with what to do when the hub cannot be reached and nothing is cached', async () => {
    const hub = await start();
    const url = hub.url;
    await hub.close();
    server = undefined;
    await assert.rejects(
      store({ hubEndpoint: url }).ensure('tiny'),
      (e) => codeOf(e) === 'model-offline' && /contact-sheet models verify/.test((e as { action?: string }).action ?? '') && (e as { action?: string }).action!.includes(join(modelsDir, 'tiny', 'files')),
    );
  });

  it('with downloads disabled, a missing file is model-missing naming the command to run', async () => {
    await assert.rejects(store({ allowDownload: false }).ensure('tiny'), (e) => codeOf(e) === 'model-missing' && /contact-sheet models pull tiny/.test((e as { action?: string }).action ?? ''));
  });

  it('reuses files from the Python Hugging Face cache when their checksum matches', async () => {
    const commit = fakeCommit(REPO);
    const repoDir = join(hfCache, `models--${REPO.replace('/', '--')}`);
    await fs.mkdir(join(repoDir, 'blobs'), { recursive: true });
    await fs.mkdir(join(repoDir, 'snapshots', commit, 'sub'), { recursive: true });
    await fs.mkdir(join(repoDir, 'refs'), { recursive: true });
    await fs.writeFile(join(repoDir, 'refs', 'main'), commit);
    await fs.writeFile(join(repoDir, 'blobs', sha256(weights)), weights);
    await fs.symlink(join('..', '..', 'blobs', sha256(weights)), join(repoDir, 'snapshots', commit, 'model.safetensors'));
    const blobSha1 = createHash('sha1').update(`blob ${config.length}\0`).update(config).digest('hex');
    await fs.writeFile(join(repoDir, 'blobs', blobSha1), 'tampered');
    await fs.symlink(join('..', '..', '..', 'blobs', blobSha1), join(repoDir, 'snapshots', commit, 'sub', 'config.json'));

    const hub = await start();
    await store().ensure('tiny');
    const folder = join(modelsDir, 'tiny', 'files');
    assert.deepEqual(await fs.readFile(join(folder, 'model.safetensors')), weights);
    const record = await readStoreJson();
    assert.equal(record.files['model.safetensors'].origin, 'hf-cache');
    assert.equal(record.files['model.safetensors'].revision, commit);
    assert.equal(hub.requests.filter((r) => r.path.endsWith('/model.safetensors')).length, 0, 'no request for the cached file');
    // The tampered blob did not match its own name, so config.json was downloaded instead.
    assert.equal(record.files['sub/config.json'].origin, 'download');
    assert.deepEqual(await fs.readFile(join(folder, 'sub', 'config.json')), config);
  });

  it('stops on abort mid-download, keeping the partial for later', async () => {
    await start({ slow: { chunkBytes: 8_192, delayMs: 20 } });
    const controller = new AbortController();
    const s = store();
    await assert.rejects(
      s.ensure('tiny', {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.type === 'download' && p.receivedBytes > 0) controller.abort();
        },
      }),
      (e) => codeOf(e) === 'canceled',
    );
    const partial = join(modelsDir, 'tiny', 'files', 'model.safetensors.partial');
    const size = (await fs.stat(partial)).size;
    assert.ok(size > 0 && size < weights.length, `partial has ${size} bytes`);
    assert.equal(existsSync(join(modelsDir, 'tiny', 'files', 'model.safetensors')), false);
  });

  it('verify re-hashes: a damaged file fails and loses its record; a hand-copied file verifies and becomes usable offline', async () => {
    await start();
    const s = store();
    await s.ensure('tiny');
    const ok = await s.verify('tiny');
    assert.equal(ok.ok, true);
    assert.deepEqual(ok.files.map((f) => f.checkedAgainst), ['manifest', 'store-record', 'store-record']);

    const weightsPath = join(modelsDir, 'tiny', 'files', 'model.safetensors');
    const damaged = Buffer.from(weights);
    damaged[10] ^= 1;
    await fs.writeFile(weightsPath, damaged);
    const bad = await s.verify('tiny');
    assert.equal(bad.ok, false);
    assert.equal(bad.files[0].ok, false);
    assert.equal(bad.files[0].actual, sha256(damaged));
    assert.equal((await s.status('tiny')).state, 'partial');
    await assert.rejects(store({ allowDownload: false }).ensure('tiny'), (e) => codeOf(e) === 'model-checksum-mismatch');

    // Copy the right bytes in by hand, verify, and the offline store accepts it.
    await fs.writeFile(weightsPath, weights);
    assert.equal((await s.verify('tiny')).ok, true);
    assert.equal((await readStoreJson()).files['model.safetensors'].checked_against, 'manifest');
    await store({ allowDownload: false }).ensure('tiny');
  });

  it('loads the packaged manifest by walking up to package.json', async () => {
    const m = await loadManifest();
    assert.deepEqual(Object.keys(m.models).sort(), ['aesthetic', 'clip', 'pickscore', 'vqascore']);
    assert.equal(m.models.clip.files.find((f) => f.path === 'model.safetensors')?.sha256, 'a2bf730a0c7debf160f7a6b50b3aaf3703e7e88ac73de7a314903141db026dcb');
    const bad = join(dir, 'bad.json');
    await fs.writeFile(bad, JSON.stringify({ schema_version: 1, hub_endpoint: 'x', models: { a: { id: 'a', kind: 'clip', name: 'a', license: 'x', source: { type: 'url' }, files: [{ path: '../x', url: 'http://x' }] } } }));
    await assert.rejects(loadManifest(bad), (e) => codeOf(e) === 'model-format');
  });
});
