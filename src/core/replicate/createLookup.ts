/**
 * Replicate has no idempotency key, so "did my create go through?" is answered by listing the
 * account's recent predictions (newest first) and matching model, version, exact input and a
 * created_at no earlier than the attempt. Listing can lag a create by a moment, so an empty answer
 * is checked once more after a short wait before the caller may create again.
 */
import type { CreatePredictionRequest, Prediction } from './apiTypes';
import type { CallContext, ReplicateClient, Sleep } from './client';

export interface LookupOptions {
  /** Epoch ms: predictions created before this are not ours. */
  since: number;
  /** Ids already owned by this client (never adopt one twice). */
  exclude: ReadonlySet<string>;
  signal?: AbortSignal;
  sleep: Sleep;
  retryDelayMs: number;
  ctx: CallContext;
  /** Pages to read at most per look (each page is newest first). */
  maxPages?: number;
}

export async function findCreatedPrediction(client: ReplicateClient, req: CreatePredictionRequest, opts: LookupOptions): Promise<Prediction | undefined> {
  const first = await lookOnce(client, req, opts);
  if (first) return first;
  await opts.sleep(opts.retryDelayMs, opts.signal);
  return lookOnce(client, req, opts);
}

async function lookOnce(client: ReplicateClient, req: CreatePredictionRequest, opts: LookupOptions): Promise<Prediction | undefined> {
  const ctx: CallContext = { ...opts.ctx, signal: opts.signal };
  const wantedModel = `${req.model.owner}/${req.model.name}`;
  const wantedInput = canonicalJson(req.input);
  let cursor: string | undefined;
  for (let page = 0; page < (opts.maxPages ?? 5); page++) {
    const result = await client.listPredictions(cursor, ctx);
    let reachedOlder = false;
    for (const p of result.results) {
      const created = Date.parse(p.created_at);
      if (Number.isFinite(created) && created < opts.since) {
        reachedOlder = true;
        continue;
      }
      if (opts.exclude.has(p.id) || p.model !== wantedModel) continue;
      if (req.version && p.version !== req.version) continue;
      // Some list responses omit the input: fetch the candidate to compare.
      const input = p.input ?? (await client.getPrediction(p.id, ctx)).input;
      if (canonicalJson(input) === wantedInput) return p;
    }
    if (reachedOlder || !result.next) return undefined;
    cursor = result.next;
  }
  return undefined;
}

/** JSON with sorted object keys, so equal inputs compare equal whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.keys(v as Record<string, unknown>)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
