import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import type { EngineRunHooks, RunPlan, RunRequestOptions } from '../../core/engine';
import type { RunEvent } from '../../core/run/events';
import type { ApiCallRecord } from '../../core/replicate/types';
import { ContactSheetError, toContactSheetError } from '../../shared/errors';
import type { ImageRef, PlanChoice, RunView, ToWebviewEvent } from '../../shared/protocol';
import type { EngineLease } from '../engine/engineHost';
import { downloadScoringModels } from '../engine/scoringModelsDownload';
import type { ExtensionServices } from '../extensionServices';
import { readPrompt } from '../promptReader';
import { runRequestFromSettings, runsDirFor } from '../settings/runSettings';
import { ensureThumbnail, previewDataUri } from '../views/thumbnails';
import { LiveRunView, type WebviewUri } from './liveRunView';
import { RunProgress } from './runProgress';

/** A run to start from the panel's Run button, the Generate command or a re-run from an image. */
export interface StartRunOptions {
  /** The plan controls' values; null runs with the settings and front matter as they are. */
  plan: PlanChoice | null;
  demo: boolean;
  fromImage: ImageRef | null;
}

/** Where a controller's run is shown: the prompt's panel, while one is open. */
export interface RunSink {
  post(message: ToWebviewEvent): void;
  webviewUri: WebviewUri;
  /** The panel is on screen (no completion toast needed). */
  visible(): boolean;
  /** A run ended: its history entry changed. */
  ended(runDir: string): void;
}

interface LiveRun {
  abort: AbortController;
  view: LiveRunView;
  runId: string | null;
  /** Previews under way, by image path, until the event queue takes them. */
  previews: Map<string, Promise<string | null>>;
}

/**
 * Runs one prompt (one live run at a time): reads the prompt as the user sees it (unsaved edits
 * included), resolves the run from the settings, front matter and the panel's choices, plans and
 * starts it through the engine's front door, and turns its events into the panel's messages, the
 * progress notification and status bar, log lines for every API call, and a toast at the end.
 * Before anything is spent: the token is checked, the budget too, and missing scoring models are
 * downloaded through the same path as "Download Scoring Models". A run outlives its panel: closing
 * the panel does not stop it, and a panel opened later attaches to it.
 */
export class RunController implements vscode.Disposable {
  private live: LiveRun | undefined;
  private queue: Promise<void> = Promise.resolve();
  private sink: RunSink | undefined;

  constructor(
    private readonly services: ExtensionServices,
    readonly promptUri: vscode.Uri,
  ) {}

  /** The prompt's panel shows this controller's runs from now on. */
  attach(sink: RunSink): void {
    this.sink = sink;
  }

  detach(sink: RunSink): void {
    if (this.sink === sink) this.sink = undefined;
  }

  /** No run is going and no panel shows it: the controller can be dropped. */
  get idle(): boolean {
    return this.live === undefined && this.sink === undefined;
  }

  /** The live run's state, if one is running. */
  get liveView(): LiveRunView | undefined {
    return this.live?.view;
  }

  isLive(runId: string): boolean {
    return this.live?.runId === runId;
  }

  /**
   * Starts a run; resolves with its id once the panel has been told (run/show), or rejects before
   * anything was created or spent (token, budget, prompt, settings, model download canceled).
   */
  async start(options: StartRunOptions): Promise<{ runId: string }> {
    if (this.live) {
      throw new ContactSheetError('bad-usage', `A run of ${basename(this.promptUri.fsPath)} is already in progress.`, { action: 'Wait for it to finish, or cancel it.' });
    }
    // Previews start as soon as an image is on disk (see run()), not when the event queue gets to
    // it: the queue then finds them made or under way.
    const previews = new Map<string, Promise<string | null>>();
    const makeThumbnail = (runDir: string, file: string, index: number, seed: number) => {
      const key = join(runDir, file);
      const early = previews.get(key);
      previews.delete(key);
      return early ?? ensureThumbnail(runDir, file, index, seed, this.services.logger);
    };
    const live: LiveRun = { abort: new AbortController(), view: new LiveRunView(makeThumbnail, previewDataUri), runId: null, previews };
    this.live = live;
    let lease: EngineLease | undefined;
    try {
      const config = vscode.workspace.getConfiguration('contactSheet', this.promptUri);
      const { prompt } = await readPrompt(this.promptUri);
      let request: RunRequestOptions = runRequestFromSettings(config, prompt);
      let planned = prompt;
      if (options.plan) {
        const { model, numVariations, aspectRatio, seed } = options.plan;
        request = { ...request, model, numVariations, aspectRatio, seed: seed ?? undefined };
        // "random" in the panel wins over a seed in the front matter.
        if (seed === null) planned = { ...prompt, overrides: { ...prompt.overrides, seed: undefined } };
      }
      // The DEMO spends nothing: no budget applies.
      if (options.demo) delete request.budgetUsd;
      lease = await this.services.engines.lease(options.demo ? 'demo' : 'replicate');
      const plan = await lease.engine.plan({ prompt: planned, options: request, runsDir: runsDirFor(config, this.promptUri) });
      if (!lease.demo) await this.checkToken(lease);
      if (plan.budget.withinBudget !== false) await this.ensureScoringModels(lease, plan);
      if (live.abort.signal.aborted) throw new ContactSheetError('canceled', 'The run was canceled before it started; nothing was spent.');
      return await this.run(live, lease, plan);
    } catch (e) {
      if (this.live === live) this.live = undefined;
      lease?.release();
      throw e;
    }
  }

