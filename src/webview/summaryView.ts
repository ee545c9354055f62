/**
 * The run summary above the grid: status, progress counts, total cost, elapsed time, the best
 * candidate with "why it won", warnings and waits, the run's error; and the compare toolbar for
 * the current selection. Elapsed time and wait countdowns tick once a second while they change.
 */
import type { RunView } from '../shared/protocol';
import { formatDuration, formatUsd, imageName, STATUS_TEXT } from './displayFormat';
import { el, icon, iconButton, setText, textButton } from './elements';
import { isRunActive, runCounts } from './runModel';

export interface SummaryHandlers {
  compare(): void;
  clearSelection(): void;
  revealRun(): void;
}

const STATUS_ICON: Record<RunView['status'], string> = {
  running: 'loading',
  finalizing: 'loading',
  succeeded: 'pass-filled',
  partial: 'warning',
  failed: 'error',
  canceled: 'circle-slash',
};

const PHASE_TEXT: Record<RunView['phase'], string> = {
  plan: 'planning',
  generate: 'generating',
  score: 'scoring',
  rank: 'ranking',
  write: 'writing files',
  done: '',
};

export class SummaryView {
  readonly root: HTMLElement;
  private readonly status = el('span', { className: 'status-chip', testid: 'run-status', attrs: { role: 'status' } });
  private readonly counts = el('span', { className: 'summary-item', testid: 'run-counts' });
  private readonly cost = el('span', { className: 'summary-item', testid: 'run-cost' });
  private readonly elapsed = el('span', { className: 'summary-item', testid: 'run-elapsed' });
  private readonly demo = el('span', { className: 'demo-badge', text: 'DEMO', attrs: { title: 'Made by the DEMO: a local fake Replicate and tiny random-weight models. The scores mean nothing.' } });
  private readonly selectionText = el('span', { className: 'selection-text', testid: 'selection-count' });
  private readonly compareButton: HTMLButtonElement;
  private readonly clearButton: HTMLButtonElement;
  private readonly why = el('p', { className: 'summary-why', testid: 'run-why' });
  private readonly notices = el('ul', { className: 'notices', testid: 'run-notices' });
  private readonly error = el('p', { className: 'summary-error', testid: 'run-error', attrs: { role: 'alert' } });
  private run: RunView | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(handlers: SummaryHandlers) {
    this.compareButton = textButton('Compare', 'secondary', () => handlers.compare(), { icon: 'split-horizontal', testid: 'compare-button' });
    this.clearButton = iconButton('clear-all', 'Clear selection', () => handlers.clearSelection(), 'clear-selection');
    const reveal = iconButton('folder-opened', 'Reveal run folder in explorer', () => handlers.revealRun(), 'reveal-run');
    const line = el('div', { className: 'summary-line' }, [
      this.status,
      this.counts,
      this.cost,
      this.elapsed,
      this.demo,
      el('span', { className: 'summary-actions' }, [this.selectionText, this.compareButton, this.clearButton, reveal]),
    ]);
    this.root = el('section', { className: 'summary', attrs: { 'aria-label': 'Run summary' }, testid: 'summary' }, [line, this.why, this.notices, this.error]);
    this.root.hidden = true;
  }

  update(run: RunView | null, selectionCount: number): void {
    this.run = run;
    this.root.hidden = !run;
    this.updateSelection(selectionCount);
    if (!run) {
      this.stopTimer();
      return;
    }
    const active = isRunActive(run);
    const iconName = STATUS_ICON[run.status];
    const phase = active && PHASE_TEXT[run.phase] ? ` · ${PHASE_TEXT[run.phase]}${run.phaseDetail ? ` (${run.phaseDetail})` : ''}` : '';
    const statusText = `${STATUS_TEXT[run.status]}${phase}`;
    if (this.status.dataset.text !== statusText || this.status.dataset.icon !== iconName) {
      this.status.dataset.text = statusText;
      this.status.dataset.icon = iconName;
      this.status.replaceChildren(icon(iconName, iconName === 'loading' ? 'codicon-modifier-spin' : ''), el('span', { text: statusText }));
    }
    this.status.className = `status-chip status-${run.status}`;

    const c = runCounts(run);
    const countParts = active ? [`${c.onDisk} of ${c.planned} on disk`, `${c.scored} scored`] : [`${c.planned - c.failed} of ${c.planned} images`];
    if (c.failed) countParts.push(`${c.failed} failed`);
    setText(this.counts, countParts.join(' · '));

    const costParts = [`Cost ${formatUsd(run.cost.totalUsd)}`];
    if (run.cost.unknownCount) costParts.push(`+ ${run.cost.unknownCount} unknown`);
    if (active && run.cost.estimateUsd !== null) costParts.push(`of est. ${formatUsd(run.cost.estimateUsd)}`);
    setText(this.cost, costParts.join(' '));
    this.cost.title = 'Total cost in USD from the dated Replicate pricing table';

    this.demo.hidden = !run.demo;

    const best = run.comparison ? run.images[run.comparison.bestIndex] : undefined;
    this.why.hidden = !run.comparison;
    if (run.comparison) {
      // Named as the folder names it once ranked (image_001.png is the best), as the text after it does.
      const name = run.rankingFinal && best?.rank ? `image_${String(best.rank).padStart(3, '0')}.png` : imageName(run.comparison.bestIndex);
      const label = `${run.rankingFinal ? 'Best' : 'Leading'}: ${name}${best ? ` (seed ${best.seed})` : ''}`;
      this.why.replaceChildren(icon('star-full'), el('strong', { text: label }), el('span', { text: ` — ${run.comparison.text}` }));
    }

    this.error.hidden = !run.error;
    if (run.error) this.error.replaceChildren(icon('error'), el('span', { text: [run.error.message, run.error.action].filter(Boolean).join(' ') }));

    this.renderTimes();
    if (active || run.notices.some((n) => n.until !== undefined && n.until > Date.now())) this.startTimer();
    else this.stopTimer();
  }

  updateSelection(count: number): void {
    setText(this.selectionText, count ? `${count} selected` : 'Select 2–4 to compare');
    this.compareButton.disabled = count < 2;
    this.compareButton.title = count < 2 ? 'Select 2 to 4 images (Space on a card) to compare them side by side' : `Compare the ${count} selected images side by side`;
    this.clearButton.hidden = count === 0;
  }

  /** Elapsed time and the notices (wait countdowns change every second). */
  private renderTimes(): void {
    const run = this.run;
    if (!run) return;
    const end = run.finishedAt ?? (isRunActive(run) ? Date.now() : run.startedAt);
    setText(this.elapsed, `Elapsed ${formatDuration(end - run.startedAt)}`);
    const now = Date.now();
    const items = run.notices.slice(-5).map((n) => {
      const waiting = n.level === 'wait' && n.until !== undefined && n.until > now;
      const text = waiting ? `${n.message} (${Math.ceil((n.until! - now) / 1000)} s left)` : n.message;
      return el('li', { className: `notice notice-${n.level}` }, [icon(n.level === 'wait' ? 'watch' : 'warning'), el('span', { text })]);
    });
    const key = items.map((i) => i.textContent).join('\n');
    if (this.notices.dataset.key !== key) {
      this.notices.dataset.key = key;
      this.notices.replaceChildren(...items);
    }
    this.notices.hidden = items.length === 0;
  }

  private startTimer(): void {
    this.timer ??= setInterval(() => {
      this.renderTimes();
      const run = this.run;
      if (!run || (!isRunActive(run) && !run.notices.some((n) => n.until !== undefined && n.until > Date.now()))) this.stopTimer();
    }, 1000);
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
