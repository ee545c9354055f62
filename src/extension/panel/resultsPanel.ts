import { dirname, join, relative, isAbsolute } from 'node:path';
import * as vscode from 'vscode';
import { ContactSheetError, toContactSheetError } from '../../shared/errors';
import { MessageEndpoint } from '../../shared/messageEndpoint';
import { checkFromWebview, checkResponseFromWebview } from '../../shared/protocolGuards';
import type {
  Envelope,
  FromWebviewEvent,
  FromWebviewRequests,
  HistoryEntry,
  ImageRef,
  PanelState,
  PromptView,
  RunView,
  ToWebviewEvent,
  ToWebviewRequests,
} from '../../shared/protocol';
import { setApiToken } from '../commands/setApiToken';
import type { ExtensionServices } from '../extensionServices';
import { listRecordedRuns, readRecordedRun, type RecordedRun, type RunsParent } from '../history/recordedRuns';
import { historyEntryFromRun, imageFileOf, runViewFromTrace, type RunUris } from '../history/traceRunView';
import { openDocument, readPrompt } from '../promptReader';
import type { RunController, RunSink, StartRunOptions } from '../run/runController';
import { readRunPlan } from '../runPlanSettings';
import { ownRunsParent, runsParentFor } from '../settings/runSettings';
import { ensureThumbnail } from '../views/thumbnails';
import { copyText, openImage, revealPath } from './imageActions';
import { applyPromptEdit, promptViewFromDocument, savePrompt } from './promptDocument';
import { getHtmlForWebview, getWebviewOptions, RESULTS_VIEW_TYPE } from './webviewHtml';

type PanelEndpoint = MessageEndpoint<ToWebviewEvent, ToWebviewRequests, FromWebviewEvent, FromWebviewRequests>;

/**
 * One results panel per prompt file: the prompt (editable, as the document), the plan, the token's
 * state, the run shown in the grid (live or from disk) and the history of earlier runs. It answers
 * every request of the protocol and hands runs to its RunController. Images reach the webview as
 * webview URIs of files inside this prompt's run folders; ImageRefs are resolved here, so no path
 * ever goes to the webview.
 */
export class ResultsPanel {
  private static readonly openPanels = new Map<string, ResultsPanel>();
  private static readonly postedByAny = new vscode.EventEmitter<{ promptUri: vscode.Uri; message: Envelope<unknown> }>();
  /** Every envelope any results panel posts, as posted, from the moment the panel exists (the integration tests watch it). */
  static readonly onDidPostMessage = ResultsPanel.postedByAny.event;

  readonly controller: RunController;
  private readonly endpoint: PanelEndpoint;
  private readonly disposables: vscode.Disposable[] = [];
  /** runId → run folder, for the runs this panel has listed or shown. */
  private readonly knownRuns = new Map<string, string>();
  /** Run folders opened from elsewhere (Open Run), added to the resource roots. */
  private readonly extraRoots: string[] = [];
  private roots: string[] = [];
  /** A run to show at the next ready handshake (Open Run before the webview loaded). */
  private requestedRunDir: string | undefined;
  /** A snapshot answer in flight: run events wait until the webview has it (see post). */
  private held: { body: unknown; buffer: Envelope<unknown>[]; timer: NodeJS.Timeout } | undefined;
  private prompt: PromptView | undefined;
  private planJson = '';
  private refreshTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  static get(promptUri: vscode.Uri): ResultsPanel | undefined {
    return ResultsPanel.openPanels.get(promptUri.toString());
  }

  /** Reveals the prompt's panel, creating it if needed. */
  static show(services: ExtensionServices, promptUri: vscode.Uri): ResultsPanel {
    const existing = ResultsPanel.get(promptUri);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(RESULTS_VIEW_TYPE, panelTitle(promptUri), { viewColumn: vscode.ViewColumn.Active }, { enableScripts: true, localResourceRoots: [] });
    return new ResultsPanel(services, panel, promptUri);
  }

  /** Adopts a panel VS Code restored after a reload (see ResultsPanelSerializer). */
  static revive(services: ExtensionServices, panel: vscode.WebviewPanel, promptUri: vscode.Uri): ResultsPanel {
    ResultsPanel.get(promptUri)?.panel.dispose();
    panel.title = panelTitle(promptUri);
    return new ResultsPanel(services, panel, promptUri);
  }

