import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ContactSheetError } from '../../src/shared/errors';
import { idefics3ConfigFromJson, idefics3Preprocess } from '../../src/core/scoring/vqa/idefics3Preprocess';
import { softmaxAt, VqaScorer, vqaQuestion } from '../../src/core/scoring/vqa/vqaScorer';
import {
  TINY_VQA,
  TINY_VQA_IMAGE_TOKEN_ID,
  TINY_VQA_VOCAB,
  TINY_VQA_YES_ID,
  tinyVqaWeights,
  writeTinyVqaModel,
  type TinyVqaWeights,
} from '../../src/sandbox/tinyModels/tinyVqa';

const IM_START = TINY_VQA_IMAGE_TOKEN_ID - 2;
const END_OF_UTTERANCE = TINY_VQA_IMAGE_TOKEN_ID - 1;
const FAKE_AROUND_IMAGE = TINY_VQA_IMAGE_TOKEN_ID + 1;
const GLOBAL_IMAGE = TINY_VQA_IMAGE_TOKEN_ID + 2;
const YES_ID = TINY_VQA_YES_ID;

const asciiIds = (text: string) => Array.from(Buffer.from(text, 'latin1'));

// ---- the tiny model's maths in plain TypeScript (independent of the ONNX graphs) -----------

function matVec(x: ArrayLike<number>, w: Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j] += x[i] * w[i * cols + j];
  return out;
}

function imageFeatures(w: TinyVqaWeights, pixels: Float32Array): Float64Array[] {
  const t = TINY_VQA;
  const side = t.imageSize;
  const convSide = side / t.patch;
  const conv = new Float64Array(t.visionWidth * convSide * convSide);
  for (let d = 0; d < t.visionWidth; d++) {
    for (let py = 0; py < convSide; py++) {
      for (let px = 0; px < convSide; px++) {
        let s = w.convBias[d];
        for (let c = 0; c < 3; c++) {
          for (let ky = 0; ky < t.patch; ky++) {
            for (let kx = 0; kx < t.patch; kx++) {
              s += w.convWeight[((d * 3 + c) * t.patch + ky) * t.patch + kx] * pixels[c * side * side + (py * t.patch + ky) * side + px * t.patch + kx];
            }
          }
        }
        conv[(d * convSide + py) * convSide + px] = s;
      }
    }
  }
  const poolSide = convSide / t.pool;
  const features: Float64Array[] = [];
  for (let qy = 0; qy < poolSide; qy++) {
    for (let qx = 0; qx < poolSide; qx++) {
      const token = new Float64Array(t.visionWidth);
      for (let d = 0; d < t.visionWidth; d++) {
        let s = 0;
        for (let a = 0; a < t.pool; a++) for (let b = 0; b < t.pool; b++) s += conv[(d * convSide + qy * t.pool + a) * convSide + qx * t.pool + b];
        token[d] = s / (t.pool * t.pool);
      }
      features.push(matVec(token, w.connector, t.visionWidth, t.hidden).map(Math.tanh));
    }
  }
  return features;
}

