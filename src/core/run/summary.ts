/**
 * The run's report: the rows of the ranking table (shared by the console table and summary.md)
 * and summary.md itself, which is the console report as Markdown.
 */
import { BEST_CANDIDATE_FILE } from './output';
import { metricLabel } from './rank';
import { METRIC_IDS, type MetricId, type MetricResult } from '../scoring/types';
import type { GenerationTrace, TraceImage } from './trace';

export const DEMO_NOTICE = 'DEMO run: a local fake Replicate server and tiny random-weight scoring models. The images are synthetic and the scores mean nothing.';

export interface RankingRow {
  rank: number;
  file: string;
  seed: number;
  model: string | null;
  /** Formatted cells, "—" when absent. */
  metrics: Record<MetricId, string>;
  overall: string;
  preference: string;
  isBest: boolean;
}

/** "21.3" or "—"; the aesthetic also shows its 1–10 rating. */
export function formatMetric(id: MetricId, m: MetricResult | undefined): string {
  if (!m || m.value === null) return '—';
  if (id === 'aesthetic') return `${m.value.toFixed(1)} (${m.raw.toFixed(2)}/10)`;
  if (id === 'pickscore' && Math.abs(m.raw - m.value) > 1e-9) return `${m.value.toFixed(1)} (raw ${m.raw.toFixed(2)})`;
  return m.value.toFixed(1);
}

export function rankingRows(trace: GenerationTrace): RankingRow[] {
  return trace.images
    .filter((img): img is TraceImage & { rank: number } => img.rank !== null)
    .sort((a, b) => a.rank - b.rank)
    .map((img) => ({
      rank: img.rank,
      file: img.file ?? img.pending_file,
      seed: img.seed,
      model: img.model,
      metrics: Object.fromEntries(METRIC_IDS.map((id) => [id, formatMetric(id, img.scores?.[id])])) as Record<MetricId, string>,
      overall: img.overall === null ? '—' : img.overall.toFixed(1),
      preference: img.preference_probability === null ? '—' : `${(img.preference_probability * 100).toFixed(1)}%`,
      isBest: img.is_best_candidate,
    }));
}

export function formatUsd(usd: number): string {
  return `$${usd < 0.1 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

/** "$0.0240 (official price, pricing table 2026-11-24)" plus unknown costs. */
export function costLine(trace: GenerationTrace): string {
  const c = trace.costs;
  const sources = Object.keys(c.by_source).join(', ') || 'no images billed';
  const date = trace.images.find((i) => i.cost)?.cost?.pricing_date;
  const unknown = c.unknown_count ? ` + ${c.unknown_count} image${c.unknown_count === 1 ? '' : 's'} of unknown cost` : '';
  const demo = trace.demo ? ' (demo: nothing was billed)' : '';
  return `${formatUsd(c.total_usd)}${unknown} (${sources}${date ? `, pricing table ${date}` : ''})${demo}`;
}

export function statusLine(trace: GenerationTrace): string {
  const ok = trace.images.filter((i) => i.status === 'scored' || i.status === 'generated').length;
  const failed = trace.images.filter((i) => i.status === 'failed').length;
  const notDone = trace.images.length - ok - failed;
  const parts = [`${ok} of ${trace.images.length} images`];
  if (failed) parts.push(`${failed} failed`);
  if (notDone) parts.push(`${notDone} not finished`);
  return `${trace.status}: ${parts.join(', ')}`;
}

const seconds = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`);

export function renderSummaryMarkdown(trace: GenerationTrace): string {
  const title = trace.prompts.title ?? (trace.prompts.enhanced.length > 60 ? `${trace.prompts.enhanced.slice(0, 57)}…` : trace.prompts.enhanced);
  const s = trace.settings;
  const lines: string[] = [`# Contact Sheet: ${escapeMd(title)}`, ''];
  if (trace.demo) lines.push(`> **${DEMO_NOTICE}**`, '');
  lines.push(
    `- **Status:** ${statusLine(trace)}`,
    `- **Prompt:** ${escapeMd(trace.prompts.enhanced)}`,
    ...(trace.prompts.original ? [`- **Original prompt:** ${escapeMd(trace.prompts.original)}`] : []),
    ...(trace.prompts.negative ? [`- **Negative prompt:** ${escapeMd(trace.prompts.negative)}`] : []),
    ...(trace.prompts.scored_text_truncated ? [`- **Scored text (CLIP's 77-token limit):** ${escapeMd(trace.prompts.scored_text ?? '')}`] : []),
    `- **Model:** ${s.primary_model}${s.fallback_models.length ? ` (fallback: ${s.fallback_models.join(', ')})` : ''}`,
    `- **Aspect ratio:** ${s.aspect_ratio}; **seeds:** ${s.seeds[0]}–${s.seeds[s.seeds.length - 1]} (base ${s.base_seed}, ${s.seed_source})`,
    `- **Cost:** ${costLine(trace)}`,
    `- **Scoring:** ${s.precision}; weights ${METRIC_IDS.map((id) => `${metricLabel(id)} ${s.weights[id]}`).join(', ')}`,
    `- **Run:** ${trace.run_id}, Contact Sheet ${trace.tool.version}`,
    '',
  );
  const rows = rankingRows(trace);
  if (rows.length) {
    lines.push('## Ranking', '', `| Rank | Image | Seed | ${METRIC_IDS.map(metricLabel).join(' | ')} | Overall | Preference |`, `|---:|---|---:|${METRIC_IDS.map(() => '---:|').join('')}---:|---:|`);
    for (const r of rows) {
      const b = (t: string) => (r.rank <= 3 ? `**${t}**` : t);
      lines.push(`| ${b(String(r.rank))} | [${r.file}](${r.file}) | ${r.seed} | ${METRIC_IDS.map((id) => r.metrics[id]).join(' | ')} | ${b(r.overall)} | ${r.preference} |`);
    }
    const best = rows.find((r) => r.isBest);
    if (best) lines.push('', `**Best candidate:** [${BEST_CANDIDATE_FILE}](${BEST_CANDIDATE_FILE}) (= ${best.file}, seed ${best.seed})`);
    lines.push('');
  }
  if (trace.ranking?.comparison) lines.push('## Why the best image won', '', trace.ranking.comparison.text, '');
  const failed = trace.images.filter((i) => i.status === 'failed');
  if (failed.length) {
    lines.push('## Failed images', '');
    for (const f of failed) lines.push(`- Image ${f.index + 1} (seed ${f.seed}${f.model ? `, ${f.model}` : ''}): [${f.error?.code ?? 'unknown'}] ${escapeMd(f.error?.message ?? '')}`);
    lines.push('');
  }
  const t = trace.timings;
  lines.push('## Timings', '', `Generation ${seconds(t.generation_ms)}, downloads ${seconds(t.download_ms)}, scoring ${seconds(t.scoring_ms)} (models ready after ${seconds(t.model_load_ms)}), total ${seconds(t.total_ms)}.`, '');
  if (trace.warnings.length) {
    lines.push('## Warnings', '', ...trace.warnings.map((w) => `- ${escapeMd(w)}`), '');
  }
  if (trace.error) lines.push('## Error', '', `[${trace.error.code}] ${escapeMd(trace.error.message)}${trace.error.action ? `\n\n${escapeMd(trace.error.action)}` : ''}`, '');
  return lines.join('\n');
}

/** Prompts are user text: keep them from breaking the table or turning into HTML. */
function escapeMd(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/([\\|<>*_`[\]])/g, '\\$1');
}
