import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import sharp from 'sharp';
import { main } from '../../src/cli/main';
import { comparePrecisions, kendallTau } from '../../src/core/scoring/precisionAgreement';
import type { ImageScores } from '../../src/core/scoring/types';
import { startRunFixture, type RunFixture } from '../support/runFixture';

describe('int8 against fp32 (models check-precision)', () => {
  describe('kendallTau (τ-b)', () => {
    it('is 1 for the same order and −1 for the reverse, whatever the scale', () => {
      assert.equal(kendallTau([1, 2, 3, 4], [10, 20, 30, 40]), 1);
      assert.equal(kendallTau([1, 2, 3, 4], [0.4, 0.3, 0.2, 0.1]), -1);
    });

    it('matches hand-computed values, with and without ties', () => {
      // Pairs of [1,2,3,4,5] against [3,1,2,5,4]: 7 concordant, 3 discordant → (7 − 3) / 10.
      assert.equal(kendallTau([1, 2, 3, 4, 5], [3, 1, 2, 5, 4]), 0.4);
      // One tie in each (different pairs): 4 net concordant of 5 untied pairs each → 4 / √(5·5).
      assert.equal(kendallTau([1, 1, 2, 3], [1, 2, 2, 3]), 0.8);
    });

    it('is undefined (NaN) when one side has no order, and refuses unpaired samples', () => {
      assert.ok(Number.isNaN(kendallTau([5, 5, 5], [1, 2, 3])));
      assert.ok(Number.isNaN(kendallTau([1], [1])));
      assert.throws(() => kendallTau([1, 2], [1]), RangeError);
    });
  });

  describe('comparePrecisions', () => {
    const scores = (pick: number | null, clip: number): ImageScores => ({
      pickscore: pick === null ? { value: null, reason: 'pickscore model unavailable: test' } : { raw: pick, value: Math.min(100, pick), model: 'p' },
      clip_score: { raw: clip, value: clip, model: 'c' },
      vqascore: { value: null, reason: 'disabled in settings' },
      aesthetic: { raw: 5, value: 44.4, model: 'a' },
    });

    it('compares PickScore raw and the others on 0–100, over the images both precisions scored', () => {
      const fp32 = [scores(20.1, 31.0), scores(21.3, 28.5), scores(19.0, 30.0), scores(null, 25)];
      const int8 = [scores(20.2, 30.2), scores(21.0, 28.9), scores(19.5, 30.5), scores(18, 25.5)];
      const [pick, clip] = comparePrecisions(fp32, int8, ['pickscore', 'clip_score']);
      assert.deepEqual({ ...pick, maxAbsDifference: Number(pick.maxAbsDifference.toFixed(9)) }, { metric: 'pickscore', images: 3, tau: 1, maxAbsDifference: 0.5, sameBest: true });
      // clip: fp32 order 0 > 2 > 1 > 3; int8 order 2 > 0 > 1 > 3 → one discordant pair of six.
      assert.equal(clip.images, 4);
      assert.ok(Math.abs(clip.tau - 4 / 6) < 1e-12, String(clip.tau));
      assert.ok(Math.abs(clip.maxAbsDifference - 0.8) < 1e-9);
      assert.equal(clip.sameBest, false);
    });
  });

  describe('the command, on tiny models (real conversion, real sessions)', function () {
    this.timeout(300_000);
    let fx: RunFixture;
    let images: string[];
    const prompt = 'a red lighthouse on a cliff at dusk';

    before(async () => {
      fx = await startRunFixture();
      images = [];
      const colors = [
        { r: 220, g: 40, b: 30 },
        { r: 20, g: 90, b: 200 },
        { r: 240, g: 230, b: 210 },
        { r: 10, g: 10, b: 10 },
        { r: 90, g: 160, b: 60 },
      ];
      for (const [i, background] of colors.entries()) {
        const p = join(fx.root, `img${i}.png`);
        await sharp({ create: { width: 300 + 40 * i, height: 200, channels: 3, background } }).png().toFile(p);
        images.push(p);
      }
    });
    after(async () => {
      await fx?.close();
    });

    const modelArgs = () => ['--hub-endpoint', fx.hub.url, '--manifest', fx.tiny.manifestPath, '--models-dir', fx.modelsDir];

    it('reports τ and max |Δ| per metric equal to those of `score` run at each precision', async () => {
      const io = fx.io();
      const code = await main(['models', 'check-precision', '--images', images.join(','), '--prompt', prompt, '--json', ...modelArgs()], io);
      assert.equal(code, 0, io.stderrText);
      const report = JSON.parse(io.stdoutText) as { metrics: { metric: string; images: number; kendall_tau: number | null; max_abs_difference: number; same_best: boolean }[] };
      assert.deepEqual(report.metrics.map((m) => m.metric), ['pickscore', 'clip_score', 'aesthetic']);
      // A known pair: the seeded tiny models rank these five images the same at fp32 and int8.
      for (const m of report.metrics) assert.equal(m.kendall_tau, 1, `${m.metric}: same ranking`);

      // The same images scored by `contact-sheet score` at each precision, compared by hand.
      const scored: Record<string, ImageScores[]> = {};
      for (const precision of ['fp32', 'int8']) {
        const sio = fx.io();
        assert.equal(await main(['score', ...images, '--prompt', prompt, '--precision', precision, '--no-vqascore', '--json', ...modelArgs()], sio), 0, sio.stderrText);
        scored[precision] = (JSON.parse(sio.stdoutText) as { images: { scores: ImageScores }[] }).images.map((r) => r.scores);
      }
      for (const m of report.metrics) {
        const metric = m.metric as 'pickscore' | 'clip_score' | 'aesthetic';
        const shown = (s: ImageScores) => (metric === 'pickscore' ? (s[metric] as { raw: number }).raw : (s[metric].value as number));
        const a = scored.fp32.map(shown);
        const b = scored.int8.map(shown);
        assert.equal(m.images, images.length);
        assert.equal(m.kendall_tau, kendallTau(a, b), `${metric} τ`);
        assert.equal(m.max_abs_difference, Math.max(...a.map((x, i) => Math.abs(x - b[i]))), `${metric} max |Δ|`);
        assert.ok(m.max_abs_difference > 0, `${metric}: int8 really differs from fp32`);
      }
    });

    it('prints a table, and refuses a single image or a missing prompt before loading anything', async () => {
      const io = fx.io();
      assert.equal(await main(['models', 'check-precision', '--images', images.slice(0, 3).join(','), '--prompt', prompt, ...modelArgs()], io), 0, io.stderrText);
      assert.match(io.stdoutText, /^metric\s+Kendall τ\s+max \|Δ\|\s+same best\s+images/m);
      assert.match(io.stdoutText, /^PickScore\s+-?\d\.\d{3}\s+\d+\.\d{4}\s+(yes|no)\s+3\/3$/m);
      assert.match(io.stdoutText, /^Aesthetic\s/m);

      const one = fx.io();
      assert.equal(await main(['models', 'check-precision', '--images', images[0], '--prompt', prompt, ...modelArgs()], one), 2);
      assert.match(one.stderrText, /at least two images/);
      const noPrompt = fx.io();
      assert.equal(await main(['models', 'check-precision', '--images', images.join(','), ...modelArgs()], noPrompt), 2);
      assert.match(noPrompt.stderrText, /exactly one of --prompt and --prompt-file/);
    });
  });
});
