/**
 * The engine's snake_case shapes as the protocol's views (camelCase, no paths). Shared by the live
 * run translator and the trace reader, so a run looks the same live and reopened from disk.
 */
import type { ComparisonSummary } from '../../core/run/rank';
import type { CostSoFar } from '../../core/run/events';
import type { Cost } from '../../core/replicate/types';
import type { ComparisonView, CostView, RunCostView } from '../../shared/protocol';

export function costView(cost: Cost): CostView {
  return { usd: cost.usd, source: cost.source, pricingDate: cost.pricing_date, ...(cost.basis ? { basis: cost.basis } : {}) };
}

export function runCostView(cost: CostSoFar, estimateUsd: number | null): RunCostView {
  return { totalUsd: cost.total_usd, unknownCount: cost.unknown_count, estimateUsd };
}

export function comparisonView(summary: ComparisonSummary | null | undefined): ComparisonView | null {
  if (!summary) return null;
  return {
    bestIndex: summary.best_index,
    leadsOn: summary.leads_on,
    trailsOn: summary.trails_on,
    marginOverOthers: summary.margin_over_others,
    text: summary.text,
  };
}

/** A preference probability the protocol accepts (0–1), or null. */
export function probability(p: number | null | undefined): number | null {
  return typeof p === 'number' && Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : null;
}
