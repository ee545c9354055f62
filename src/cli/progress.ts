/**
 * Live progress of a run on stderr: one redrawn bar on a terminal, plain lines otherwise (logs,
 * CI). With --verbose every API call is logged too. stdout is left to the report (or --json).
 */
import type { RunEvent } from '../core/run/events';
import { redact } from '../core/log';
import type { CliIO } from './io';
import type { Style } from './table';

const BAR_WIDTH = 24;
// Cursor up one line and clear it: redraws the bar in place (CliIO always ends writes with \n).
const REDRAW = '\x1b[1A\x1b[2K';

export class ProgressReporter {
  private total = 0;
  private saved = 0;
  private scored = 0;
  private failed = 0;
  private usd = 0;
  private models = '';
  private barShown = false;
  private lastBar = '';
  private lastCounts = '';
  private lastDrawAt = 0;
  private readonly lastDownloadPercent = new Map<string, number>();
  private readonly lastStep = new Map<string, string>();
  /** Rate-limit windows already shown: one line per window, not per held request or extension. */
  private readonly rateLimitWindows = new Set<number>();

  constructor(
    private readonly io: CliIO,
    private readonly opts: { tty: boolean; verbose: boolean; style: Style },
  ) {}

  handle(e: RunEvent): void {
    switch (e.type) {
      case 'run-started':
        this.total = e.num_images;
        this.line(`${e.resumed ? 'Resuming' : 'Generating'} ${e.num_images} image${e.num_images === 1 ? '' : 's'} with ${e.models?.[0] ?? 'the model'} into ${e.run_dir}${e.demo ? ' (DEMO)' : ''}`);
        break;
      case 'api-call':
        if (this.opts.verbose) {
          const c = e.call;
          this.line(
            this.opts.style.dim(
              `[api] ${c.method} ${c.path} → ${c.status ?? 'no response'} in ${c.duration_ms} ms` +
                `${c.attempt ? ` (retry ${c.attempt})` : ''}${c.prediction_id ? ` prediction ${c.prediction_id}` : ''}` +
                `${c.image_index !== undefined ? ` image ${c.image_index + 1}` : ''}${c.cost?.usd != null ? ` $${c.cost.usd}` : ''}${c.error ? ` error: ${c.error}` : ''}`,
            ),
          );
        }
        return;
      case 'rate-limited': {
        const w = e.wait;
        if (this.rateLimitWindows.has(w.window)) return;
        this.rateLimitWindows.add(w.window);
        const held = w.lane === 'create' ? 'new predictions' : 'status checks and other calls';
        this.line(this.opts.style.yellow(`rate limited by Replicate, waiting ${Math.ceil(w.wait_ms / 1000)} s: ${held} resume at ${w.until.slice(11, 19)} UTC`));
        return;
      }
      case 'generation':
        if (e.event.type === 'prediction-created' && !this.opts.tty) this.line(`image ${e.event.index + 1}: prediction ${e.event.prediction_id} created on ${e.event.model} (seed ${e.event.seed})`);
        break;
      case 'scorer-progress': {
        const p = e.progress;
        if (p.type === 'download') {
          const pct = p.totalBytes ? Math.floor((p.receivedBytes / p.totalBytes) * 100) : 0;
          this.models = `downloading ${p.model} ${pct}%`;
          // Plain lines only for files big enough to matter, every 25 %.
          const key = `${p.model}/${p.file}`;
          const last = this.lastDownloadPercent.get(key) ?? -100;
          if (!this.opts.tty && (p.totalBytes ?? 0) >= 10e6 && (pct - last >= 25 || (pct === 100 && last !== 100))) {
            this.lastDownloadPercent.set(key, pct);
            this.line(`models: downloading ${p.model} ${p.file} ${pct}%${p.etaSeconds !== null && pct < 100 ? ` (ETA ${Math.round(p.etaSeconds)} s)` : ''}`);
          }
        } else if (p.type === 'convert') {
          this.models = `converting ${p.model}`;
          const key = `convert/${p.model}`;
          if (!this.opts.tty && this.lastStep.get(key) !== p.step) {
            this.lastStep.set(key, p.step);
            this.line(`models: converting ${p.model} (${p.step})`);
          }
        } else if (p.type === 'ready') {
          this.models = `${p.model} ready`;
          if (!this.opts.tty) this.line(`models: ${p.model} ready in ${p.loadMs} ms`);
        } else if (p.type === 'unavailable') {
          this.models = '';
        }
        break;
      }
      case 'image-saved':
        this.saved += 1;
        this.usd = e.cost_so_far.total_usd;
        if (!this.opts.tty) this.line(`image ${e.index + 1} (seed ${e.seed}) saved: ${e.file} ${e.width}×${e.height}${e.reused ? ' (from before the interruption)' : ''}`);
        break;
      case 'image-scored':
        this.scored += 1;
        if (!this.opts.tty) this.line(`image ${e.index + 1} scored: overall ${e.overall === null ? '—' : e.overall.toFixed(1)}`);
        break;
      case 'image-failed':
        if (e.stage !== 'score') this.failed += 1;
        this.line(this.opts.style.red(`image ${e.index + 1} (seed ${e.seed}) failed while ${e.stage === 'generate' ? 'generating' : e.stage === 'save' ? 'saving' : 'scoring'}: [${e.error.code}] ${e.error.message}`));
        break;
      case 'warning':
        this.line(this.opts.style.yellow(`warning: ${e.message}`));
        return;
      case 'run-finished':
        this.clearBar();
        return;
      default:
        return;
    }
    this.drawBar();
  }

  /** Removes the bar (before the final report). */
  clearBar(): void {
    // Up, clear, up again: the newline CliIO appends lands back on the cleared line.
    if (this.barShown) this.io.stderr(`${REDRAW}\x1b[1A`);
    this.barShown = false;
  }

  private line(text: string): void {
    if (this.barShown) {
      this.io.stderr(`${REDRAW}${redact(text)}`);
      this.barShown = false;
      this.drawBar();
      return;
    }
    this.io.stderr(redact(text));
  }

  private drawBar(): void {
    if (!this.opts.tty || this.total === 0) return;
    const done = Math.min(this.total, this.scored + this.failed);
    const filled = Math.round((done / this.total) * BAR_WIDTH);
    const counts = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${this.saved}/${this.total} generated, ${this.scored}/${this.total} scored` +
      `${this.failed ? `, ${this.failed} failed` : ''}, $${this.usd.toFixed(4)}`;
    const bar = `${counts}${this.models ? ` · ${this.models}` : ''}`;
    if (this.barShown && bar === this.lastBar) return;
    // Download progress arrives many times a second: redraw for it at most every 200 ms.
    const now = Date.now();
    if (this.barShown && counts === this.lastCounts && now - this.lastDrawAt < 200) return;
    this.io.stderr(this.barShown ? `${REDRAW}${bar}` : bar);
    this.barShown = true;
    this.lastBar = bar;
    this.lastCounts = counts;
    this.lastDrawAt = now;
  }
}
