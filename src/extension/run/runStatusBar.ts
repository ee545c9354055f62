import * as vscode from 'vscode';

export const REVEAL_RUN_PANEL_COMMAND = 'contactSheet.revealRunPanel';

interface Entry {
  text: string;
  tooltip: string;
  promptUri: vscode.Uri;
  live: boolean;
  at: number;
}

/** How long a finished run's line stays in the status bar. */
const FINISHED_LINGER_MS = 10_000;

/**
 * The one "Contact Sheet" status bar item: the latest run's per-image state ("3/8 scored"), waits
 * included; clicking it reveals that run's panel. Made on the first run, not at activation.
 */
export class RunStatusBar implements vscode.Disposable {
  private item: vscode.StatusBarItem | undefined;
  private readonly entries = new Map<string, Entry>();
  private hideTimer: NodeJS.Timeout | undefined;

  update(key: string, entry: Omit<Entry, 'at'>): void {
    const previous = this.entries.get(key);
    this.entries.set(key, { ...entry, at: previous?.at ?? Date.now() });
    this.render();
    if (!entry.live) {
      clearTimeout(this.hideTimer);
      this.hideTimer = setTimeout(() => {
        for (const [k, e] of this.entries) if (!e.live) this.entries.delete(k);
        this.render();
      }, FINISHED_LINGER_MS);
    }
  }

  /** What the item shows now (the latest live run, else the latest finished one). */
  get text(): string | undefined {
    return this.item?.text;
  }

  private render(): void {
    const all = [...this.entries.values()].sort((a, b) => b.at - a.at);
    const shown = all.find((e) => e.live) ?? all[0];
    if (!shown) {
      this.item?.hide();
      return;
    }
    this.item ??= vscode.window.createStatusBarItem('contactSheet.run', vscode.StatusBarAlignment.Left, 20);
    this.item.name = 'Contact Sheet run';
    const others = all.filter((e) => e.live && e !== shown).length;
    this.item.text = others ? `${shown.text} (+${others})` : shown.text;
    this.item.tooltip = shown.tooltip;
    this.item.command = { command: REVEAL_RUN_PANEL_COMMAND, title: 'Show the run', arguments: [shown.promptUri] };
    this.item.show();
  }

  dispose(): void {
    clearTimeout(this.hideTimer);
    this.item?.dispose();
    this.entries.clear();
  }
}
