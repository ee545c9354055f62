/**
 * The console report of a finished run: the ranked table (top 3 highlighted), file paths, best
 * candidate, cost and the comparison summary. Colours only when asked (a TTY without NO_COLOR).
 */
import { join } from 'node:path';
import { BEST_CANDIDATE_FILE, SUMMARY_FILE, TRACE_FILE } from '../core/run/output';
import { metricLabel } from '../core/run/rank';
import { METRIC_IDS } from '../core/scoring/types';
import { costLine, DEMO_NOTICE, rankingRows, statusLine } from '../core/run/summary';
import type { GenerationTrace } from '../core/run/trace';

export interface Style {
  bold(t: string): string;
  green(t: string): string;
  yellow(t: string): string;
  red(t: string): string;
  dim(t: string): string;
}

const ansi = (open: number, close: number) => (t: string) => `\x1b[${open}m${t}\x1b[${close}m`;

export function makeStyle(color: boolean): Style {
  if (!color) {
    const same = (t: string) => t;
    return { bold: same, green: same, yellow: same, red: same, dim: same };
  }
  return { bold: ansi(1, 22), green: ansi(32, 39), yellow: ansi(33, 39), red: ansi(31, 39), dim: ansi(2, 22) };
}

/** Colour when the output is a terminal and NO_COLOR (https://no-color.org) is unset or empty. */
export function wantsColor(isTTY: boolean, env: NodeJS.ProcessEnv): boolean {
  return isTTY && !env.NO_COLOR;
}

export function renderRunReport(trace: GenerationTrace, runDir: string, style: Style): string {
  const out: string[] = [];
  if (trace.demo) out.push(style.yellow(style.bold(DEMO_NOTICE)), '');
  const statusText = `Contact Sheet: ${statusLine(trace)}`;
  out.push(trace.status === 'succeeded' ? style.bold(statusText) : trace.status === 'partial' ? style.yellow(statusText) : style.red(statusText));
  out.push(`Run folder: ${runDir}`, '');

  const rows = rankingRows(trace);
  if (rows.length) {
    const header = ['Rank', 'Image', 'Seed', ...METRIC_IDS.map(metricLabel), 'Overall', 'Pref.'];
    const cells = rows.map((r) => [String(r.rank), r.file, String(r.seed), ...METRIC_IDS.map((id) => r.metrics[id]), r.overall, r.preference]);
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
    const line = (c: string[]) => c.map((v, i) => (i <= 1 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
    out.push(style.bold(line(header)));
    rows.forEach((r, i) => {
      const text = line(cells[i]);
      out.push(r.rank === 1 ? style.bold(style.green(text)) : r.rank <= 3 ? style.green(text) : text);
    });
    out.push('');
    const best = rows.find((r) => r.isBest);
    if (best) out.push(`${style.bold('Best candidate:')} ${join(runDir, BEST_CANDIDATE_FILE)} (= ${best.file}, seed ${best.seed})`);
  }
  out.push(`${style.bold('Cost:')} ${costLine(trace)}`);
  if (trace.ranking?.comparison) out.push(`${style.bold('Why:')} ${trace.ranking.comparison.text}`);
  for (const f of trace.images.filter((i) => i.status === 'failed')) {
    out.push(style.red(`Failed: image ${f.index + 1} (seed ${f.seed}): [${f.error?.code ?? 'unknown'}] ${f.error?.message ?? ''}`));
  }
  for (const w of trace.warnings) out.push(style.yellow(`Warning: ${w}`));
  if (trace.error && trace.status !== 'succeeded') {
    out.push(style.red(`${trace.status === 'partial' ? 'Not finished' : 'Error'}: [${trace.error.code}] ${trace.error.message}`));
    if (trace.error.action) out.push(`  → ${trace.error.action}`);
  }
  out.push(`Files: ${join(runDir, SUMMARY_FILE)}, ${join(runDir, TRACE_FILE)}`);
  return out.join('\n');
}
