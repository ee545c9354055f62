/**
 * Word-level diff of two prompts, for the history list ("what changed since that run").
 * Pure and dependency-free: the host computes it, the webview renders it.
 */

/** A run of text that is in both prompts (`same`), only in the new one (`add`) or only in the old one (`del`). */
export interface DiffSegment {
  op: 'same' | 'add' | 'del';
  text: string;
}

/** Above this many cells the middle of the diff is shown as one replacement (keeps a 100 KB prompt cheap). */
const MAX_TABLE_CELLS = 1_000_000;

/**
 * Tokens: runs of letters/digits (with inner apostrophes and hyphens), runs of whitespace, and
 * single punctuation marks, so "dusk," → "dusk" "," and a changed comma is only a comma.
 */
export function tokenize(text: string): string[] {
  return text.match(/\s+|[\p{L}\p{N}_]+(?:['’-][\p{L}\p{N}_]+)*|[^\s]/gu) ?? [];
}

/**
 * Diff of `before` → `after` as segments whose `same`+`del` texts spell `before` and whose
 * `same`+`add` texts spell `after`. Adjacent segments never share an op; within a change, the
 * deletion comes before the addition.
 */
export function diffWords(before: string, after: string): DiffSegment[] {
  const a = tokenize(before);
  const b = tokenize(after);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const out: DiffSegment[] = [];
  push(out, 'same', a.slice(0, start).join(''));
  const middle = diffMiddle(a.slice(start, endA), b.slice(start, endB));
  for (const s of middle) push(out, s.op, s.text);
  push(out, 'same', a.slice(endA).join(''));
  return out;
}

/** True when the two prompts are the same text. */
export function isUnchanged(segments: DiffSegment[]): boolean {
  return segments.every((s) => s.op === 'same');
}

/** Longest-common-subsequence diff of two token lists (already trimmed of a common prefix/suffix). */
function diffMiddle(a: string[], b: string[]): DiffSegment[] {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0 || (n + 1) * (m + 1) > MAX_TABLE_CELLS) {
    return [
      { op: 'del', text: a.join('') },
      { op: 'add', text: b.join('') },
    ];
  }
  // lcs[i][j] = LCS length of a[i..] and b[j..], row-major in one array.
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] = a[i] === b[j] ? lcs[(i + 1) * width + j + 1] + 1 : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
    }
  }
  const out: DiffSegment[] = [];
  let i = 0;
  let j = 0;
  // Pending deletions and additions of the current change, emitted del-then-add.
  let del = '';
  let add = '';
  const flush = () => {
    push(out, 'del', del);
    push(out, 'add', add);
    del = '';
    add = '';
  };
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      flush();
      push(out, 'same', a[i]);
      i++;
      j++;
    } else if (j < m && (i === n || lcs[i * width + j + 1] >= lcs[(i + 1) * width + j])) {
      add += b[j++];
    } else {
      del += a[i++];
    }
  }
  flush();
  return out;
}

function push(out: DiffSegment[], op: DiffSegment['op'], text: string): void {
  if (!text) return;
  const last = out[out.length - 1];
  if (last && last.op === op) last.text += text;
  else out.push({ op, text });
}
