/** How numbers, money, times and names read in the panel (one place, so the grid and compare agree). */
import type { CostView, ImageStage, MetricId, RunViewStatus } from '../shared/protocol';

export const METRICS: readonly { id: MetricId; label: string }[] = [
  { id: 'pickscore', label: 'PickScore' },
  { id: 'clip_score', label: 'CLIP-Score' },
  { id: 'vqascore', label: 'VQAScore' },
  { id: 'aesthetic', label: 'Aesthetic' },
];

export function metricLabel(id: MetricId): string {
  return METRICS.find((m) => m.id === id)?.label ?? id;
}

/** A 0–100 score with one decimal. */
export function formatScore(value: number): string {
  return value.toFixed(1);
}

/** USD with enough decimals for sub-cent image prices ($0.003, $0.021, $1.24). */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  if (Math.abs(usd) < 0.01) return `$${usd.toFixed(4).replace(/0+$/, '')}`;
  if (Math.abs(usd) < 1) return `$${usd.toFixed(3).replace(/0+$/, '').replace(/\.$/, '')}`;
  return `$${usd.toFixed(2)}`;
}

export function formatCost(cost: CostView | null): string {
  if (!cost || cost.usd === null) return 'cost unknown';
  return formatUsd(cost.usd);
}

/** 0.312 → "31.2 %". */
export function formatPercent(p: number): string {
  return `${(p * 100).toFixed(1)} %`;
}

/** Elapsed time: "8.4 s", "1:42", "1:02:05". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, ms) / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const total = Math.floor(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Local date and time of a run, short ("Nov 24, 14:03"). */
export function formatRunTime(at: number): string {
  return new Date(at).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** "black-forest-labs/flux-schnell:abc…" → "flux-schnell". */
export function shortModel(model: string): string {
  const name = model.split(':')[0];
  return name.slice(name.lastIndexOf('/') + 1);
}

/** 1 → "1st", 2 → "2nd", 3 → "3rd", 11 → "11th". */
export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** 1-based image number as the panel names images ("image #4" is index 3, as in summary.md). */
export function imageName(index: number): string {
  return `image #${index + 1}`;
}

export const STAGE_TEXT: Record<ImageStage, string> = {
  queued: 'Queued',
  starting: 'Starting…',
  processing: 'Generating…',
  downloading: 'Downloading…',
  scoring: 'Scoring…',
  scored: 'Scored',
  failed: 'Failed',
};

export const STATUS_TEXT: Record<RunViewStatus, string> = {
  running: 'Running',
  finalizing: 'Ranking',
  succeeded: 'Succeeded',
  partial: 'Partly succeeded',
  failed: 'Failed',
  canceled: 'Canceled',
};
