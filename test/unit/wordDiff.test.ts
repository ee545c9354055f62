import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { diffWords, isUnchanged, tokenize, type DiffSegment } from '../../src/shared/wordDiff';

const spell = (segments: DiffSegment[], keep: 'add' | 'del') => segments.filter((s) => s.op === 'same' || s.op === keep).map((s) => s.text).join('');

describe('wordDiff', () => {
  it('splits words, whitespace and punctuation', () => {
    assert.deepEqual(tokenize("A fox's den, at dusk  — well-lit"), ['A', ' ', "fox's", ' ', 'den', ',', ' ', 'at', ' ', 'dusk', '  ', '—', ' ', 'well-lit']);
  });

  it('marks a replaced word as a deletion followed by an addition', () => {
    assert.deepEqual(diffWords('a red fox in snow', 'a white fox in snow'), [
      { op: 'same', text: 'a ' },
      { op: 'del', text: 'red' },
      { op: 'add', text: 'white' },
      { op: 'same', text: ' fox in snow' },
    ]);
  });

  it('finds insertions and deletions in the middle', () => {
    assert.deepEqual(diffWords('a lighthouse at dusk, film grain', 'a lighthouse on a cliff at dusk'), [
      { op: 'same', text: 'a lighthouse ' },
      { op: 'add', text: 'on a cliff ' },
      { op: 'same', text: 'at dusk' },
      { op: 'del', text: ', film grain' },
    ]);
  });

  it('changes only the punctuation when only the punctuation changed', () => {
    assert.deepEqual(diffWords('dusk, mist', 'dusk; mist'), [
      { op: 'same', text: 'dusk' },
      { op: 'del', text: ',' },
      { op: 'add', text: ';' },
      { op: 'same', text: ' mist' },
    ]);
  });

  it('reports equal and empty prompts', () => {
    assert.deepEqual(diffWords('same text', 'same text'), [{ op: 'same', text: 'same text' }]);
    assert.equal(isUnchanged(diffWords('same text', 'same text')), true);
    assert.equal(isUnchanged(diffWords('same text', 'same  text')), false);
    assert.deepEqual(diffWords('', ''), []);
    assert.deepEqual(diffWords('', 'new'), [{ op: 'add', text: 'new' }]);
    assert.deepEqual(diffWords('old', ''), [{ op: 'del', text: 'old' }]);
  });

  it('falls back to one replacement when the changed middle is huge', () => {
    const before = Array.from({ length: 3000 }, (_, i) => `w${i}`).join(' ');
    const after = Array.from({ length: 3000 }, (_, i) => `v${i}`).join(' ');
    const segments = diffWords(`start ${before} end`, `start ${after} end`);
    assert.deepEqual(segments.map((s) => s.op), ['same', 'del', 'add', 'same']);
    assert.equal(spell(segments, 'del'), `start ${before} end`);
  });

  it('always spells both texts back, with no two neighbours sharing an op (property)', () => {
    const word = fc.constantFrom('a', 'fox', 'red', 'snow', ',', '.', 'light', 'über', '—');
    const sep = fc.constantFrom(' ', '  ', '\n', '');
    const text = fc.array(fc.tuple(word, sep), { maxLength: 30 }).map((parts) => parts.map(([w, s]) => w + s).join(''));
    fc.assert(
      fc.property(text, text, (before, after) => {
        const segments = diffWords(before, after);
        assert.equal(spell(segments, 'del'), before);
        assert.equal(spell(segments, 'add'), after);
        for (let i = 1; i < segments.length; i++) assert.notEqual(segments[i].op, segments[i - 1].op);
        for (const s of segments) assert.ok(s.text.length > 0);
      }),
      { numRuns: 300 },
    );
  });
});
