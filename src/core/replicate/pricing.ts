/**
 * Cost of predictions from the dated table in replicatePrices.json: official models per output
 * image, community models (pinned versions) per second of predict_time × their hardware's price,
 * otherwise unknown. Every Cost names its source and the table's date.
 */
import { readFileSync } from 'node:fs';
import { ContactSheetError } from '../../shared/errors';
import { modelName, parseModelRef } from './modelRef';
import replicatePrices from './replicatePrices.json';
import type { Cost, CostSource, ModelRef, PredictionStatus } from './types';

export interface Pricing {
  schema_version: 1;
  /** YYYY-MM-DD the prices were read. */
  date: string;
  sources: string[];
  official: Record<string, { usd_per_image: number }>;
  hardware_usd_per_second: Record<string, number>;
  hardware_names?: Record<string, string>;
  /** Known hardware (and a typical predict time, for estimates) of community models. */
  community?: Record<string, { hardware?: string; typical_predict_time_s?: number }>;
  /** Hardware assumed for a community model the table does not list. */
  community_default_hardware: string;
}

export interface RunCostEstimate {
  usd: number | null;
  perImage: number | null;
  source: CostSource;
  basis: string;
}

/**
 * The dated price table shipped with Contact Sheet (bundled into each build), or a table read
 * from `path`; either is checked for the expected shape.
 */
export function loadPricing(path?: string): Pricing {
  if (path === undefined) return checkPricing(replicatePrices, 'the bundled price table');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ContactSheetError('internal', `The pricing table ${path} could not be read: ${(e as Error).message}.`, {
      action: 'Reinstall Contact Sheet; the package is incomplete.',
      cause: e,
    });
  }
  return checkPricing(parsed, path);
}

function checkPricing(parsed: unknown, file: string): Pricing {
  const p = parsed as Partial<Pricing>;
  if (p.schema_version !== 1 || typeof p.date !== 'string' || !p.official || !p.hardware_usd_per_second || !p.community_default_hardware) {
    throw new ContactSheetError('internal', `The pricing table ${file} does not have the expected shape (schema_version 1).`, {
      action: 'Reinstall Contact Sheet; the package is incomplete.',
    });
  }
  return p as Pricing;
}

export interface PricedPrediction {
  metrics?: { predict_time?: number };
  status?: PredictionStatus;
}

/**
 * Cost of one prediction. `hardware` is the SKU the API reported for the model, when it did
 * (e.g. "gpu-l40s"); otherwise the table's entry or default is used and `basis` says so.
 */
export function costOf(model: ModelRef, prediction: PricedPrediction, pricing: Pricing, hardware?: string): Cost {
  const name = modelName(model);
  const official = model.version ? undefined : pricing.official[name];
  if (official) {
    // Official models bill per output; a prediction that produced none is not billed.
    const billed = prediction.status === undefined || prediction.status === 'succeeded';
    return {
      usd: billed ? official.usd_per_image : 0,
      source: 'official price',
      pricing_date: pricing.date,
      basis: billed ? `${name}: ${official.usd_per_image} USD per image` : `${name}: ${official.usd_per_image} USD per image; no output, not billed`,
    };
  }
  const seconds = prediction.metrics?.predict_time;
  const hw = resolveHardware(name, pricing, hardware);
  if (typeof seconds === 'number' && Number.isFinite(seconds) && hw.usdPerSecond !== undefined) {
    return {
      usd: round6(seconds * hw.usdPerSecond),
      source: 'predict_time × GPU price',
      pricing_date: pricing.date,
      basis: `${hw.label} ${hw.usdPerSecond} USD/s × ${seconds.toFixed(2)} s${hw.note}`,
    };
  }
  return {
    usd: null,
    source: 'unknown',
    pricing_date: pricing.date,
    basis: typeof seconds !== 'number' ? `${name}: no official price and no predict_time reported` : `${name}: no price for hardware ${hw.sku}`,
  };
}

function resolveHardware(name: string, pricing: Pricing, reported?: string): { sku: string; usdPerSecond?: number; label: string; note: string } {
  const listed = pricing.community?.[name]?.hardware;
  const sku = reported ?? listed ?? pricing.community_default_hardware;
  const note = reported ? '' : listed ? ' (hardware from the pricing table)' : ' (hardware not reported; assumed the table default)';
  const label = pricing.hardware_names?.[sku] ?? sku;
  return { sku, usdPerSecond: pricing.hardware_usd_per_second[sku], label, note };
}

/** Estimate for `count` images on the primary model (the first); fallbacks' prices are named in `basis`. */
export function estimateRunCost(models: string[], count: number, pricing: Pricing): RunCostEstimate {
  if (models.length === 0) throw new ContactSheetError('bad-usage', 'No model was given to estimate the cost for.', { action: 'Name a model, e.g. black-forest-labs/flux-schnell.' });
  const perModel = models.map((m) => ({ model: m, ...perImageEstimate(parseModelRef(m), pricing) }));
  const primary = perModel[0];
  const others = perModel.slice(1).map((m) => `${m.model} ${m.perImage === null ? 'unknown' : `~${m.perImage} USD`}`);
  const fallbackNote = others.length ? `; if fallbacks run: ${others.join(', ')} per image` : '';
  if (primary.perImage === null) {
    return { usd: null, perImage: null, source: 'unknown', basis: `${primary.basis}${fallbackNote}` };
  }
  return {
    usd: round6(primary.perImage * count),
    perImage: primary.perImage,
    source: primary.source,
    basis: `${count} × ${primary.basis}${fallbackNote}`,
  };
}

function perImageEstimate(ref: ModelRef, pricing: Pricing): { perImage: number | null; source: CostSource; basis: string } {
  const name = modelName(ref);
  const official = ref.version ? undefined : pricing.official[name];
  if (official) return { perImage: official.usd_per_image, source: 'official price', basis: `${name} ${official.usd_per_image} USD per image (${pricing.date})` };
  const entry = pricing.community?.[name];
  const hw = resolveHardware(name, pricing);
  if (entry?.typical_predict_time_s !== undefined && hw.usdPerSecond !== undefined) {
    const perImage = round6(entry.typical_predict_time_s * hw.usdPerSecond);
    return {
      perImage,
      source: 'predict_time × GPU price',
      basis: `${name} ~${entry.typical_predict_time_s} s × ${hw.label} ${hw.usdPerSecond} USD/s ≈ ${perImage} USD per image (typical time; ${pricing.date})`,
    };
  }
  return { perImage: null, source: 'unknown', basis: `${name}: no price known (billed per second of GPU time)` };
}

/**
 * Budget guard before spending: throws `budget-exceeded` when the estimate is over the limit.
 * Returns a warning when the cost is unknown (the guard cannot vouch for it).
 */
export function checkBudget(estimate: RunCostEstimate, limitUsd: number | undefined | null): string | undefined {
  if (limitUsd === undefined || limitUsd === null) return undefined;
  if (estimate.usd === null) return `The cost of this run is unknown (${estimate.basis}); the budget limit of ${limitUsd} USD cannot be checked.`;
  if (estimate.usd > limitUsd) {
    throw new ContactSheetError('budget-exceeded', `This run would cost about ${estimate.usd.toFixed(4)} USD (${estimate.basis}), over the budget limit of ${limitUsd} USD.`, {
      action: 'Generate fewer images, choose a cheaper model, or raise the budget limit setting.',
      details: { estimate_usd: estimate.usd, limit_usd: limitUsd, basis: estimate.basis },
    });
  }
  return undefined;
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
