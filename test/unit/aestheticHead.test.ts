import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aestheticToPercent, loadAestheticHead } from '../../src/core/models/aestheticHead';
import { writeTorchStateDict } from '../../src/sandbox/tinyModels/torchCheckpointWriter';

/** Deterministic pseudo-random floats (mulberry32) so failures reproduce. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('aesthetic head', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cs-aes-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeTinyHead(embed: number): Promise<string> {
    const rnd = random(7);
    const dims = [[1024, embed], [128, 1024], [64, 128], [16, 64], [1, 16]];
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    [0, 2, 4, 6, 7].forEach((idx, l) => {
      const [o, i] = dims[l];
      const scale = 1 / Math.sqrt(i);
      tensors[`layers.${idx}.weight`] = { shape: [o, i], data: Float32Array.from({ length: o * i }, () => (rnd() * 2 - 1) * scale) };
      tensors[`layers.${idx}.bias`] = { shape: [o], data: Float32Array.from({ length: o }, () => (rnd() * 2 - 1) * scale) };
    });
    // The LAION file sets layers.7.bias so typical outputs land near 5; shift ours the same way.
    tensors['layers.7.bias'].data[0] += 5;
    const p = join(dir, 'head.pth');
    await writeTorchStateDict(p, tensors, { location: 'cuda:0' });
    return p;
  }

  it('the folded affine map agrees with running the five layers to 1e-4', async () => {
    const head = await loadAestheticHead(await writeTinyHead(32));
    assert.equal(head.embeddingDim, 32);
    assert.equal(head.w.length, 32);
    const rnd = random(99);
    let spread = 0;
    const first = head.layered(unit(32, rnd));
    for (let k = 0; k < 20; k++) {
      const x = unit(32, rnd);
      const folded = head.score(x);
      const layered = head.layered(x);
      assert.ok(Math.abs(folded - layered) <= 1e-4, `sample ${k}: folded ${folded} vs layered ${layered}`);
      spread = Math.max(spread, Math.abs(layered - first));
    }
    // The check is only meaningful if different inputs give different scores.
    assert.ok(spread > 1e-3, `scores vary with the input (spread ${spread})`);
  });

  it('rejects an embedding of the wrong size and a state dict without the layers', async () => {
    const head = await loadAestheticHead(await writeTinyHead(16));
    assert.throws(() => head.score(new Float32Array(768)), (e: { code?: string }) => e.code === 'scoring-failed');
    const p = join(dir, 'other.pth');
    await writeTorchStateDict(p, { 'fc.weight': { shape: [1, 2], data: new Float32Array(2) } });
    await assert.rejects(loadAestheticHead(p), (e: { code?: string }) => e.code === 'model-format');
  });

  it('maps 1–10 to 0–100, clamped', () => {
    assert.equal(aestheticToPercent(1), 0);
    assert.equal(aestheticToPercent(10), 100);
    assert.ok(Math.abs(aestheticToPercent(5.5) - 50) < 1e-12);
    assert.equal(aestheticToPercent(-3), 0);
    assert.equal(aestheticToPercent(12), 100);
  });
});

function unit(n: number, rnd: () => number): Float32Array {
  const v = Float32Array.from({ length: n }, () => rnd() * 2 - 1);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}