function referencePYes(w: TinyVqaWeights, pixels: Float32Array, ids: number[]): number {
  const t = TINY_VQA;
  const features = imageFeatures(w, pixels);
  let imageRow = 0;
  let x: Float64Array[] = ids.map((id, pos) => {
    const base = id === TINY_VQA_IMAGE_TOKEN_ID ? features[imageRow++] : w.embedding.subarray(id * t.hidden, (id + 1) * t.hidden);
    return Float64Array.from(base, (v, i) => v + w.positions[pos * t.hidden + i]);
  });
  assert.equal(imageRow, t.imageSeqLen);
  for (const layer of w.layers) {
    const q = x.map((r) => matVec(r, layer.wq, t.hidden, t.hidden));
    const k = x.map((r) => matVec(r, layer.wk, t.hidden, t.hidden));
    const v = x.map((r) => matVec(r, layer.wv, t.hidden, t.hidden));
    x = x.map((row, i) => {
      const context = new Float64Array(t.hidden);
      for (let h = 0; h < t.heads; h++) {
        const o = h * t.headDim;
        const scores = k.slice(0, i + 1).map((kj) => {
          let s = 0;
          for (let e = 0; e < t.headDim; e++) s += q[i][o + e] * kj[o + e];
          return s / Math.sqrt(t.headDim);
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const sum = exps.reduce((a, b) => a + b, 0);
        exps.forEach((p, j) => {
          for (let e = 0; e < t.headDim; e++) context[o + e] += (p / sum) * v[j][o + e];
        });
      }
      const attended = matVec(context, layer.wo, t.hidden, t.hidden).map((val, j) => val + row[j]);
      const up = matVec(attended, layer.w1, t.hidden, t.mlp).map(Math.tanh);
      return matVec(up, layer.w2, t.mlp, t.hidden).map((val, j) => val + attended[j]);
    });
  }
  const logits = matVec(x[x.length - 1], w.lmHead, t.hidden, TINY_VQA_VOCAB);
  return softmaxAt(Float32Array.from(logits), YES_ID);
}

// ---- images ---------------------------------------------------------------------------------

async function patternPng(width: number, height: number, seed: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * seed + ((i * 7919) % 97) * 3) % 256;
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

describe('VqaScorer (tiny SmolVLM-format model through the production path)', () => {
  let dir: string;
  let scorer: VqaScorer | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'contact-sheet-vqa-'));
    await writeTinyVqaModel(dir);
  });

  afterEach(async () => {
    await scorer?.dispose();
    scorer = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('names the backbone and precision of every score', async () => {
    scorer = await VqaScorer.load(dir, { intraOpNumThreads: 1 });
    assert.equal(scorer.modelName, 'HuggingFaceTB/SmolVLM-256M-Instruct (vision int8, decoder int8)');
    const result = await scorer.score(await patternPng(48, 40, 3), 'a red cat');
    assert.equal(result.model, scorer.modelName);
    await scorer.dispose();
    scorer = await VqaScorer.load(dir, { variant: 'fp32', intraOpNumThreads: 1, modelId: 'HuggingFaceTB/SmolVLM-256M-Instruct@abc123' });
    assert.equal(scorer.modelName, 'HuggingFaceTB/SmolVLM-256M-Instruct@abc123 (vision fp32, decoder fp32)');
  });

  it('builds the token sequence: <|im_start|>User: + fake/global + 64 <image> + fake + question + <end_of_utterance>\\nAssistant:', async () => {
    scorer = await VqaScorer.load(dir, { intraOpNumThreads: 1 });
    const expected = [
      IM_START,
      ...asciiIds('User:'),
      FAKE_AROUND_IMAGE,
      GLOBAL_IMAGE,
      ...new Array(TINY_VQA.imageSeqLen).fill(TINY_VQA_IMAGE_TOKEN_ID),
      FAKE_AROUND_IMAGE,
      ...asciiIds(vqaQuestion('a red cat')),
      END_OF_UTTERANCE,
      ...asciiIds('\nAssistant:'),
    ];
    assert.deepEqual(scorer.promptTokenIds('a red cat'), expected);
  });

  it('returns P(" Yes") equal to an independent computation of the model maths (1e-4), value = 100·P', async () => {
    scorer = await VqaScorer.load(dir, { intraOpNumThreads: 1 });
    const png = await patternPng(60, 45, 5);
    const prompt = 'a red cat';
    const result = await scorer.score(png, prompt);
    const preprocess = idefics3ConfigFromJson(JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8')));
    const pixels = await idefics3Preprocess(png, preprocess, 'fast');
    const expected = referencePYes(tinyVqaWeights(), pixels.pixelValues, scorer.promptTokenIds(prompt));
    assert.ok(expected > 1e-3 && expected < 0.999, `reference P(yes) ${expected} is informative`);
    assert.ok(Math.abs(result.raw - expected) < 1e-4, `onnx ${result.raw} vs reference ${expected}`);
    assert.ok(Math.abs(result.raw - expected) / expected < 1e-4, `relative error of ${result.raw} vs ${expected}`);
    assert.ok(Math.abs(result.value - 100 * result.raw) < 1e-9);

    // The Pillow-exact resize mode feeds the model the exact pixels instead.
    await scorer.dispose();
    scorer = await VqaScorer.load(dir, { intraOpNumThreads: 1, resize: 'exact' });
    const exactPixels = await idefics3Preprocess(png, preprocess, 'exact');
    const exactExpected = referencePYes(tinyVqaWeights(), exactPixels.pixelValues, scorer.promptTokenIds(prompt));
    const exact = await scorer.score(png, prompt);
    assert.ok(Math.abs(exact.raw - exactExpected) / exactExpected < 1e-4, `exact mode ${exact.raw} vs ${exactExpected}`);
  });

  it('gives different scores for different images and for different prompts', async () => {
    scorer = await VqaScorer.load(dir, { intraOpNumThreads: 1 });
    const a = await scorer.score(await patternPng(48, 40, 3), 'a red cat');
    const b = await scorer.score(await patternPng(48, 40, 11), 'a red cat');
    const c = await scorer.score(await patternPng(48, 40, 3), 'two dogs in the snow');
    assert.notEqual(a.raw, b.raw);
    assert.notEqual(a.raw, c.raw);
  });

  it('stops with a canceled error when aborted before or during scoring', async () => {
    scorer = await VqaScorer.load(dir, { intraOpNumThreads: 1 });
    const png = await patternPng(48, 40, 3);
    const before = new AbortController();
    before.abort();
    await assert.rejects(scorer.score(png, 'a cat', before.signal), (e: unknown) => e instanceof ContactSheetError && e.code === 'canceled');
    const during = new AbortController();
    const pending = scorer.score(png, 'a cat', during.signal);
    during.abort();
    await assert.rejects(pending, (e: unknown) => e instanceof ContactSheetError && e.code === 'canceled');
  });

  it('reports a missing graph as model-missing with the file and an action', async () => {
    await unlink(join(dir, 'onnx', 'decoder_model_merged_int8.onnx'));
    await assert.rejects(VqaScorer.load(dir), (e: unknown) => {
      assert.ok(e instanceof ContactSheetError);
      assert.equal(e.code, 'model-missing');
      assert.deepEqual(e.details?.missing, ['onnx/decoder_model_merged_int8.onnx']);
      assert.ok(e.action && e.action.length > 0);
      return true;
    });
  });

  it('reports a corrupt graph or config as model-format with an action', async () => {
    await writeFile(join(dir, 'onnx', 'vision_encoder_int8.onnx'), Buffer.from('this is not a protobuf'));
    await assert.rejects(VqaScorer.load(dir), (e: unknown) => e instanceof ContactSheetError && e.code === 'model-format' && !!e.action);
    await writeTinyVqaModel(dir);
    await writeFile(join(dir, 'tokenizer.json'), '{"truncated": ');
    await assert.rejects(VqaScorer.load(dir), (e: unknown) => e instanceof ContactSheetError && e.code === 'model-format' && !!e.action);
  });
});
