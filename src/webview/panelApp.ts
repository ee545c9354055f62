/**
 * The results panel: owns what is shown (panel state, the run in the grid, the selection) and
 * turns host messages into view updates and user actions into host requests. Everything it
 * renders comes from the host; it persists only an identity (prompt, run, selection, scroll).
 */
import type {
  ErrorCode,
  FromWebviewEvent,
  FromWebviewRequests,
  HistoryEntry,
  ImageRef,
  PanelState,
  PlanChoice,
  RunView,
  ToWebviewEvent,
  WebviewPersistedState,
} from '../shared/protocol';
import { CompareView } from './compareView';
import { imageName } from './displayFormat';
import { el, icon, iconButton, setText } from './elements';
import { GridView } from './gridView';
import { HeaderView, type RunButtonState } from './headerView';
import { HistoryView } from './historyView';
import type { CardAction } from './imageCard';
import { applyRunUpdate, isRunActive } from './runModel';
import { SummaryView } from './summaryView';

/** The host as the panel sees it (MessageEndpoint in the webview, a fake in tests). */
export interface HostPort {
  request<K extends keyof FromWebviewRequests & string>(request: FromWebviewRequests[K][0] & { type: K }): Promise<FromWebviewRequests[K][1]>;
  event(event: FromWebviewEvent): void;
}

export interface StateStore {
  get(): Partial<WebviewPersistedState> | undefined;
  set(state: WebviewPersistedState): void;
}

interface ErrorLike {
  code?: ErrorCode;
  message: string;
  action?: string;
}

const TOKEN_ERRORS: ErrorCode[] = ['token-missing', 'token-invalid'];

