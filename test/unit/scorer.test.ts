/**
 * The scorer end to end on tiny random-weight models: download from a local hub → verify →
 * convert to ONNX → run in the scoring worker. Scores are checked against an independent
 * plain-TypeScript forward pass of the same checkpoints (test/support/clipReference.ts).
 */
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadAestheticHead } from '../../src/core/models/aestheticHead';
import { parseClipConfig } from '../../src/core/models/convert/clipConfig';
import type { Manifest } from '../../src/core/models/manifest';
import { SafetensorsFile, type TensorToWrite } from '../../src/core/models/safetensors';
import { clipImageConfigFromPreprocessorJson, clipPixelValues } from '../../src/core/scoring/clipPreprocess';
import { ClipTokenizer } from '../../src/core/scoring/clipTokenizer';
import { createScorer, type Scorer } from '../../src/core/scoring/scorer';
import { startSourceScoringWorker } from '../../src/sandbox/sourceScoringWorker';
import type { ImageScores, MetricScore, ScorerConfig, ScorerProgress } from '../../src/core/scoring/types';
import { startHubServer, type HubServer } from '../../src/sandbox/hub/server';
import { makeTinyModels } from '../../src/sandbox/tinyModels/makeTinyModels';
import { referenceImageEmbeds, referenceTextEmbeds } from '../support/clipReference';
import { cosineSimilarity } from '../../src/sandbox/cosineSimilarity';
import { inProcessScorer } from '../../src/sandbox/inProcessScorer';
import { makeFakeImage } from '../../src/sandbox/fakeReplicate/fakeImages';

const PROMPT = 'a red fox sitting in fresh snow at dawn';

async function testImage(kind: 'fox' | 'sea' | 'jpeg'): Promise<Buffer> {
  if (kind === 'fox') {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="384" height="216"><rect width="384" height="216" fill="#dde6f0"/><circle cx="190" cy="120" r="60" fill="#c8501e"/><rect x="0" y="170" width="384" height="46" fill="#ffffff"/></svg>`;
    return sharp(Buffer.from(svg)).png().toBuffer();
  }
  if (kind === 'sea') {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="216" height="384"><defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#0b3d91"/><stop offset="1" stop-color="#7fd1e8"/></linearGradient></defs><rect width="216" height="384" fill="url(#g)"/></svg>`;
    return sharp(Buffer.from(svg)).png().toBuffer();
  }
  return sharp({ create: { width: 300, height: 300, channels: 3, background: { r: 40, g: 160, b: 60 } } }).jpeg({ quality: 90 }).toBuffer();
}

function asScore(r: ImageScores[keyof ImageScores]): MetricScore {
  assert.notEqual(r.value, null, `metric absent: ${'reason' in r ? r.reason : ''}`);
  return r as MetricScore;
}

async function readTensors(path: string): Promise<Record<string, TensorToWrite>> {
  const f = await SafetensorsFile.open(path);
  try {
    const out: Record<string, TensorToWrite> = {};
    for (const [name, info] of Object.entries(f.tensors)) out[name] = { shape: info.shape, data: await f.readFloat32(name) };
    return out;
  } finally {
    await f.close();
  }
}

