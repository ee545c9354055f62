/**
 * The metric formulas (DESIGN.md "Scoring"), kept apart from the models so they can be checked
 * by hand. Embeddings are L2-normalised before any cosine.
 */

export function l2Normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const norm = Math.sqrt(sum);
  const out = new Float32Array(v.length);
  if (norm === 0) return out;
  for (let i = 0; i < v.length; i++) out[i] = v[i] / norm;
  return out;
}

/** Dot product of two already-normalised vectors, i.e. their cosine. */
export function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`embedding sizes differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function clampPercent(x: number): number {
  return Math.min(100, Math.max(0, x));
}

/** PickScore: raw = logit_scale · cos (typically 18–24); shown raw, and clamped to 0–100 as its value. */
export function pickScore(cos: number, logitScale: number): { raw: number; value: number } {
  const raw = logitScale * cos;
  return { raw, value: clampPercent(raw) };
}

/** CLIP-Score as torchmetrics defines it: max(100 · cos, 0). */
export function clipScore(cos: number): { raw: number; value: number } {
  const raw = 100 * cos;
  return { raw, value: clampPercent(raw) };
}
