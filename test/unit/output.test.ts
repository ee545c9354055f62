import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createRunFolder,
  defaultRunsParent,
  pendingImageName,
  rankedImageName,
  rankedMetadataName,
  RunFolder,
  thumbnailName,
  timestampFolderName,
  toWriteError,
} from '../../src/core/run/output';

describe('output folder', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cs-out-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names files from numbers only', () => {
    assert.equal(rankedImageName(1), 'image_001.png');
    assert.equal(rankedImageName(16), 'image_016.png');
    assert.equal(rankedMetadataName(3), 'image_003_metadata.json');
    assert.equal(pendingImageName(0, 42), 'pending/seed_42_001.png');
    assert.equal(thumbnailName(0, 42), '.thumbnails/seed_42_001.webp');
    assert.equal(defaultRunsParent('/a/b/cat prompt.md'), '/a/b/cat prompt.images');
    assert.equal(timestampFolderName(new Date(2026, 10, 5, 7, 8, 9)), '20261105_070809');
  });

  it('creates <stem>.images/<timestamp> and suffixes a clash instead of overwriting', async () => {
    const prompt = join(dir, 'cat.txt');
    const now = new Date(2026, 0, 2, 3, 4, 5);
    const a = await createRunFolder({ promptPath: prompt, now });
    const b = await createRunFolder({ promptPath: prompt, now });
    const c = await createRunFolder({ promptPath: prompt, now });
    assert.equal(a.root, join(dir, 'cat.images', '20260102_030405'));
    assert.equal(b.root, a.root + '_2');
    assert.equal(c.root, a.root + '_3');
    const elsewhere = await createRunFolder({ promptPath: prompt, runsDir: join(dir, 'runs'), now });
    assert.equal(elsewhere.root, join(dir, 'runs', '20260102_030405'));
  });

  it('uses --output-dir itself when new or empty, and a suffix when it holds files', async () => {
    const out = join(dir, 'out');
    const first = await createRunFolder({ promptPath: 'x.txt', outputDir: out });
    assert.equal(first.root, out);
    const again = await createRunFolder({ promptPath: 'x.txt', outputDir: out });
    assert.equal(again.root, out, 'an empty folder is reused');
    await first.writeFile('generation_trace.json', '{}');
    const third = await createRunFolder({ promptPath: 'x.txt', outputDir: out });
    assert.equal(third.root, out + '_2');
    assert.equal(await readFile(join(out, 'generation_trace.json'), 'utf8'), '{}');
  });

  it('writes atomically (no temp files left) and replaces the previous content', async () => {
    const f = await createRunFolder({ promptPath: 'x.txt', outputDir: join(dir, 'run') });
    await f.writeJson('generation_trace.json', { a: 1 });
    await f.writeJson('generation_trace.json', { a: 2 });
    await f.writeFile('pending/seed_1_001.png', Buffer.from([1, 2, 3]));
    assert.deepEqual(JSON.parse(await readFile(join(f.root, 'generation_trace.json'), 'utf8')), { a: 2 });
    assert.deepEqual(await readdir(f.root), ['generation_trace.json', 'pending']);
    await f.move('pending/seed_1_001.png', 'image_001.png');
    assert.deepEqual([...(await f.readFile('image_001.png'))], [1, 2, 3]);
    await f.removeEmptyDir('pending');
    assert.equal(await f.exists('pending'), false);
  });

  it('refuses names that leave the folder and symbolic links out of it', async () => {
    const f = await createRunFolder({ promptPath: 'x.txt', outputDir: join(dir, 'run') });
    const outside = join(dir, 'outside');
    await mkdir(outside);
    for (const bad of ['../escape.png', '/etc/passwd', 'a/../../b', '', 'pending/', '.hidden/../x', 'a\\b', '.hidden/x.webp', 'a/.thumbnails/x.webp', '.thumbnails/.x']) {
      await assert.rejects(f.writeFile(bad, 'x'), (e: { code?: string }) => e.code === 'output-path-unsafe', bad);
    }
    await symlink(outside, join(f.root, 'pending'));
    await assert.rejects(f.writeFile('pending/seed_1_001.png', 'x'), (e: { code?: string; action?: string }) => e.code === 'output-path-unsafe' && !!e.action);
    await symlink(join(outside, 'target.json'), join(f.root, 'generation_trace.json'));
    await assert.rejects(f.writeJson('generation_trace.json', {}), (e: { code?: string }) => e.code === 'output-path-unsafe');
    assert.deepEqual(await readdir(outside), [], 'nothing was written outside');
  });

  it('writes previews into the hidden .thumbnails folder, the only hidden name it accepts', async () => {
    const f = await createRunFolder({ promptPath: 'x.txt', outputDir: join(dir, 'run') });
    await f.writeFile(thumbnailName(2, 7), 'webp');
    assert.equal(await readFile(join(f.root, '.thumbnails', 'seed_7_003.webp'), 'utf8'), 'webp');
  });

  it('maps ENOSPC to disk-full with an action that names resume, other errors to write-failed', async () => {
    const enospc = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    const full = toWriteError(enospc, '/x/image_001.png');
    assert.equal(full.code, 'disk-full');
    assert.match(full.action ?? '', /contact-sheet resume/);
    assert.equal(toWriteError(Object.assign(new Error('x'), { code: 'EACCES' }), '/x').code, 'write-failed');
    // A real failure: the target's parent is a file.
    const f = await createRunFolder({ promptPath: 'x.txt', outputDir: join(dir, 'run') });
    await writeFile(join(f.root, 'pending'), 'not a folder');
    await assert.rejects(f.writeFile('pending/a.png', 'x'), (e: { code?: string }) => e.code === 'write-failed');
  });

  it('opening something that is not a folder is run-not-resumable', async () => {
    await assert.rejects(RunFolder.open(join(dir, 'missing')), (e: { code?: string }) => e.code === 'run-not-resumable');
  });

  it('resume clears the temporary files a killed writer left (its process is gone), never a live writer\'s', async () => {
    const f = await RunFolder.open(dir);
    await mkdir(join(dir, 'pending'));
    // A process id that is not running: a killed run's.
    const dead = 2 ** 22 + 12345;
    await writeFile(join(dir, `.generation_trace.json.${dead}.0a1b2c3d.tmp`), '{');
    await writeFile(join(dir, 'pending', `.seed_1_001.png.${dead}.deadbeef.tmp`), 'x');
    await writeFile(join(dir, `.summary.md.${process.pid}.01234567.tmp`), 'being written');
    await writeFile(join(dir, 'notes.tmp'), 'not ours');
    assert.equal(await f.removeStaleTempFiles(), 2);
    assert.deepEqual((await readdir(dir)).sort(), [`.summary.md.${process.pid}.01234567.tmp`, 'notes.tmp', 'pending']);
    assert.deepEqual(await readdir(join(dir, 'pending')), []);
  });
});