  /** Asks the live run to stop (predictions are canceled on Replicate; what finished stays). */
  cancel(runId: string | null): boolean {
    const live = this.live;
    if (!live || (runId !== null && live.runId !== null && live.runId !== runId)) return false;
    this.services.logger.info(`Canceling the run of ${vscode.workspace.asRelativePath(this.promptUri)}.`);
    live.abort.abort();
    return true;
  }

  /** Where an image of the live run is now, when it is on disk. */
  liveImagePath(ref: ImageRef): string | null {
    const view = this.live?.view;
    if (!view || this.live?.runId !== ref.runId || !view.runDir) return null;
    const file = view.fileOf(ref.index);
    return file ? join(view.runDir, file) : null;
  }

  private async checkToken(lease: EngineLease): Promise<void> {
    try {
      const { username } = await lease.engine.checkToken({ signal: this.live?.abort.signal, onApiCall: (call) => this.logApiCall(call) });
      this.services.tokenStatus.record('set', username);
    } catch (e) {
      if (toContactSheetError(e).code === 'token-invalid') this.services.tokenStatus.record('invalid', null);
      if (toContactSheetError(e).code === 'token-missing') void this.services.tokenStatus.refresh().catch(() => undefined);
      throw e;
    }
  }

  /** A first run fetches the scoring models it needs with their own progress (the download command's path). */
  private async ensureScoringModels(lease: EngineLease, plan: RunPlan): Promise<void> {
    const needed = await lease.engine.describeScoringModels(plan.settings);
    const missing = needed.models.filter((m) => m.state !== 'ready').map((m) => m.id);
    if (!missing.length) return;
    this.services.logger.info(`Downloading scoring models before the run: ${missing.join(', ')}.`);
    const { outcome } = await downloadScoringModels(lease.models, {
      ids: missing,
      logger: this.services.logger,
      title: `Contact Sheet${lease.demo ? ' DEMO' : ''}: downloading scoring models (first use)`,
    });
    if (outcome === 'canceled') {
      throw new ContactSheetError('canceled', 'The scoring model download was canceled; nothing was spent.', {
        action: 'Run again to resume the download, or use "Contact Sheet: Download Scoring Models".',
      });
    }
  }

  private run(live: LiveRun, lease: EngineLease, plan: RunPlan): Promise<{ runId: string }> {
    const label = basename(this.promptUri.fsPath);
    let progress: RunProgress | undefined;
    let startedResolve!: (runId: string) => void;
    const started = new Promise<string>((resolve) => (startedResolve = resolve));

    const onEvent = (e: RunEvent) => {
      const at = Date.now();
      if (e.type === 'image-saved' && e.path.endsWith(e.file)) {
        const runDir = e.path.slice(0, e.path.length - e.file.length).replace(/[\\/]+$/, '');
        live.previews.set(join(runDir, e.file), ensureThumbnail(runDir, e.file, e.index, e.seed, this.services.logger));
      }
      if (e.type === 'api-call') this.logApiCall(e.call);
      if (e.type === 'warning') this.services.logger.warn(e.message);
      this.enqueue(async () => {
        const sink = this.sink;
        for (const message of await live.view.translate(e, at, sink ? sink.webviewUri : null)) sink?.post(message);
        const view = live.view.view;
        if (e.type === 'run-started' && view) {
          live.runId = e.run_id;
          progress = new RunProgress(this.services.statusBar, this.promptUri, label, lease.demo, () => this.cancel(e.run_id));
          this.services.logger.info(`Run ${e.run_id}${lease.demo ? ' (DEMO)' : ''} started: ${e.num_images} images of ${vscode.workspace.asRelativePath(this.promptUri)} into ${e.run_dir}.`);
          startedResolve(e.run_id);
        }
        if (view && progress && e.type !== 'api-call') progress.update(view, e.type === 'rate-limited' ? Date.parse(e.wait.until) : undefined);
      });
    };
    const hooks: EngineRunHooks = {
      signal: live.abort.signal,
      onEvent,
      onNotice: (notice) => {
        this.services.logger.warn(notice.message);
        void this.services.notifier.warn(`Contact Sheet: ${notice.message}`);
      },
    };
    const finished = lease.engine.start(plan, hooks).then(
      async (result) => {
        await this.queue;
        this.finish(live, lease, progress);
        this.announce(result.status, live.view.view, result.runDir, lease.demo);
      },
      async (e: unknown) => {
        await this.queue;
        const error = toContactSheetError(e);
        for (const message of live.view.abandon(error, Date.now())) this.sink?.post(message);
        this.finish(live, lease, progress);
        throw error;
      },
    );
    // Settles with the run's id once it started, or with the error that stopped it before.
    return Promise.race([started, finished.then(() => started)]).then((runId) => {
      finished.catch((e: unknown) => this.reportFailure(toContactSheetError(e), lease.demo));
      return { runId };
    });
  }

