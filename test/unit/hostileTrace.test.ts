/**
 * A hostile (or damaged) generation_trace.json on resume: paths that leave the run folder, huge
 * numbers, wrong types, ids that are not ids, a link, a giant file. Each is refused with
 * run-not-resumable and an action before anything happens: no request reaches Replicate (the fake's
 * log) and nothing is written anywhere (the folder around the run is snapshotted before and after).
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../src/core/engine';
import { readPromptFile } from '../../src/core/prompt';
import { createRunFolder } from '../../src/core/run/output';
import { newTrace, resolveSettings } from '../../src/core/run/runPlan';
import type { GenerationTrace } from '../../src/core/run/trace';
import { startFakeReplicate, type FakeReplicate } from '../../src/sandbox/fakeReplicate/server';
import type { ContactSheetError } from '../../src/shared/errors';
import { writePrompt } from '../support/runFixture';

/** Every path under `dir` with its size and modification time. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const s = await stat(p).catch(() => null);
      out.push(`${p} ${s?.size ?? 'dangling'} ${s?.mtimeMs ?? ''}`);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

type Mutation = [string, (t: GenerationTrace & Record<string, unknown>) => void];

const MUTATIONS: Mutation[] = [
  ['a pending file that climbs out of the folder', (t) => (t.images[0].pending_file = '../../escape.png')],
  ['an absolute ranked file name', (t) => Object.assign(t.images[0], { status: 'scored', file: '/etc/passwd' })],
  ['a metadata file in a subfolder', (t) => (t.images[1].metadata_file = 'pending/../../x.json')],
  ['a pending name for another seed', (t) => (t.images[1].pending_file = 'pending/seed_1_002.png')],
  ['two images sharing a ranked name', (t) => Object.assign(t.images[0], { file: 'image_001.png' }, t.images[1] && {}) && Object.assign(t.images[1], { file: 'image_001.png' })],
  ['a huge image count', (t) => (t.settings.num_variations = 1e9)],
  ['a seed beyond 32 bits', (t) => (t.settings.seeds[0] = 2 ** 53)],
  ['a huge cost', (t) => (t.costs.total_usd = 1e308)],
  ['a negative width', (t) => (t.images[0].width = -1)],
  ['a concurrency given as text', (t) => ((t.settings as unknown as Record<string, unknown>).concurrency = '8')],
  ['images that are not a list', (t) => ((t as Record<string, unknown>).images = { 0: {} })],
  ['a prediction id with a path in it', (t) => Object.assign(t.images[0], { status: 'created', prediction_id: '../../v1/account' })],
  ['a model that is not owner/name', (t) => (t.settings.models = ['evil/model; rm -rf /'])],
  ['an API call whose path is a number', (t) => (t.api_calls = [{ method: 'GET', path: 5 } as never])],
  ['an API base URL that is a file', (t) => (t.settings.api_base_url = 'file:///etc/passwd')],
  ['a scored image whose scores are not numbers', (t) => Object.assign(t.images[0], { status: 'scored', scores: { pickscore: { raw: 'x', value: 1, model: 'm' } } })],
  ['an index out of place', (t) => (t.images[1].index = 0)],
  ['an unknown key smuggled in', (t) => ((t as Record<string, unknown>).__proto__evil = 1)],
  ['a prototype key', (t) => Object.defineProperty(t, '__proto__', { value: { polluted: true }, enumerable: true })],
  ['an empty object', (t) => Object.keys(t).forEach((k) => delete (t as Record<string, unknown>)[k])],
];

describe('resume refuses a hostile or damaged trace before doing anything', function () {
  this.timeout(60_000);
  let root: string;
  let fake: FakeReplicate;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'cs-hostile-'));
    fake = await startFakeReplicate();
  });
  after(async () => {
    await fake?.close();
    await rm(root, { recursive: true, force: true });
  });

  async function runFolder(): Promise<{ dir: string; parent: string; trace: GenerationTrace }> {
    const { dir: parent, path } = await writePrompt(root, 'harbor.txt', 'A quiet harbor at dawn');
    const prompt = await readPromptFile(path);
    const settings = resolveSettings(prompt, { numVariations: 2, seed: 5, apiBaseUrl: fake.url });
    const folder = await createRunFolder({ promptPath: path });
    const trace = newTrace({ prompt, settings, demo: false, estimate: null });
    return { dir: folder.root, parent, trace };
  }

  const refused = (e: ContactSheetError) => e.code === 'run-not-resumable' && /was not written by Contact Sheet or is damaged|not a Contact Sheet trace/.test(e.message) && !!e.action;

  it('the unmodified trace is accepted (the control: it gets as far as running)', async () => {
    const { dir, trace } = await runFolder();
    await writeFile(join(dir, 'generation_trace.json'), JSON.stringify(trace));
    const engine = createEngine({ token: fake.token, apiBaseUrl: fake.url, vqascore: false, allowDownload: false, modelsDir: join(root, 'no-models') });
    const result = await engine.resume(dir);
    assert.ok('status' in result && result.status === 'failed', 'it ran (scoring has no models here)');
    assert.equal(result.trace.images.filter((i) => i.status === 'generated').length, 2);
  });

  for (const [what, mutate] of MUTATIONS) {
    it(`refuses ${what}`, async () => {
      const { dir, parent, trace } = await runFolder();
      mutate(trace as GenerationTrace & Record<string, unknown>);
      await writeFile(join(dir, 'generation_trace.json'), JSON.stringify(trace));
      const before = await snapshot(parent);
      const requests = fake.requests.length;
      const engine = createEngine({ token: fake.token, apiBaseUrl: fake.url, modelsDir: join(root, 'no-models') });
      await assert.rejects(engine.resume(dir), refused);
      assert.equal(fake.requests.length, requests, 'no request was sent');
      assert.deepEqual(await snapshot(parent), before, 'nothing was written');
    });
  }

  it('refuses a trace that is a symbolic link, and one of 65 MB without reading it', async () => {
    const linked = await runFolder();
    const elsewhere = join(root, 'elsewhere.json');
    await writeFile(elsewhere, JSON.stringify(linked.trace));
    await symlink(elsewhere, join(linked.dir, 'generation_trace.json'));
    const engine = createEngine({ token: fake.token, apiBaseUrl: fake.url });
    await assert.rejects(engine.resume(linked.dir), (e: ContactSheetError) => refused(e) && /symbolic link/.test(e.message));

    const giant = await runFolder();
    await writeFile(join(giant.dir, 'generation_trace.json'), '');
    await truncate(join(giant.dir, 'generation_trace.json'), 65 * 1024 * 1024);
    await assert.rejects(engine.resume(giant.dir), (e: ContactSheetError) => refused(e) && /larger than 64 MB/.test(e.message));
  });
});
