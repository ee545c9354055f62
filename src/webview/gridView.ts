/**
 * The ranked grid: one ImageCard per planned image, keyed by index, in display order (best
 * first). Reorders move the existing cards (a FLIP animation unless reduced motion is asked for),
 * never rebuild them. Keyboard: one tab stop (the active card, roving tabindex); arrows move
 * between cards by the grid's visual rows, Home/End jump, Space selects for compare, Enter enlarges.
 */
import type { RunView } from '../shared/protocol';
import { el, prefersReducedMotion } from './elements';
import { ImageCard, type CardAction } from './imageCard';
import { displayOrder } from './runModel';

export const MAX_COMPARE = 4;

export interface GridHandlers {
  selectionChanged(selection: number[]): void;
  enlarge(index: number): void;
  action(action: CardAction, index: number): void;
  /** A thumbnail finished loading. */
  shown(index: number): void;
}

const MOVE_MS = 220;

export class GridView {
  readonly root: HTMLOListElement;
  private readonly cards = new Map<number, ImageCard>();
  private run: RunView | null = null;
  private selected: number[] = [];
  private active: number | null = null;
  /** `index src` of thumbnails already reported shown (a re-render must not report twice). */
  private readonly reported = new Set<string>();

  constructor(private readonly handlers: GridHandlers) {
    this.root = el('ol', { className: 'grid', attrs: { 'aria-label': 'Candidates, best first' }, testid: 'grid' });
    this.root.addEventListener('keydown', (e) => this.onKeyDown(e));
    this.root.addEventListener('focusin', (e) => {
      const card = (e.target as Element).closest<HTMLElement>('.card');
      if (card) this.setActive(Number(card.dataset.index), false);
    });
  }

  get selection(): number[] {
    return [...this.selected];
  }

  /** Shows a run from scratch (a different run, or the same one rebuilt by the host). */
  showRun(run: RunView | null, selection: number[] = []): void {
    this.run = run;
    this.cards.clear();
    this.reported.clear();
    this.selected = run ? selection.filter((i) => i >= 0 && i < run.images.length).slice(0, MAX_COMPARE) : [];
    if (!run) {
      this.root.replaceChildren();
      this.active = null;
      return;
    }
    for (const image of run.images) {
      this.cards.set(
        image.index,
        new ImageCard(image.index, {
          toggleSelected: (i) => this.toggle(i),
          enlarge: (i) => this.handlers.enlarge(i),
          action: (a, i) => this.handlers.action(a, i),
          shown: (i, src) => this.reportShown(i, src),
        }),
      );
    }
    this.root.replaceChildren(...displayOrder(run).map((i) => this.cards.get(i)!.root));
    this.refresh(run.images.map((i) => i.index));
    this.setActive(displayOrder(run)[0] ?? null, false);
  }

  /** Redraws the named cards from the run's current data. */
  refresh(indices: number[]): void {
    const run = this.run;
    if (!run) return;
    const rankedCount = run.images.filter((i) => i.rank !== null).length;
    const full = this.selected.length >= MAX_COMPARE;
    for (const index of indices) {
      const image = run.images[index];
      const card = this.cards.get(index);
      if (!image || !card) continue;
      const selected = this.selected.includes(index);
      card.update(image, { aspectRatio: run.aspectRatio, rankingFinal: run.rankingFinal, rankedCount, selected, selectable: !full || selected });
    }
  }