  private enqueue(step: () => Promise<void>): void {
    this.queue = this.queue.then(step).catch((e: unknown) => this.services.logger.error(`Could not show a run event: ${(e as Error).message}`));
  }

  private finish(live: LiveRun, lease: EngineLease, progress: RunProgress | undefined): void {
    if (this.live === live) this.live = undefined;
    lease.release();
    progress?.finish(live.view.view);
    if (live.view.runDir) this.sink?.ended(live.view.runDir);
  }

  /** One line per API call in the log channel: what, how it went, and what it cost. */
  private logApiCall(call: ApiCallRecord): void {
    const cost = call.cost ? `, cost ${call.cost.usd === null ? 'unknown' : `${call.cost.usd} USD`} (${call.cost.source})` : '';
    const image = call.image_index !== undefined ? `, image ${call.image_index + 1}` : '';
    const retry = call.attempt ? `, retry ${call.attempt}` : '';
    const waited = call.rate_limit_wait_ms ? `, held ${call.rate_limit_wait_ms} ms by a rate limit` : '';
    const error = call.error ? ` — ${call.error}` : '';
    this.services.logger.info(`${call.method} ${call.path} → ${call.status ?? 'no response'} in ${call.duration_ms} ms${image}${retry}${waited}${cost}${error}`);
  }

  /** The outcome, as a toast when the panel is not on screen or something went wrong. */
  private announce(status: RunView['status'], view: RunView | null, runDir: string, demo: boolean): void {
    const name = `Contact Sheet${demo ? ' DEMO' : ''}`;
    const label = basename(this.promptUri.fsPath);
    const show = () => vscode.commands.executeCommand('contactSheet.revealRunPanel', this.promptUri);
    const scored = view?.images.filter((i) => i.stage === 'scored').length ?? 0;
    const planned = view?.images.length ?? 0;
    this.services.logger.info(`Run of ${label} ${status}: ${scored} of ${planned} images scored, in ${runDir}.`);
    if (status === 'succeeded') {
      if (this.sink?.visible()) return;
      const best = view?.images.find((i) => i.rank === 1);
      void this.services.notifier.info(`${name}: ${scored} images of ${label} ranked${best ? `; the best has seed ${best.seed}` : ''}.`, 'Show').then((c) => c && show());
      return;
    }
    if (status === 'canceled') {
      void this.services.notifier.info(`${name}: run of ${label} canceled. The ${view?.images.filter((i) => i.imageUri).length ?? 0} finished images and the trace are kept.`);
      return;
    }
    const error = view?.error;
    const text = `${name}: run of ${label} ${status}${error ? `: ${error.message}${error.action ? ` ${error.action}` : ''}` : '.'}`;
    const level = status === 'partial' ? 'warn' : 'error';
    void this.services.notifier[level](text, 'Show', 'Show Log').then((c) => (c === 'Show' ? show() : c === 'Show Log' ? this.services.showLog() : undefined));
  }

  private reportFailure(error: ContactSheetError, demo: boolean): void {
    this.services.logger.error(`The run of ${vscode.workspace.asRelativePath(this.promptUri)} stopped: [${error.code}] ${error.message}`);
    void this.services.notifier.error(`Contact Sheet${demo ? ' DEMO' : ''}: ${error.message}${error.action ? ` ${error.action}` : ''}`, 'Show Log').then((c) => c && this.services.showLog());
  }

  dispose(): void {
    this.live?.abort.abort();
  }
}
