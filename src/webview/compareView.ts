/**
 * Side by side: 1–4 images full size in columns, their score breakdowns in the rows of one table
 * so every metric lines up across images; the best value of each row is marked. One image is the
 * lightbox (Enter on a card). A modal <dialog>: focus stays inside, Escape closes, focus returns
 * to where it was.
 */
import type { MetricId, RunImageView, RunView } from '../shared/protocol';
import { formatCost, formatPercent, formatScore, imageName, METRICS, ordinal, STAGE_TEXT } from './displayFormat';
import { el, icon, iconButton } from './elements';
import { MetricRow, metricState } from './scoreBars';

export interface CompareHandlers {
  /** A full-size image finished loading. */
  shown(index: number): void;
}

export class CompareView {
  readonly root: HTMLDialogElement;
  private readonly title: HTMLElement;
  private readonly body: HTMLElement;
  private returnFocus: HTMLElement | null = null;
  private shownIndices: number[] = [];
  private runId: string | null = null;

  constructor(private readonly handlers: CompareHandlers) {
    this.title = el('h2', { className: 'compare-title', attrs: { id: 'compare-title' } });
    const close = iconButton('close', 'Close (Escape)', () => this.close(), 'compare-close');
    const header = el('header', { className: 'compare-header' }, [this.title, el('span', { className: 'hint', text: 'Esc to close' }), close]);
    this.body = el('div', { className: 'compare-body' });
    this.root = el('dialog', { className: 'compare', attrs: { 'aria-labelledby': 'compare-title' }, testid: 'compare' }, [header, this.body]);
    this.root.addEventListener('close', () => this.afterClose());
    // A click on the backdrop (the dialog element itself, outside its content) closes it.
    this.root.addEventListener('click', (e) => {
      if (e.target === this.root) this.close();
    });
  }

  get isOpen(): boolean {
    return this.root.open;
  }

  /** The images (by index) currently compared. */
  get indices(): number[] {
    return this.isOpen ? [...this.shownIndices] : [];
  }

  open(run: RunView, indices: number[]): void {
    const images = indices.map((i) => run.images[i]).filter((i): i is RunImageView => !!i);
    if (!images.length) return;
    this.runId = run.runId;
    this.shownIndices = images.map((i) => i.index);
    if (!this.isOpen) this.returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    this.title.textContent = images.length === 1 ? `${imageName(images[0].index)}${images[0].rank ? ` · ${ordinal(images[0].rank)}` : ''}` : `Compare ${images.length} images`;
    this.root.classList.toggle('single', images.length === 1);
    this.body.replaceChildren(this.table(run, images));
    if (!this.isOpen) {
      this.root.showModal();
      this.root.querySelector<HTMLElement>('[data-testid=compare-close]')?.focus();
    }
  }

  /** Redraws the open view when its run changed (scores arriving while comparing). */
  refresh(run: RunView): void {
    if (!this.isOpen) return;
    if (run.runId !== this.runId) this.close();
    else this.open(run, this.shownIndices);
  }

  close(): void {
    if (this.isOpen) this.root.close();
  }

  private afterClose(): void {
    this.body.replaceChildren();
    this.shownIndices = [];
    const target = this.returnFocus;
    this.returnFocus = null;
    if (target?.isConnected) target.focus();
  }

  private table(run: RunView, images: RunImageView[]): HTMLTableElement {
    const table = el('table', { className: 'compare-table', testid: 'compare-table' });
    const colgroup = el('colgroup', {}, [el('col', { className: 'compare-label-col' }), ...images.map(() => el('col'))]);
    const head = el('tr', {}, [
      el('td'),
      ...images.map((image) =>
        el('th', { attrs: { scope: 'col' }, testid: 'compare-column' }, [this.picture(image), el('span', { className: 'compare-caption', text: caption(image) })]),
      ),
    ]);
    const rows: HTMLTableRowElement[] = [
      this.row('Rank', 'rank', images, (i) => (i.rank !== null ? `#${i.rank}${run.rankingFinal ? '' : ' (provisional)'}` : '—'), (i) => (i.rank !== null ? -i.rank : null)),
      this.row('Overall', 'overall', images, (i) => (i.overall !== null ? formatScore(i.overall) : '—'), (i) => i.overall, 'compare-overall'),
      ...METRICS.map((m) => this.metricRow(m.id, m.label, images)),
      this.row('Preference', 'preference', images, (i) => (i.preferenceProbability !== null ? formatPercent(i.preferenceProbability) : '—'), (i) => i.preferenceProbability),
      this.row('Cost', 'cost', images, (i) => (i.cost ? `${formatCost(i.cost)} (${i.cost.source})` : '—'), () => null),
      this.row('Seed', 'seed', images, (i) => String(i.seed), () => null),
      this.row('Model', 'model', images, (i) => i.model ?? run.model, () => null),
    ];
    table.append(colgroup, el('thead', {}, [head]), el('tbody', {}, rows));
    return table;
  }

  private picture(image: RunImageView): HTMLElement {
    const src = image.imageUri ?? image.thumbnailUri;
    if (!src) return el('div', { className: 'compare-placeholder' }, [icon(image.stage === 'failed' ? 'error' : 'loading'), el('span', { text: STAGE_TEXT[image.stage] })]);
    const img = el('img', { className: 'compare-image', attrs: { src, alt: `${imageName(image.index)}, seed ${image.seed}`, decoding: 'async' } });
    if (image.imageUri) img.addEventListener('load', () => this.handlers.shown(image.index), { once: true });
    return img;
  }

  /** A row of plain values; `rankValue` (higher is better, null for none) marks the best cell when the values differ. */
  private row(
    label: string,
    id: string,
    images: RunImageView[],
    text: (i: RunImageView) => string,
    rankValue: (i: RunImageView) => number | null,
    cellClass = '',
  ): HTMLTableRowElement {
    const best = bestOf(images.map(rankValue));
    return el('tr', { testid: `compare-row-${id}` }, [
      el('th', { attrs: { scope: 'row' }, text: label }),
      ...images.map((image, k) => el('td', { className: [cellClass, best.has(k) ? 'best' : ''].filter(Boolean).join(' '), text: text(image) })),
    ]);
  }

  private metricRow(id: MetricId, label: string, images: RunImageView[]): HTMLTableRowElement {
    const states = images.map((i) => metricState(i.scores, id, i.stage === 'scoring'));
    const best = bestOf(states.map((s) => (s.kind === 'value' ? s.value : null)));
    return el('tr', { testid: `compare-row-${id}` }, [
      el('th', { attrs: { scope: 'row' }, text: label }),
      ...states.map((state, k) => {
        const metric = new MetricRow(id);
        metric.update(state);
        return el('td', { className: best.has(k) ? 'best' : '' }, [metric.root]);
      }),
    ]);
  }
}

function caption(image: RunImageView): string {
  return [imageName(image.index), image.rank !== null ? ordinal(image.rank) : null, `seed ${image.seed}`].filter(Boolean).join(' · ');
}

/** Positions of the highest value, only when at least two values are present and they differ. */
function bestOf(values: (number | null)[]): Set<number> {
  const present = values.filter((v): v is number => v !== null);
  if (present.length < 2) return new Set();
  const max = Math.max(...present);
  if (present.every((v) => v === max)) return new Set();
  return new Set(values.flatMap((v, k) => (v === max ? [k] : [])));
}