  private constructor(
    private readonly services: ExtensionServices,
    readonly panel: vscode.WebviewPanel,
    readonly promptUri: vscode.Uri,
  ) {
    ResultsPanel.openPanels.set(promptUri.toString(), this);
    const { logger } = services;
    this.controller = services.runs.for(promptUri);
    this.controller.attach(this.sink);
    this.endpoint = new MessageEndpoint<ToWebviewEvent, ToWebviewRequests, FromWebviewEvent, FromWebviewRequests>({
      post: (message) => this.post(message),
      onEvent: (event) => this.onEvent(event),
      onStrayMessage: (_message, why) => logger.warn(`Results panel: ignored a message (${why}).`),
      checkIncoming: checkFromWebview,
      checkResponse: checkResponseFromWebview,
      requestHandlers: {
        'webview/ready': (request) => this.loadState(request.restore?.runId ?? null),
        'prompt/open': async () => {
          await vscode.window.showTextDocument(promptUri, { viewColumn: vscode.ViewColumn.Beside, preview: false });
        },
        'prompt/edit': async (request) => ({ applied: await applyPromptEdit(promptUri, request.text) }),
        'prompt/save': async () => ({ saved: await savePrompt(promptUri) }),
        'run/start': (request) => this.startRun({ plan: request.plan, demo: request.demo, fromImage: request.fromImage }),
        'run/cancel': (request) => ({ canceling: this.controller.cancel(request.runId) }),
        'run/reveal': async (request) => revealPath(await this.runDirOf(request.runId)),
        'token/set': async () => {
          await setApiToken(services);
          return services.tokenStatus.current;
        },
        'history/open': (request) => this.runView(request.runId),
        'image/open': async (request) => openImage(await this.imagePath(request.image)),
        'image/reveal': async (request) => revealPath(await this.imagePath(request.image)),
        'image/copySeed': async (request) => copyText(String(await this.imageSeed(request.image))),
        'image/copyPath': async (request) => copyText(await this.imagePath(request.image)),
      },
    });
    panel.iconPath = vscode.Uri.joinPath(services.context.extensionUri, 'media', 'icon.png');
    this.applyOptions();
    panel.webview.html = getHtmlForWebview(panel.webview, services.context.extensionUri);
    this.disposables.push(
      { dispose: () => this.controller.detach(this.sink) },
      panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
      services.tokenStatus.onDidChange((token) => this.endpoint.sendEvent({ type: 'token/changed', token })),
      ...this.watchInputs(),
    );
    logger.info(`Results panel opened for ${vscode.workspace.asRelativePath(promptUri)}.`);
  }

  /** What the webview sent (its onDidReceiveMessage); the integration tests speak through it too. */
  receive(message: unknown): void {
    this.endpoint.handleMessage(message);
  }

  /** Starts a run of this prompt (the Run button, the Generate command). */
  startRun(options: StartRunOptions): Promise<{ runId: string }> {
    return this.controller.start(options);
  }

  /** Shows a run folder in the grid (Open Run, from the explorer or the palette). */
  async showRecordedRun(runDir: string): Promise<void> {
    const run = await readRecordedRun(runDir);
    this.knownRuns.set(run.runId, run.runDir);
    this.requestedRunDir = run.runDir;
    if (!this.isUnderRoots(run.runDir)) {
      this.extraRoots.push(dirname(run.runDir));
      // New resource roots reload the webview; its ready handshake then shows the requested run.
      this.applyOptions();
    }
    this.endpoint.sendEvent({ type: 'run/show', run: await runViewFromTrace(run, this.uris) });
  }

  private readonly sink: RunSink = {
    post: (message) => this.endpoint.sendEvent(message),
    webviewUri: (path) => this.uris.webview(path),
    visible: () => this.panel.visible,
    ended: () => void this.pushHistory(),
  };

  private readonly uris: RunUris = {
    webview: (path) => this.panel.webview.asWebviewUri(vscode.Uri.file(path)).toString(),
    thumbnail: async (runDir, file, index, seed) => {
      const path = await ensureThumbnail(runDir, file, index, seed, this.services.logger);
      return path ? this.uris.webview(path) : null;
    },
  };

  /** Posts one envelope. While a snapshot answer is on its way, events wait behind it (they happened after the snapshot). */
  private post(message: Envelope<unknown>): Thenable<boolean> | boolean {
    if (this.held && message.kind === 'event') {
      this.held.buffer.push(message);
      return true;
    }
    const delivered = this.panel.webview.postMessage(message);
    ResultsPanel.postedByAny.fire({ promptUri: this.promptUri, message });
    if (this.held && message.kind === 'response' && message.ok && message.body === this.held.body) this.release();
    return delivered;
  }

  /** Holds run events until `body` (a snapshot taken just now, synchronously) has been posted. */
  private holdUntilAnswered<T>(body: T): T {
    this.release();
    this.held = { body, buffer: [], timer: setTimeout(() => this.release(), 5_000) };
    return body;
  }

