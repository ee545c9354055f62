import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ClipTokenizer } from '../../src/core/scoring/clipTokenizer';
import { ContactSheetError } from '../../src/shared/errors';
import { TINY_CLIP_VOCAB_SIZE, tinyClipTokenizerJson } from '../../src/sandbox/tinyModels/tinyClipTokenizer';

// The real CLIP vocabulary (49408 ids) is not available offline and no npm package ships it, so
// the golden vectors of FACTS.md §3 cannot run here; these tests check CLIP's framing and the
// tokenizer.json pipeline on the tiny vocabulary, which has CLIP's exact structure.
describe('ClipTokenizer', () => {
  let dir: string;
  let tokenizer: ClipTokenizer;
  const vocab = (tinyClipTokenizerJson() as { model: { vocab: Record<string, number> } }).model.vocab;
  const id = (token: string): number => {
    const v = vocab[token];
    assert.notEqual(v, undefined, `token ${token} in tiny vocab`);
    return v!;
  };
  const asNumbers = (ids: BigInt64Array): number[] => Array.from(ids, Number);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clip-tok-'));
    const path = join(dir, 'tokenizer.json');
    await writeFile(path, JSON.stringify(tinyClipTokenizerJson()));
    tokenizer = await ClipTokenizer.load(path);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes BOS/EOS from the post-processor: the last two ids of the vocabulary', () => {
    assert.equal(tokenizer.bosId, TINY_CLIP_VOCAB_SIZE - 2);
    assert.equal(tokenizer.eosId, TINY_CLIP_VOCAB_SIZE - 1);
    assert.equal(Object.keys(vocab).length, TINY_CLIP_VOCAB_SIZE);
  });

  it('frames a short prompt as BOS + BPE tokens with </w> + EOS, no padding', () => {
    const e = tokenizer.encode('hello world');
    assert.deepEqual(asNumbers(e.ids), [tokenizer.bosId, id('hello</w>'), id('world</w>'), tokenizer.eosId]);
    assert.deepEqual(asNumbers(e.attentionMask), [1, 1, 1, 1]);
    assert.equal(e.length, 4);
    assert.equal(e.truncated, false);
    assert.equal(e.tokenCount, 4);
    assert.equal(e.scoredText, 'hello world');
  });

  it('adds BOS/EOS exactly once, as the tokenizer.json post-processor would', () => {
    const reference = new Tokenizer(tinyClipTokenizerJson(), {});
    for (const text of ['hello world', 'A photo of a cat, at sunset!', 'x']) {
      assert.deepEqual(asNumbers(tokenizer.encode(text).ids), reference.encode(text).ids, text);
    }
  });

  it('lowercases and collapses whitespace (the normalizer of the file)', () => {
    const plain = tokenizer.encode('hello world');
    const messy = tokenizer.encode('  HELLO \n\t  World ');
    assert.deepEqual(asNumbers(messy.ids), asNumbers(plain.ids));
  });

  it('applies merges by rank and splits words the vocabulary lacks into byte pieces', () => {
    const e = tokenizer.encode('sunset over mountains');
    assert.deepEqual(asNumbers(e.ids).slice(1, -1), [id('sunset</w>'), id('over</w>'), id('mountains</w>')]);
    // "zq" has no merge: one byte token, then the final one with </w>.
    assert.deepEqual(asNumbers(tokenizer.encode('zq').ids).slice(1, -1), [id('z'), id('q</w>')]);
    // Digits are split one by one by CLIP's pre-tokenizer.
    assert.deepEqual(asNumbers(tokenizer.encode('42').ids).slice(1, -1), [id('4</w>'), id('2</w>')]);
  });

  it('truncates to BOS + 75 content tokens + EOS and reports what was scored', () => {
    const words = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 'cat' : 'dog'));
    const e = tokenizer.encode(words.join(' '));
    assert.equal(e.length, 77);
    assert.equal(e.ids.length, 77);
    assert.equal(Number(e.ids[0]), tokenizer.bosId);
    assert.equal(Number(e.ids[76]), tokenizer.eosId);
    assert.equal(e.truncated, true);
    assert.equal(e.tokenCount, 102);
    assert.equal(e.scoredText, words.slice(0, 75).join(' '));
  });

  it('keeps a prompt of exactly 75 content tokens whole', () => {
    const e = tokenizer.encode(Array.from({ length: 75 }, () => 'cat').join(' '));
    assert.equal(e.length, 77);
    assert.equal(e.truncated, false);
    assert.equal(e.tokenCount, 77);
  });

  it('honours a smaller maxLength', () => {
    const e = tokenizer.encode('hello world cat dog', 4);
    assert.deepEqual(asNumbers(e.ids), [tokenizer.bosId, id('hello</w>'), id('world</w>'), tokenizer.eosId]);
    assert.equal(e.truncated, true);
    assert.equal(e.scoredText, 'hello world');
  });

  it('drops special tokens typed in the prompt so EOS appears only at the end', () => {
    const e = tokenizer.encode('hello <|endoftext|> world <|startoftext|>');
    assert.deepEqual(asNumbers(e.ids), [tokenizer.bosId, id('hello</w>'), id('world</w>'), tokenizer.eosId]);
  });

  it('encodes an empty prompt as BOS + EOS', () => {
    const e = tokenizer.encode('');
    assert.deepEqual(asNumbers(e.ids), [tokenizer.bosId, tokenizer.eosId]);
    assert.equal(e.scoredText, '');
    assert.equal(e.tokenCount, 2);
  });

  it('scoredText rejoins punctuation the way the tokenizer decodes it', () => {
    assert.equal(tokenizer.encode('A cat, at sunset!').scoredText, 'a cat, at sunset!');
    assert.equal(tokenizer.encode("the dog's photo").scoredText, "the dog's photo");
  });

  it('round-trips non-ASCII text through byte-level tokens', () => {
    const e = tokenizer.encode('Crème brûlée');
    assert.ok(e.length > 4);
    assert.equal(e.scoredText, 'crème brûlée');
  });

  it('rejects a missing file, bad JSON and a non-BPE tokenizer with typed errors', async () => {
    await assert.rejects(ClipTokenizer.load(join(dir, 'absent.json')), (e: unknown) => {
      return e instanceof ContactSheetError && e.code === 'model-missing' && !!e.action;
    });
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{ not json');
    await assert.rejects(ClipTokenizer.load(bad), (e: unknown) => e instanceof ContactSheetError && e.code === 'model-format');
    const wordPiece = join(dir, 'wp.json');
    await writeFile(wordPiece, JSON.stringify({ model: { type: 'WordPiece', vocab: {} } }));
    await assert.rejects(ClipTokenizer.load(wordPiece), (e: unknown) => e instanceof ContactSheetError && e.code === 'model-format');
  });
});
