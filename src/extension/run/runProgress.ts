import * as vscode from 'vscode';
import type { RunView } from '../../shared/protocol';
import type { RunStatusBar } from './runStatusBar';

export interface RunCounts {
  planned: number;
  onDisk: number;
  scored: number;
  failed: number;
}

export function runCounts(run: RunView): RunCounts {
  const count = (test: (i: RunView['images'][number]) => boolean) => run.images.filter(test).length;
  return { planned: run.images.length, onDisk: count((i) => i.imageUri !== null), scored: count((i) => i.stage === 'scored'), failed: count((i) => i.stage === 'failed') };
}

/**
 * A live run's progress outside the panel: a cancellable notification ("3 of 8 generated, 2
 * scored") and the status bar item ("$(sync~spin) Contact Sheet 2/8 scored"), rate-limit waits
 * included. Cancel in the notification cancels the run. finish() closes the notification and
 * leaves the outcome in the status bar for a few seconds.
 */
export class RunProgress {
  private report: ((value: { message?: string; increment?: number }) => void) | undefined;
  private done: (() => void) | undefined;
  private lastDone = 0;
  private waitUntil = 0;

  constructor(
    private readonly statusBar: RunStatusBar,
    private readonly promptUri: vscode.Uri,
    private readonly label: string,
    demo: boolean,
    onCancel: () => void,
  ) {
    const title = `Contact Sheet${demo ? ' DEMO' : ''}: ${label}`;
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
      this.report = (value) => progress.report(value);
      token.onCancellationRequested(onCancel);
      return new Promise<void>((resolve) => (this.done = resolve));
    });
  }

  /** Shows the run's state now (and a rate-limit wait until `waitUntil`, when given). */
  update(run: RunView, waitUntil?: number): void {
    if (waitUntil) this.waitUntil = waitUntil;
    const c = runCounts(run);
    const waiting = this.waitUntil > Date.now() ? Math.ceil((this.waitUntil - Date.now()) / 1000) : 0;
    const finishedImages = c.scored + c.failed;
    const increment = c.planned ? (100 * (finishedImages - this.lastDone)) / c.planned : 0;
    this.lastDone = finishedImages;
    const detail = waiting ? `rate limited by Replicate, waiting ${waiting} s` : run.phaseDetail;
    const message = [`${c.onDisk} of ${c.planned} generated, ${c.scored} scored${c.failed ? `, ${c.failed} failed` : ''}`, detail].filter(Boolean).join(' — ');
    this.report?.({ message, ...(increment > 0 ? { increment } : {}) });
    const demo = run.demo ? ' DEMO' : '';
    this.statusBar.update(this.promptUri.toString(), {
      text: waiting ? `$(watch) Contact Sheet${demo}: rate limited, ${waiting} s` : `$(sync~spin) Contact Sheet${demo} ${c.scored}/${c.planned} scored`,
      tooltip: `${this.label}: ${message}. Click to show the run.`,
      promptUri: this.promptUri,
      live: true,
    });
  }

  finish(run: RunView | null): void {
    this.done?.();
    this.done = undefined;
    if (!run) {
      this.statusBar.update(this.promptUri.toString(), { text: '$(error) Contact Sheet: not started', tooltip: this.label, promptUri: this.promptUri, live: false });
      return;
    }
    const c = runCounts(run);
    const icon = run.status === 'succeeded' ? '$(check)' : run.status === 'canceled' ? '$(circle-slash)' : run.status === 'partial' ? '$(warning)' : '$(error)';
    this.statusBar.update(this.promptUri.toString(), {
      text: `${icon} Contact Sheet${run.demo ? ' DEMO' : ''} ${c.scored}/${c.planned} ${run.status}`,
      tooltip: `${this.label}: ${run.status}, ${c.scored} of ${c.planned} images scored. Click to show the run.`,
      promptUri: this.promptUri,
      live: false,
    });
  }
}