function normalize(v: Float64Array): Float64Array {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

describe('scorer (tiny models, real download → convert → ONNX path)', function () {
  this.timeout(240_000);
  let root: string;
  let hub: HubServer;
  let manifestPath: string;
  let hubRoot: string;
  let manifest: Manifest;
  const scorers: Scorer[] = [];

  const config = (overrides: Partial<ScorerConfig> = {}): ScorerConfig => ({
    modelsDir: join(root, 'models'),
    precision: 'fp32',
    enabled: { pickscore: true, clip_score: true, aesthetic: true, vqascore: true },
    lowMemory: false,
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    allowDownload: true,
    hubEndpoint: hub.url,
    manifestPath,
    ...overrides,
  });
  const make = (c: ScorerConfig, opts: Parameters<typeof createScorer>[1] = {}) => {
    const s = createScorer(c, { startWorker: startSourceScoringWorker, ...opts });
    scorers.push(s);
    return s;
  };
  /** The same ScoringSession on the test's thread, no worker. */
  const makeLocal = (c: ScorerConfig) => {
    const s = inProcessScorer(c);
    scorers.push(s);
    return s;
  };
  const hubFile = (id: string, path: string) => {
    const m = manifest.models[id];
    const f = m.files.find((x) => x.path === path);
    const repo = f?.repo ?? (m.source.type === 'huggingface' ? m.source.repo : '');
    return join(hubRoot, repo, path);
  };

  before(async () => {
    root = await fs.mkdtemp(join(tmpdir(), 'cs-scorer-'));
    await fs.mkdir(join(root, 'fixture'));
    ({ manifestPath, hubRoot } = await makeTinyModels(join(root, 'fixture')));
    manifest = JSON.parse(await fs.readFile(manifestPath, 'utf8')) as Manifest;
    hub = await startHubServer(hubRoot);
  });

  afterEach(async () => {
    await Promise.all(scorers.splice(0).map((s) => s.dispose()));
  });

  after(async () => {
    await hub?.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('computes all four metrics in the worker and they equal an independent forward pass', async () => {
    const progress: ScorerProgress[] = [];
    const scorer = make(config(), { onProgress: (p) => progress.push(p) });
    const info = await scorer.setPrompt(PROMPT);
    assert.equal(info.truncated, false);
    assert.ok(info.tokenCount > 2);
    const image = await testImage('fox');
    const scores = await scorer.scoreImage(image);

    for (const id of ['pickscore', 'clip_score', 'aesthetic', 'vqascore'] as const) {
      const s = asScore(scores[id]);
      assert.ok(Number.isFinite(s.raw), `${id} raw`);
      assert.ok(s.value >= 0 && s.value <= 100, `${id} value ${s.value}`);
      assert.match(s.model, /\S/);
    }
    assert.ok(progress.some((p) => p.type === 'download'), 'models were downloaded from the hub');
    assert.ok(progress.some((p) => p.type === 'ready' && p.model === 'pickscore'));

    // Independent maths: same checkpoint files, reference forward pass in float64.
    for (const [id, metric] of [['pickscore', 'pickscore'], ['clip', 'clip_score']] as const) {
      const cfgJson = JSON.parse(await fs.readFile(hubFile(id, 'config.json'), 'utf8'));
      const arch = parseClipConfig(cfgJson);
      const weights = await readTensors(hubFile(id, 'model.safetensors'));
      const tok = await ClipTokenizer.load(hubFile(id, 'tokenizer.json'));
      const ids = Array.from(tok.encode(PROMPT).ids, Number);
      const imgCfg = clipImageConfigFromPreprocessorJson(JSON.parse(await fs.readFile(hubFile(id, 'preprocessor_config.json'), 'utf8')));
      const pixels = await clipPixelValues(image, imgCfg);
      const t = normalize(referenceTextEmbeds(weights, arch, ids));
      const v = normalize(referenceImageEmbeds(weights, arch, pixels));
      const cos = cosineSimilarity(t, v);
      const got = asScore(scores[metric]).raw;
      const expected = id === 'pickscore' ? Math.exp(weights.logit_scale.data[0]) * cos : 100 * cos;
      assert.ok(Math.abs(got - expected) < 1e-3 * Math.max(1, Math.abs(expected)), `${metric}: ${got} vs reference ${expected}`);
      if (id === 'clip') {
        const head = await loadAestheticHead(hubFile('aesthetic', manifest.models.aesthetic.files[0].path));
        const expectedAesthetic = head.layered(Float32Array.from(v));
        const gotAesthetic = asScore(scores.aesthetic).raw;
        assert.ok(Math.abs(gotAesthetic - expectedAesthetic) < 1e-3, `aesthetic: ${gotAesthetic} vs layered reference ${expectedAesthetic}`);
        assert.ok(Math.abs(asScore(scores.aesthetic).value - ((expectedAesthetic - 1) / 9) * 100) < 1e-2);
      }
    }
  });

  it('gives different images different scores, and the worker equals the in-process engine', async () => {
    const worker = make(config());
    const local = makeLocal(config());
    await Promise.all([worker.setPrompt(PROMPT), local.setPrompt(PROMPT)]);
    const images = [await testImage('fox'), await testImage('sea'), await testImage('jpeg')];
    const a: ImageScores[] = [];
    const b: ImageScores[] = [];
    for (const img of images) {
      a.push(await worker.scoreImage(img));
      b.push(await local.scoreImage(img));
    }
    assert.deepEqual(a, b);
    const picks = a.map((s) => asScore(s.pickscore).raw);
    assert.equal(new Set(picks).size, 3, `distinct PickScores: ${picks}`);
    const described = await worker.describe();
    assert.equal(described.precision, 'fp32');
    assert.match(described.models.pickscore ?? '', /fp32/);
  });

  it('reports disabled metrics as absent with a reason, never a number', async () => {
    const scorer = make(config({ enabled: { pickscore: true, clip_score: false, aesthetic: false, vqascore: false } }));
    await scorer.setPrompt(PROMPT);
    const s = await scorer.scoreImage(await testImage('sea'));
    asScore(s.pickscore);
    for (const id of ['clip_score', 'aesthetic', 'vqascore'] as const) {
      assert.equal(s[id].value, null);
      assert.match((s[id] as { reason: string }).reason, /disabled/);
    }
  });

  it('offline with no cached models: every metric absent with the store error, nothing thrown', async () => {
    const progress: ScorerProgress[] = [];
    const scorer = make(config({ modelsDir: join(root, 'empty-models'), allowDownload: false }), { onProgress: (p) => progress.push(p) });
    const info = await scorer.setPrompt(PROMPT);
    assert.equal(info.tokenCount, 0);
    const s = await scorer.scoreImage(await testImage('fox'));
    for (const id of ['pickscore', 'clip_score', 'aesthetic', 'vqascore'] as const) {
      assert.equal(s[id].value, null, id);
      assert.match((s[id] as { reason: string }).reason, /unavailable/);
    }
    const unavailable = progress.filter((p) => p.type === 'unavailable');
    assert.ok(unavailable.length >= 3, `unavailable events: ${JSON.stringify(unavailable)}`);
  });

  it('rejects an unreadable image with image-unreadable and keeps working', async () => {
    const scorer = make(config({ enabled: { pickscore: true, clip_score: true, aesthetic: false, vqascore: false } }));
    await scorer.setPrompt(PROMPT);
    await assert.rejects(scorer.scoreImage(Buffer.from('not an image at all')), (e: { code?: string }) => e.code === 'image-unreadable');
    asScore((await scorer.scoreImage(await testImage('fox'))).clip_score);
  });

  it('a score canceled right after it was sent is canceled, and the worker can be disposed at once without crashing', async () => {
    const image = await testImage('fox');
    for (let i = 0; i < 5; i++) {
      const scorer = make(config());
      await scorer.setPrompt(PROMPT);
      const controller = new AbortController();
      const pending = scorer.scoreImage(image, controller.signal);
      // The request is already posted to the worker; no answer can have come back yet.
      controller.abort();
      await assert.rejects(pending, (e: { code?: string }) => e.code === 'canceled');
      await scorer.dispose();
    }
    // Still alive (a native crash would have taken the test process down): a new scorer works.
    const again = make(config({ enabled: { pickscore: false, clip_score: true, aesthetic: false, vqascore: false } }));
    await again.setPrompt(PROMPT);
    asScore((await again.scoreImage(image)).clip_score);
  });

  it('dispose waits for the onnxruntime work in flight (even a score just asked for) before releasing the sessions', async () => {
    const session = makeLocal(config({ enabled: { pickscore: true, clip_score: true, aesthetic: true, vqascore: false } }));
    await session.setPrompt(PROMPT);
    const image = await testImage('fox');
    const order: string[] = [];
    const scoring = session.scoreImage(image).then((s) => {
      order.push('scored');
      return s;
    });
    // Dispose in the same tick: the score has not reached onnxruntime yet, and must still finish first.
    await session.dispose().then(() => order.push('disposed'));
    assert.deepEqual(order, ['scored', 'disposed']);
    const scores = await scoring;
    for (const id of ['pickscore', 'clip_score', 'aesthetic'] as const) assert.ok(Number.isFinite(asScore(scores[id]).raw), id);
  });

  it('int8 precision converts its own graphs and stays within the measured distance of fp32', async () => {
    // Measured on these tiny models (onnxruntime-node 1.30, AVX-512 VNNI), 36 images (3 prompts ×
    // 12 fake images) plus the fox: |int8 − fp32| of CLIP-Score's raw 100·cos at most 1.62 (fox
    // 0.67), of PickScore's raw at most 0.19. On AVX2 without VNNI (7-bit weights there, see
    // int8WeightRange) 0.65 and 0.24. The bounds below hold both; the scores span −9 to 32.
    const enabled = { pickscore: true, clip_score: true, aesthetic: false, vqascore: false };
    const fp32 = makeLocal(config({ enabled }));
    const int8 = makeLocal(config({ enabled, precision: 'int8' }));
    await fp32.setPrompt(PROMPT);
    await int8.setPrompt(PROMPT);
    const images = [await testImage('fox'), ...(await Promise.all([0, 1, 2, 3, 4].map((seed) => makeFakeImage(PROMPT, seed, 320 + seed * 16, 200 + seed * 8, 'png'))))];
    let clipDelta = 0;
    let pickDelta = 0;
    let identical = 0;
    for (const img of images) {
      const [a, b] = [await fp32.scoreImage(img), await int8.scoreImage(img)];
      assert.match(asScore(b.clip_score).model, /int8/);
      const d = Math.abs(asScore(a.clip_score).raw - asScore(b.clip_score).raw);
      clipDelta = Math.max(clipDelta, d);
      pickDelta = Math.max(pickDelta, Math.abs(asScore(a.pickscore).raw - asScore(b.pickscore).raw));
      if (d === 0) identical += 1;
    }
    await fs.access(join(root, 'models', 'clip', 'onnx', 'int8', 'clip.json'));
    assert.ok(clipDelta <= 2.0, `int8 CLIP-Score differs from fp32 by up to ${clipDelta.toFixed(3)} (measured at most 1.62)`);
    assert.ok(pickDelta <= 0.25, `int8 PickScore differs from fp32 by up to ${pickDelta.toFixed(3)} (measured at most 0.19)`);
    assert.equal(identical, 0, 'int8 must really run a different graph');
  });
});
