/** What model preparation and scoring report while they work (downloads, conversion, loading). */
import type { MetricId, Precision } from './scores';

export type ScorerProgress =
  | { type: 'download'; model: string; file: string; receivedBytes: number; totalBytes: number | null; bytesPerSecond: number; etaSeconds: number | null }
  | { type: 'convert'; model: string; step: string }
  | { type: 'load'; model: string; precision: Precision }
  | { type: 'ready'; model: string; loadMs: number }
  /** A model could not be made ready: the metrics that need it are reported absent with this reason. */
  | { type: 'unavailable'; model: string; metrics: MetricId[]; reason: string };
