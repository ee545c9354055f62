import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { main } from '../../src/cli/main';
import { startRunFixture, type RunFixture } from '../support/runFixture';

describe('contact-sheet score (tiny models)', function () {
  this.timeout(240_000);
  let fx: RunFixture;
  let images: string[];
  let promptFile: string;

  before(async () => {
    fx = await startRunFixture();
    images = [];
    for (const [i, color] of [{ r: 200, g: 60, b: 30 }, { r: 20, g: 90, b: 200 }].entries()) {
      const p = join(fx.root, `img${i}.png`);
      await sharp({ create: { width: 320, height: 200, channels: 3, background: color } }).png().toFile(p);
      images.push(p);
    }
    promptFile = join(fx.root, 'prompt.txt');
    await writeFile(promptFile, 'a lighthouse on a cliff at night, long exposure\n');
  });

  after(async () => {
    await fx?.close();
  });

  const modelArgs = () => fx.cliArgs().filter((_a, i, all) => all[i] !== '--api-base-url' && all[i - 1] !== '--api-base-url');

  it('prints the four metrics and the overall score for each image', async () => {
    const io = fx.io();
    const code = await main(['score', ...images, '--prompt-file', promptFile, ...modelArgs()], io);
    assert.equal(code, 0, io.stderrText);
    const lines = io.stdoutText.split('\n');
    assert.match(lines[0], /image\s+PickScore\s+CLIP-Score\s+VQAScore\s+Aesthetic\s+Overall/);
    for (const img of images) {
      const row = lines.find((l) => l.startsWith(img));
      assert.ok(row, `row for ${img}`);
      const cells = row.slice(img.length).trim().split(/\s+/);
      assert.equal(cells.length, 5);
      for (const c of cells) assert.match(c, /^-?\d+\.\d+$/, `numeric cell in ${row}`);
    }
    assert.match(io.stdoutText, /Models: PickScore: .*\(fp32\)/);
  });

  it('--json gives scores, overall with renormalized weights, and preference probabilities', async () => {
    const io = fx.io();
    const code = await main(['score', ...images, '--prompt', 'a lighthouse', '--no-vqascore', '--json', ...modelArgs()], io);
    assert.equal(code, 0, io.stderrText);
    const out = JSON.parse(io.stdoutText) as {
      images: { scores: Record<string, { value: number | null; reason?: string }>; overall: { value: number; weights: Record<string, number> }; preference_probability: number }[];
    };
    assert.equal(out.images.length, 2);
    const [a, b] = out.images;
    assert.equal(a.scores.vqascore.value, null);
    assert.match(a.scores.vqascore.reason ?? '', /disabled/);
    assert.deepEqual(Object.keys(a.overall.weights).sort(), ['aesthetic', 'clip_score', 'pickscore']);
    assert.ok(Math.abs(a.overall.weights.pickscore - 0.5 / 0.85) < 1e-12);
    assert.ok(Math.abs(a.preference_probability + b.preference_probability - 1) < 1e-12);
  });

  it('exits 1 naming an unreadable image, 2 on bad usage', async () => {
    const bad = join(fx.root, 'broken.png');
    await writeFile(bad, 'definitely not a png');
    const io = fx.io();
    assert.equal(await main(['score', images[0], bad, '--prompt', 'x', '--no-vqascore', ...modelArgs()], io), 1);
    assert.match(io.stderrText, /broken\.png: error \[image-unreadable\]/);
    const usage = fx.io();
    assert.equal(await main(['score', images[0]], usage), 2);
    assert.match(usage.stderrText, /exactly one of --prompt-file and --prompt/);
  });
});
