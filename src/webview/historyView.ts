/**
 * Earlier runs of this prompt (newest first): best thumbnail, when, status, images, cost, best
 * overall, and the prompt diff against today's text. Choosing one opens it in the grid.
 */
import type { HistoryEntry } from '../shared/protocol';
import { isUnchanged } from '../shared/wordDiff';
import { formatRunTime, formatScore, formatUsd, STATUS_TEXT } from './displayFormat';
import { el, icon, setText } from './elements';

export class HistoryView {
  readonly root: HTMLElement;
  private readonly list = el('ol', { className: 'history-list', testid: 'history-list' });
  private readonly count = el('span', { className: 'count-badge' });
  private readonly empty = el('p', { className: 'empty-note', text: 'Earlier runs of this prompt appear here.' });

  constructor(private readonly open: (runId: string) => void) {
    const heading = el('h2', { className: 'section-title', attrs: { id: 'history-title' } }, [icon('history'), el('span', { text: 'History' }), this.count]);
    this.root = el('section', { className: 'history', attrs: { 'aria-labelledby': 'history-title' }, testid: 'history' }, [heading, this.empty, this.list]);
  }

  update(entries: HistoryEntry[], currentRunId: string | null): void {
    setText(this.count, String(entries.length));
    this.count.hidden = entries.length === 0;
    this.empty.hidden = entries.length > 0;
    this.list.replaceChildren(...entries.map((e) => this.item(e, e.runId === currentRunId)));
  }

  /** Marks the run shown in the grid. */
  setCurrent(runId: string | null): void {
    for (const button of this.list.querySelectorAll<HTMLElement>('.history-entry')) {
      if (button.dataset.runId === runId) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
    }
  }

  private item(entry: HistoryEntry, current: boolean): HTMLLIElement {
    const thumb = entry.bestThumbnailUri
      ? el('img', { className: 'history-thumb', attrs: { src: entry.bestThumbnailUri, alt: '', decoding: 'async' } })
      : el('span', { className: 'history-thumb empty' }, [icon('file-media')]);
    const meta = [`${entry.imageCount}/${entry.plannedCount} images`, formatUsd(entry.totalUsd) + (entry.unknownCostCount ? ` + ${entry.unknownCostCount} unknown` : '')];
    if (entry.bestOverall !== null) meta.push(`best ${formatScore(entry.bestOverall)}`);
    const title = el('span', { className: 'history-title' }, [
      el('span', { text: formatRunTime(entry.startedAt) }),
      el('span', { className: `history-status status-${entry.status}`, text: STATUS_TEXT[entry.status] }),
      ...(entry.demo ? [el('span', { className: 'demo-badge', text: 'DEMO' })] : []),
    ]);
    const button = el('button', { className: 'history-entry', attrs: { type: 'button', title: `Open run ${entry.runId}` }, testid: 'history-entry' }, [
      thumb,
      el('span', { className: 'history-text' }, [title, el('span', { className: 'history-meta', text: meta.join(' · ') }), this.diff(entry)]),
    ]);
    button.dataset.runId = entry.runId;
    if (current) button.setAttribute('aria-current', 'true');
    button.addEventListener('click', () => this.open(entry.runId));
    return el('li', {}, [button]);
  }

  private diff(entry: HistoryEntry): HTMLElement {
    const box = el('span', { className: 'history-diff', testid: 'history-diff' });
    if (isUnchanged(entry.promptDiff)) {
      box.classList.add('unchanged');
      box.textContent = 'Same prompt as now';
      return box;
    }
    box.setAttribute('aria-label', 'Prompt of that run compared with now');
    const segments = entry.promptDiff;
    segments.forEach((segment, k) => {
      // Unchanged stretches are cut to a few words of context around the changes.
      if (segment.op === 'same') box.append(elide(segment.text, k === 0 ? 0 : CONTEXT_WORDS, k === segments.length - 1 ? 0 : CONTEXT_WORDS));
      else box.append(el(segment.op === 'add' ? 'ins' : 'del', { text: segment.text, attrs: { title: segment.op === 'add' ? 'added since' : 'removed since' } }));
    });
    return box;
  }
}

const CONTEXT_WORDS = 4;

/** Keeps the first `head` and last `tail` words of an unchanged stretch, with "…" for the rest. */
function elide(text: string, head: number, tail: number): string {
  const words = text.split(/(\s+)/);
  const count = words.filter((w) => w.trim()).length;
  if (count <= head + tail + 1) return text;
  const take = (from: 'start' | 'end', n: number) => {
    const out: string[] = [];
    let seen = 0;
    const seq = from === 'start' ? words : [...words].reverse();
    for (const w of seq) {
      if (w.trim() && seen === n) break;
      if (w.trim()) seen++;
      out.push(w);
    }
    return from === 'start' ? out.join('') : out.reverse().join('');
  };
  return `${head ? take('start', head) : ''}… ${tail ? take('end', tail) : ''}`.replace(/^… /, '…');
}