  private release(): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    clearTimeout(held.timer);
    for (const message of held.buffer) this.post(message);
  }

  private async loadState(restoreRunId: string | null): Promise<PanelState> {
    const { prompt, view, dirty } = await readPrompt(this.promptUri);
    this.prompt = view;
    const plan = await readRunPlan(this.promptUri, prompt);
    this.planJson = JSON.stringify(plan);
    const runs = await this.recordedRuns();
    const history = await Promise.all(runs.map((run) => historyEntryFromRun(run, view.text, this.uris)));
    void this.services.tokenStatus.refresh().catch((e) => this.services.logger.warn(`Token check failed: ${toContactSheetError(e).message}`));
    const requested = this.requestedRunDir;
    this.requestedRunDir = undefined;
    const live = this.controller.liveView?.view;
    let run: RunView | null = null;
    if (requested) run = await runViewFromTrace(await readRecordedRun(requested), this.uris);
    else if (restoreRunId && !(live && live.runId === restoreRunId)) {
      const restored = runs.find((r) => r.runId === restoreRunId);
      if (restored) run = await runViewFromTrace(restored, this.uris);
    }
    if (!run && !live && runs[0]) run = await runViewFromTrace(runs[0], this.uris);
    // The live run is copied last, with no await after it: every later event follows the answer.
    const state: PanelState = {
      prompt: view,
      promptDirty: dirty,
      plan,
      token: this.services.tokenStatus.current,
      run: run ?? this.controller.liveView?.snapshot(this.uris.webview) ?? null,
      history,
    };
    return this.holdUntilAnswered(state);
  }

  private async runView(runId: string): Promise<RunView> {
    const runDir = await this.runDirOf(runId);
    const run = await readRecordedRun(runDir);
    const view = await runViewFromTrace(run, this.uris);
    const live = this.controller.liveView;
    return live?.view && live.view.runId === runId ? this.holdUntilAnswered(live.snapshot(this.uris.webview)!) : view;
  }

  /** Earlier runs of this prompt, newest first (and remembered by id). */
  private async recordedRuns(): Promise<RecordedRun[]> {
    const config = vscode.workspace.getConfiguration('contactSheet', this.promptUri);
    const configured = runsParentFor(config, this.promptUri).fsPath;
    const own = ownRunsParent(this.promptUri).fsPath;
    const parents: RunsParent[] = [{ dir: own, shared: false }];
    if (configured !== own) parents.push({ dir: configured, shared: true });
    for (const extra of this.extraRoots) parents.push({ dir: extra, shared: true });
    const runs = await listRecordedRuns(this.promptUri.fsPath, parents);
    for (const run of runs) this.knownRuns.set(run.runId, run.runDir);
    return runs;
  }

  private async pushHistory(): Promise<void> {
    try {
      const runs = await this.recordedRuns();
      const text = this.prompt?.text ?? '';
      const entries: HistoryEntry[] = await Promise.all(runs.map((run) => historyEntryFromRun(run, text, this.uris)));
      this.endpoint.sendEvent({ type: 'history/changed', entries });
    } catch (e) {
      this.services.logger.warn(`Could not list the earlier runs: ${toContactSheetError(e).message}`);
    }
  }

  private async runDirOf(runId: string): Promise<string> {
    const liveDir = this.controller.isLive(runId) ? this.controller.liveView?.runDir : undefined;
    if (liveDir) return liveDir;
    if (!this.knownRuns.has(runId)) await this.recordedRuns();
    const dir = this.knownRuns.get(runId);
    if (!dir) throw new ContactSheetError('run-not-resumable', 'That run is no longer on disk.', { action: 'Pick another run from the history.' });
    return dir;
  }

  private async imagePath(ref: ImageRef): Promise<string> {
    const live = this.controller.liveImagePath(ref);
    if (live) return live;
    const run = await readRecordedRun(await this.runDirOf(ref.runId));
    const image = run.trace.images[ref.index];
    const file = image ? imageFileOf(run.runDir, image) : null;
    if (!file) throw new ContactSheetError('image-unreadable', `Image ${ref.index + 1} of this run is not on disk.`, { action: 'Open the run folder to see what it holds.' });
    return join(run.runDir, file);
  }

  private async imageSeed(ref: ImageRef): Promise<number> {
    const live = this.controller.liveView?.view;
    if (live && live.runId === ref.runId && live.images[ref.index]) return live.images[ref.index].seed;
    const run = await readRecordedRun(await this.runDirOf(ref.runId));
    const image = run.trace.images[ref.index];
    if (!image) throw new ContactSheetError('bad-usage', `This run has no image ${ref.index + 1}.`);
    return image.seed;
  }

  /** The folders the webview may load from: dist/, media/ and the folders holding this prompt's runs. */
  private applyOptions(): void {
    const config = vscode.workspace.getConfiguration('contactSheet', this.promptUri);
    const roots = [...new Set([ownRunsParent(this.promptUri).fsPath, runsParentFor(config, this.promptUri).fsPath, ...this.extraRoots])];
    if (JSON.stringify(roots) === JSON.stringify(this.roots)) return;
    this.roots = roots;
    this.panel.webview.options = getWebviewOptions(
      this.services.context.extensionUri,
      roots.map((r) => vscode.Uri.file(r)),
    );
  }

  private isUnderRoots(path: string): boolean {
    return this.roots.some((root) => {
      const rel = relative(root, path);
      return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
    });
  }

  /** Keeps the panel in step with the prompt's document, the file on disk, the settings and the run folders. */
  private watchInputs(): vscode.Disposable[] {
    const folder = vscode.Uri.joinPath(this.promptUri, '..');
    const name = this.promptUri.path.slice(this.promptUri.path.lastIndexOf('/') + 1);
    const promptWatcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, name));
    const traceWatcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(this.promptUri, '..'), '**/generation_trace.json'), false, true, false);
    const isPrompt = (uri: vscode.Uri) => uri.toString() === this.promptUri.toString();
    const fromDisk = () => {
      if (!openDocument(this.promptUri)?.isDirty) this.schedule(() => this.refreshPrompt());
    };
    return [
      promptWatcher,
      promptWatcher.onDidChange(fromDisk),
      promptWatcher.onDidCreate(fromDisk),
      traceWatcher,
      traceWatcher.onDidCreate(() => this.schedule(() => this.pushHistory())),
      traceWatcher.onDidDelete(() => this.schedule(() => this.pushHistory())),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (!isPrompt(e.document.uri)) return;
        // An event without changes is the dirty flag catching up (a first edit arrives before it).
        this.pushDocument(e.document);
        if (e.contentChanges.length) this.schedule(() => this.refreshPlan());
      }),
      vscode.workspace.onDidSaveTextDocument((d) => isPrompt(d.uri) && this.pushDocument(d)),
      vscode.workspace.onDidCloseTextDocument((d) => isPrompt(d.uri) && this.schedule(() => this.refreshPrompt())),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration('contactSheet', this.promptUri)) return;
        this.applyOptions();
        this.schedule(async () => {
          await this.refreshPlan();
          if (e.affectsConfiguration('contactSheet.outputFolder', this.promptUri)) await this.pushHistory();
        });
      }),
    ];
  }

  private pushDocument(document: vscode.TextDocument): void {
    if (!this.prompt) return;
    const view = promptViewFromDocument(document, this.prompt);
    if (!view) return;
    this.prompt = view;
    this.endpoint.sendEvent({ type: 'prompt/changed', prompt: view, dirty: document.isDirty });
  }

  private async refreshPrompt(): Promise<void> {
    const { view, dirty } = await readPrompt(this.promptUri);
    this.prompt = view;
    this.endpoint.sendEvent({ type: 'prompt/changed', prompt: view, dirty });
    await this.refreshPlan();
  }

  private async refreshPlan(): Promise<void> {
    const { prompt } = await readPrompt(this.promptUri);
    const plan = await readRunPlan(this.promptUri, prompt);
    const json = JSON.stringify(plan);
    if (json === this.planJson) return;
    this.planJson = json;
    this.endpoint.sendEvent({ type: 'plan/changed', plan });
  }

  /** Coalesces bursts (typing, a folder of traces appearing) into one refresh shortly after. */
  private schedule(refresh: () => Promise<void>): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      if (this.disposed) return;
      refresh().catch((e) => this.services.logger.debug(`Panel refresh skipped: ${toContactSheetError(e).message}`));
    }, 250);
  }

  private onEvent(event: FromWebviewEvent): void {
    switch (event.type) {
      case 'webview/log':
        this.services.logger[event.level](`[webview] ${String(event.message)}`);
        return;
      case 'webview/invalidMessage':
        this.services.logger.warn(`Results panel: the webview ignored a message (${event.messageType ?? 'no type'}: ${event.reason}).`);
        return;
      case 'image/shown': {
        const image = this.controller.liveView?.view?.images[event.index];
        const latency = image?.savedAt && this.controller.liveView?.view?.runId === event.runId ? ` ${event.at - image.savedAt} ms after it was on disk` : '';
        this.services.logger.debug(`Results panel: image ${event.index + 1} of ${event.runId} shown (${event.variant})${latency}.`);
        return;
      }
      default:
        this.services.logger.warn('Results panel: unknown event from the webview.');
    }
  }

  private dispose(): void {
    this.disposed = true;
    clearTimeout(this.refreshTimer);
    if (this.held) clearTimeout(this.held.timer);
    this.held = undefined;
    if (ResultsPanel.get(this.promptUri) === this) ResultsPanel.openPanels.delete(this.promptUri.toString());
    this.endpoint.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

function panelTitle(promptUri: vscode.Uri): string {
  return `Contact Sheet: ${promptUri.path.slice(promptUri.path.lastIndexOf('/') + 1)}`;
}
