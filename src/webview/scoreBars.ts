/**
 * One metric's row: label, a bar (role="meter", named "PickScore 71.3 out of 100") and the value;
 * or, when the metric is absent, the word "absent" with the reason (visible, and as the tooltip).
 * Built once per card and updated in place.
 */
import type { ImageScores, MetricId } from '../shared/protocol';
import { formatScore, metricLabel } from './displayFormat';
import { el, setAttr, setText } from './elements';

export type MetricState = { kind: 'value'; value: number; raw: number; model: string } | { kind: 'absent'; reason: string } | { kind: 'pending' } | { kind: 'none' };

export function metricState(scores: ImageScores | null, id: MetricId, pending: boolean): MetricState {
  const result = scores?.[id];
  if (!result) return pending ? { kind: 'pending' } : { kind: 'none' };
  if (result.value === null) return { kind: 'absent', reason: result.reason };
  return { kind: 'value', value: result.value, raw: result.raw, model: result.model };
}

export class MetricRow {
  readonly root: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly fill: HTMLElement;
  private readonly value: HTMLElement;
  private readonly reason: HTMLElement;

  constructor(readonly id: MetricId) {
    const label = metricLabel(id);
    this.fill = el('span', { className: 'meter-fill' });
    this.bar = el('span', { className: 'meter', attrs: { 'aria-valuemin': '0', 'aria-valuemax': '100' } }, [this.fill]);
    this.reason = el('span', { className: 'metric-reason' });
    this.value = el('span', { className: 'metric-value' });
    this.root = el('div', { className: 'metric', testid: `metric-${id}` }, [el('span', { className: 'metric-label', text: label }), this.bar, this.reason, this.value]);
  }

  update(state: MetricState): void {
    const label = metricLabel(this.id);
    this.root.dataset.state = state.kind;
    if (state.kind === 'value') {
      setAttr(this.bar, 'role', 'meter');
      setAttr(this.bar, 'aria-valuenow', formatScore(state.value));
      setAttr(this.bar, 'aria-label', `${label} ${formatScore(state.value)} out of 100`);
      setAttr(this.bar, 'title', `${label}: ${formatScore(state.value)} (raw ${state.raw.toFixed(state.raw < 1.5 ? 3 : 2)}) · ${state.model}`);
      setAttr(this.bar, 'aria-hidden', null);
      this.fill.style.setProperty('--value', `${Math.min(100, Math.max(0, state.value))}%`);
      setText(this.value, formatScore(state.value));
      setText(this.reason, '');
      setAttr(this.root, 'title', null);
      return;
    }
    setAttr(this.bar, 'role', null);
    setAttr(this.bar, 'aria-valuenow', null);
    setAttr(this.bar, 'aria-label', null);
    setAttr(this.bar, 'title', null);
    setAttr(this.bar, 'aria-hidden', 'true');
    this.fill.style.setProperty('--value', '0%');
    if (state.kind === 'absent') {
      setText(this.reason, `absent: ${state.reason}`);
      setText(this.value, '');
      setAttr(this.root, 'title', `${label} absent: ${state.reason}`);
    } else {
      setText(this.reason, '');
      setText(this.value, state.kind === 'pending' ? '…' : '—');
      setAttr(this.root, 'title', state.kind === 'pending' ? `${label}: scoring` : null);
    }
  }
}

/** The four metric rows of an image. */
export class ScoreBars {
  readonly root: HTMLElement;
  private readonly rows: MetricRow[];

  constructor(ids: readonly MetricId[]) {
    this.rows = ids.map((id) => new MetricRow(id));
    this.root = el('div', { className: 'metrics' }, this.rows.map((r) => r.root));
  }

  update(scores: ImageScores | null, pending: boolean): void {
    for (const row of this.rows) row.update(metricState(scores, row.id, pending));
  }
}