  /** Puts the cards in display order, animating the moves. */
  reorder(): void {
    const run = this.run;
    if (!run) return;
    const wanted = displayOrder(run).map((i) => this.cards.get(i)!.root);
    const current = Array.from(this.root.children);
    if (wanted.every((card, k) => current[k] === card)) return;
    const animate = !prefersReducedMotion() && this.root.isConnected;
    const before = animate ? new Map(wanted.map((card) => [card, card.getBoundingClientRect()])) : null;
    const focused = document.activeElement;
    wanted.forEach((card, k) => {
      if (this.root.children[k] !== card) this.root.insertBefore(card, this.root.children[k] ?? null);
    });
    // Moving a focused card blurs it; give focus back without scrolling.
    if (focused instanceof HTMLElement && focused !== document.activeElement && this.root.contains(focused)) focused.focus({ preventScroll: true });
    if (!before) return;
    for (const card of wanted) {
      const from = before.get(card)!;
      const to = card.getBoundingClientRect();
      const dx = from.left - to.left;
      const dy = from.top - to.top;
      if (dx || dy) card.animate([{ transform: `translate(${dx}px, ${dy}px)` }, { transform: 'none' }], { duration: MOVE_MS, easing: 'cubic-bezier(0.2, 0, 0, 1)' });
    }
  }

  setSelection(selection: number[]): void {
    this.selected = selection.slice(0, MAX_COMPARE);
    // Every card: a full selection changes whether the others can still be selected.
    this.refresh([...this.cards.keys()]);
  }

  private toggle(index: number): void {
    const at = this.selected.indexOf(index);
    if (at >= 0) this.setSelection(this.selected.filter((i) => i !== index));
    else if (this.selected.length < MAX_COMPARE) this.setSelection([...this.selected, index]);
    else return;
    this.handlers.selectionChanged(this.selection);
  }

  private reportShown(index: number, src: string): void {
    const key = `${index} ${src}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.handlers.shown(index);
  }

  /** Makes one card the grid's tab stop (and its buttons reachable by Tab); optionally focuses it. */
  private setActive(index: number | null, focus: boolean): void {
    if (index === null || !this.cards.has(index)) return;
    if (this.active !== index) {
      this.active = index;
      for (const [i, card] of this.cards) {
        const tabIndex = i === index ? 0 : -1;
        card.root.tabIndex = tabIndex;
        for (const control of card.innerControls) control.tabIndex = tabIndex;
      }
    }
    if (focus) {
      const card = this.cards.get(index)!.root;
      card.focus();
      card.scrollIntoView({ block: 'nearest', behavior: prefersReducedMotion() ? 'auto' : 'smooth' });
    }
  }

  private onKeyDown(e: KeyboardEvent): void {
    const card = (e.target as Element).closest<HTMLElement>('.card');
    if (!card || e.target !== card || e.altKey || e.ctrlKey || e.metaKey) return;
    const index = Number(card.dataset.index);
    const order = Array.from(this.root.children).map((c) => Number((c as HTMLElement).dataset.index));
    const at = order.indexOf(index);
    let next: number | undefined;
    switch (e.key) {
      case 'ArrowRight':
        next = order[at + 1];
        break;
      case 'ArrowLeft':
        next = order[at - 1];
        break;
      case 'ArrowDown':
        next = order[Math.min(order.length - 1, at + this.columns())];
        break;
      case 'ArrowUp':
        next = order[Math.max(0, at - this.columns())];
        break;
      case 'Home':
        next = order[0];
        break;
      case 'End':
        next = order[order.length - 1];
        break;
      case ' ':
        e.preventDefault();
        this.toggle(index);
        return;
      case 'Enter':
        e.preventDefault();
        this.handlers.enlarge(index);
        return;
      case 'Escape':
        if (this.selected.length) {
          e.preventDefault();
          this.setSelection([]);
          this.handlers.selectionChanged([]);
        }
        return;
      default:
        return;
    }
    e.preventDefault();
    if (next !== undefined) this.setActive(next, true);
  }

  /** Cards per visual row: those sharing the first card's top edge. */
  private columns(): number {
    const children = Array.from(this.root.children) as HTMLElement[];
    if (!children.length) return 1;
    const top = children[0].offsetTop;
    const perRow = children.filter((c) => c.offsetTop === top).length;
    return Math.max(1, perRow);
  }
}