export class PanelApp {
  private readonly header: HeaderView;
  private readonly summary: SummaryView;
  private readonly grid: GridView;
  private readonly history: HistoryView;
  private readonly compare: CompareView;
  private readonly errorBanner = el('div', { className: 'banner banner-error', attrs: { role: 'alert' }, testid: 'error-banner' });
  private readonly announcer = el('div', { className: 'visually-hidden', attrs: { 'aria-live': 'polite' }, testid: 'announcer' });
  private readonly emptyState = el('div', { className: 'empty-state', testid: 'empty-state' });
  private state: PanelState | null = null;
  private run: RunView | null = null;
  private starting = false;
  private canceling = false;
  private scrollFrame = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly host: HostPort,
    private readonly store: StateStore,
  ) {
    this.header = new HeaderView({
      edit: (text) => this.request({ type: 'prompt/edit', text }),
      save: () => this.fire({ type: 'prompt/save' }),
      openPrompt: () => this.fire({ type: 'prompt/open' }),
      run: (plan, demo) => void this.startRun(plan, demo, null),
      cancel: () => void this.cancelRun(),
      setToken: () => void this.setToken(),
    });
    this.summary = new SummaryView({
      compare: () => this.openCompare(this.grid.selection),
      clearSelection: () => this.select([]),
      revealRun: () => this.run && this.fire({ type: 'run/reveal', runId: this.run.runId }),
    });
    this.grid = new GridView({
      selectionChanged: () => this.afterSelection(),
      enlarge: (index) => this.openCompare([index]),
      action: (action, index) => void this.imageAction(action, index),
      shown: (index) => this.reportShown(index, 'thumbnail'),
    });
    this.history = new HistoryView((runId) => void this.openHistory(runId));
    this.compare = new CompareView({ shown: (index) => this.reportShown(index, 'full') });
    this.errorBanner.hidden = true;
    const main = el('div', { className: 'main-column' }, [this.summary.root, this.emptyState, this.grid.root]);
    const layout = el('div', { className: 'layout' }, [main, this.history.root]);
    root.replaceChildren(this.errorBanner, this.header.root, layout, this.compare.root, this.announcer);
    root.setAttribute('aria-busy', 'true');
    window.addEventListener('scroll', () => this.onScroll(), { passive: true });
  }

  /** The ready handshake: asks the host for the state, restoring the persisted run and selection. */
  async start(): Promise<void> {
    const persisted = this.store.get();
    const runId = typeof persisted?.runId === 'string' ? persisted.runId : null;
    try {
      const state = await this.host.request({ type: 'webview/ready', restore: runId ? { runId } : null });
      const restore = state.run && state.run.runId === runId ? persisted : undefined;
      this.showState(state, Array.isArray(restore?.selection) ? restore.selection.filter(Number.isInteger) : []);
      if (restore && typeof restore.scroll === 'number') requestAnimationFrame(() => window.scrollTo(0, restore.scroll!));
    } catch (e) {
      this.showError(asError(e));
      this.log('error', `ready failed: ${asError(e).message}`);
    }
    this.root.setAttribute('aria-busy', 'false');
  }

  /** One host event (already checked by the endpoint). */
  handle(event: ToWebviewEvent): void {
    switch (event.type) {
      case 'panel/state':
        this.showState(event.state, this.run && event.state.run?.runId === this.run.runId ? this.grid.selection : []);
        return;
      case 'prompt/changed':
        if (this.state) this.state = { ...this.state, prompt: event.prompt, promptDirty: event.dirty };
        this.header.showPrompt(event.prompt, event.dirty);
        return;
      case 'plan/changed':
        if (this.state) this.state = { ...this.state, plan: event.plan };
        this.header.showPlan(event.plan);
        return;
      case 'token/changed':
        if (this.state) this.state = { ...this.state, token: event.token };
        this.header.showToken(event.token);
        return;
      case 'run/show':
        this.showRun(event.run, []);
        return;
      case 'history/changed':
        this.showHistory(event.entries);
        return;
      default: {
        const run = this.run;
        const change = run ? applyRunUpdate(run, event) : null;
        if (!run || !change) return; // for a run not shown (e.g. the user opened an old one meanwhile)
        this.grid.refresh(change.images);
        if (change.order) this.grid.reorder();
        if (event.type === 'run/finished') this.canceling = false;
        this.afterRunChange();
        if (this.compare.indices.some((i) => change.images.includes(i))) this.compare.refresh(run);
      }
    }
  }

  private showState(state: PanelState, selection: number[]): void {
    this.state = state;
    this.header.showPrompt(state.prompt, state.promptDirty);
    this.header.showPlan(state.plan);
    this.header.showToken(state.token);
    this.showRun(state.run, selection);
    this.showHistory(state.history);
  }

  private showRun(run: RunView | null, selection: number[]): void {
    if (this.run?.runId !== run?.runId) this.compare.close();
    this.run = run;
    this.canceling = false;
    this.grid.showRun(run, selection);
    this.emptyState.hidden = !!run;
    if (!run) this.renderEmptyState();
    this.history.setCurrent(run?.runId ?? null);
    this.afterRunChange();
    this.persist();
  }

  private showHistory(entries: HistoryEntry[]): void {
    if (this.state) this.state = { ...this.state, history: entries };
    this.history.update(entries, this.run?.runId ?? null);
  }

  private afterRunChange(): void {
    this.summary.update(this.run, this.grid.selection.length);
    const active = isRunActive(this.run);
    const button: RunButtonState = this.starting ? 'starting' : active ? (this.canceling ? 'canceling' : 'running') : 'idle';
    this.header.setRunState(button, !!this.run);
  }

  private renderEmptyState(): void {
    const count = this.state?.plan.numVariations ?? 8;
    this.emptyState.replaceChildren(
      icon('file-media'),
      el('p', { className: 'empty-title', text: 'No run yet' }),
      el('p', { className: 'empty-note', text: `Run generates ${count} candidates on Replicate. They appear here as they arrive, scored locally and ranked best first.` }),
    );
  }

  private async startRun(plan: PlanChoice, demo: boolean, fromImage: ImageRef | null): Promise<void> {
    if (this.starting) return;
    this.starting = true;
    this.hideError();
    this.afterRunChange();
    try {
      await this.host.request({ type: 'run/start', plan, demo, fromImage });
    } catch (e) {
      const error = asError(e);
      if (error.code && TOKEN_ERRORS.includes(error.code) && this.state) {
        const token = { ...this.state.token, status: error.code === 'token-missing' ? ('missing' as const) : ('invalid' as const) };
        this.state = { ...this.state, token };
        this.header.showToken(token);
        this.root.querySelector<HTMLElement>('[data-testid=set-token]')?.focus();
      } else {
        this.showError(error);
      }
    } finally {
      this.starting = false;
      this.afterRunChange();
    }
  }

  private async cancelRun(): Promise<void> {
    const run = this.run;
    if (!run || !isRunActive(run)) return;
    this.canceling = true;
    this.afterRunChange();
    try {
      const { canceling } = await this.host.request({ type: 'run/cancel', runId: run.runId });
      if (!canceling) this.canceling = false;
    } catch (e) {
      this.canceling = false;
      this.showError(asError(e));
    }
    this.afterRunChange();
  }

  private async setToken(): Promise<void> {
    try {
      const token = await this.host.request({ type: 'token/set' });
      if (this.state) this.state = { ...this.state, token };
      this.header.showToken(token);
    } catch (e) {
      this.showError(asError(e));
    }
  }

  private async openHistory(runId: string): Promise<void> {
    if (this.run?.runId === runId && !isRunActive(this.run)) return;
    try {
      const run = await this.host.request({ type: 'history/open', runId });
      this.showRun(run, []);
      this.grid.root.querySelector<HTMLElement>('.card[tabindex="0"]')?.focus({ preventScroll: true });
    } catch (e) {
      this.showError(asError(e));
    }
  }

  private async imageAction(action: CardAction, index: number): Promise<void> {
    const run = this.run;
    const image = run?.images[index];
    if (!run || !image) return;
    const ref: ImageRef = { runId: run.runId, index };
    switch (action) {
      case 'open':
        this.fire({ type: 'image/open', image: ref });
        return;
      case 'reveal':
        this.fire({ type: 'image/reveal', image: ref });
        return;
      case 'copySeed':
        if (await this.request({ type: 'image/copySeed', image: ref }).then(() => true, () => false)) this.announce(`Seed ${image.seed} copied`);
        return;
      case 'copyPath':
        if (await this.request({ type: 'image/copyPath', image: ref }).then(() => true, () => false)) this.announce(`Path of ${imageName(index)} copied`);
        return;
      case 'rerun': {
        if (!this.header.canStart || isRunActive(run)) return;
        this.header.plan.set({ seed: image.seed, model: image.model ?? run.model, aspectRatio: run.aspectRatio });
        const plan = this.header.readPlan();
        if (plan) await this.header.prompt.flush().then(() => this.startRun(plan, run.demo, ref));
        return;
      }
    }
  }

  private openCompare(indices: number[]): void {
    if (this.run && indices.length) this.compare.open(this.run, indices);
  }

  private select(selection: number[]): void {
    this.grid.setSelection(selection);
    this.afterSelection();
  }

  private afterSelection(): void {
    this.summary.updateSelection(this.grid.selection.length);
    this.persist();
  }

  private reportShown(index: number, variant: 'thumbnail' | 'full'): void {
    if (this.run) this.host.event({ type: 'image/shown', runId: this.run.runId, index, variant, at: Date.now() });
  }

  /** A request whose answer nobody waits for: a failure is shown in the error banner. */
  private fire<K extends keyof FromWebviewRequests & string>(request: FromWebviewRequests[K][0] & { type: K }): void {
    this.request<K>(request).catch(() => undefined);
  }

  /** A request whose failure is shown in the error banner; resolves to its answer or rejects after showing. */
  private request<K extends keyof FromWebviewRequests & string>(request: FromWebviewRequests[K][0] & { type: K }): Promise<FromWebviewRequests[K][1]> {
    return this.host.request<K>(request).catch((e: unknown) => {
      this.showError(asError(e));
      throw e;
    });
  }

  private showError(error: ErrorLike): void {
    const dismiss = iconButton('close', 'Dismiss', () => this.hideError(), 'dismiss-error');
    this.errorBanner.replaceChildren(icon('error'), el('span', { className: 'banner-text', text: [error.message, error.action].filter(Boolean).join(' ') }), dismiss);
    this.errorBanner.hidden = false;
  }

  private hideError(): void {
    this.errorBanner.hidden = true;
  }

  private announce(text: string): void {
    setText(this.announcer, '');
    requestAnimationFrame(() => setText(this.announcer, text));
  }

  private log(level: 'info' | 'warn' | 'error', message: string): void {
    this.host.event({ type: 'webview/log', level, message });
  }

  private onScroll(): void {
    if (this.scrollFrame) return;
    this.scrollFrame = requestAnimationFrame(() => {
      this.scrollFrame = 0;
      this.persist();
    });
  }

  private persist(): void {
    if (!this.state) return;
    this.store.set({ promptUri: this.state.prompt.uri, runId: this.run?.runId ?? null, selection: this.grid.selection, scroll: Math.round(window.scrollY) });
  }
}

function asError(e: unknown): ErrorLike {
  if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') {
    const { code, message, action } = e as ErrorLike;
    return { code, message, action: typeof action === 'string' ? action : undefined };
  }
  return { message: String(e) };
}
