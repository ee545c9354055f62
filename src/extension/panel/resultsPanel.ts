import * as vscode from 'vscode';
import { toContactSheetError } from '../../shared/errors';
import { MessageEndpoint } from '../../shared/messageEndpoint';
import { checkFromWebview, checkResponseFromWebview } from '../../shared/protocolGuards';
import type {
  Envelope,
  FromWebviewEvent,
  FromWebviewRequests,
  PanelState,
  PromptView,
  RunView,
  ToWebviewEvent,
  ToWebviewRequests,
} from '../../shared/protocol';
import { setApiToken } from '../commands/setApiToken';
import type { ExtensionServices } from '../extensionServices';
import { readRecordedRun } from '../history/recordedRuns';
import { historyEntryFromRun, runViewFromTrace, type RunUris } from '../history/traceRunView';
import { openDocument, readPrompt } from '../promptReader';
import type { RunController, RunSink, StartRunOptions } from '../run/runController';
import { readRunPlan } from '../runPlanSettings';
import { ownRunsParent } from '../settings/runSettings';
import { ensureThumbnail } from '../views/thumbnails';
import { AnswerGate } from './answerGate';
import { copyText, openImage, revealPath } from './imageActions';
import { applyPromptEdit, promptViewFromDocument, savePrompt } from './promptDocument';
import { PromptRuns } from './promptRuns';
import { getHtmlForWebview, getWebviewOptions, RESULTS_VIEW_TYPE } from './webviewHtml';

type PanelEndpoint = MessageEndpoint<ToWebviewEvent, ToWebviewRequests, FromWebviewEvent, FromWebviewRequests>;
type Refresh = 'prompt' | 'plan' | 'history';

/**
 * One results panel per prompt file: the prompt (editable, as the document), the plan, the token's
 * state, the run shown in the grid (live or from disk) and the history of earlier runs. It answers
 * every request of the protocol and hands runs to the prompt's RunController, which outlives it.
 * Images reach the webview as webview URIs of files inside this prompt's run folders; ImageRefs are
 * resolved here (PromptRuns), so no path ever goes to the webview.
 */
export class ResultsPanel {
  private static readonly openPanels = new Map<string, ResultsPanel>();
  private static readonly postedByAny = new vscode.EventEmitter<{ promptUri: vscode.Uri; message: Envelope<unknown> }>();
  /** Every envelope any results panel posts, as posted, from the moment the panel exists (the integration tests watch it). */
  static readonly onDidPostMessage = ResultsPanel.postedByAny.event;

  readonly controller: RunController;
  private readonly endpoint: PanelEndpoint;
  private readonly gate: AnswerGate;
  private readonly runs: PromptRuns;
  private readonly disposables: vscode.Disposable[] = [];
  private roots = '';
  /** A run to show at the next ready handshake (Open Run while the webview (re)loads). */
  private requestedRunDir: string | undefined;
  private prompt: PromptView | undefined;
  private planJson = '';
  private readonly timers = new Map<Refresh, NodeJS.Timeout>();
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
    this.runs = new PromptRuns(promptUri, this.controller);
    this.gate = new AnswerGate((message) => {
      const delivered = this.panel.webview.postMessage(message);
      ResultsPanel.postedByAny.fire({ promptUri: this.promptUri, message });
      return delivered;
    });
    this.endpoint = new MessageEndpoint<ToWebviewEvent, ToWebviewRequests, FromWebviewEvent, FromWebviewRequests>({
      post: (message) => this.gate.post(message),
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
        'run/reveal': async (request) => revealPath(await this.runs.runDirOf(request.runId)),
        'token/set': async () => {
          await setApiToken(services);
          return services.tokenStatus.current;
        },
        'history/open': (request) => this.runView(request.runId),
        'image/open': async (request) => openImage(await this.runs.imagePath(request.image)),
        'image/reveal': async (request) => revealPath(await this.runs.imagePath(request.image)),
        'image/copySeed': async (request) => copyText(String(await this.runs.imageSeed(request.image))),
        'image/copyPath': async (request) => copyText(await this.runs.imagePath(request.image)),
      },
    });
    this.controller.attach(this.sink);
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
    this.requestedRunDir = run.runDir;
    // A folder outside this prompt's run folders becomes a resource root; that reloads the
    // webview, and its ready handshake shows the requested run.
    if (this.runs.adopt(run)) this.applyOptions();
    this.endpoint.sendEvent({ type: 'run/show', run: await runViewFromTrace(run, this.uris) });
  }

  private readonly uris: RunUris = {
    webview: (path) => this.panel.webview.asWebviewUri(vscode.Uri.file(path)).toString(),
    thumbnail: async (runDir, file, index, seed) => {
      const path = await ensureThumbnail(runDir, file, index, seed, this.services.logger);
      return path ? this.uris.webview(path) : null;
    },
  };

  /** How the prompt's run controller reaches this panel. */
  private readonly sink: RunSink = {
    post: (message) => this.endpoint.sendEvent(message),
    webviewUri: (path) => this.uris.webview(path),
    visible: () => this.panel.visible,
    ended: () => this.schedule('history'),
  };

  private async loadState(restoreRunId: string | null): Promise<PanelState> {
    const { prompt, view, dirty } = await readPrompt(this.promptUri);
    this.prompt = view;
    const plan = await readRunPlan(this.promptUri, prompt);
    this.planJson = JSON.stringify(plan);
    const runs = await this.runs.list();
    const history = await Promise.all(runs.map((run) => historyEntryFromRun(run, view.text, this.uris)));
    void this.services.tokenStatus.refresh().catch((e) => this.services.logger.warn(`Token check failed: ${toContactSheetError(e).message}`));
    const requested = this.requestedRunDir;
    this.requestedRunDir = undefined;
    const live = this.controller.liveView?.view;
    let run: RunView | null = null;
    if (requested) run = await runViewFromTrace(await readRecordedRun(requested), this.uris);
    else if (restoreRunId && live?.runId !== restoreRunId) {
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
    return this.gate.hold(state);
  }

  private async runView(runId: string): Promise<RunView> {
    const run = await readRecordedRun(await this.runs.runDirOf(runId));
    const view = await runViewFromTrace(run, this.uris);
    const live = this.controller.liveView;
    return live?.view?.runId === runId ? this.gate.hold(live.snapshot(this.uris.webview)!) : view;
  }

  private async pushHistory(): Promise<void> {
    const runs = await this.runs.list();
    const text = this.prompt?.text ?? '';
    const entries = await Promise.all(runs.map((run) => historyEntryFromRun(run, text, this.uris)));
    this.endpoint.sendEvent({ type: 'history/changed', entries });
  }

  /** The folders the webview may load from: dist/, media/ and the folders holding this prompt's runs. */
  private applyOptions(): void {
    const parents = this.runs.parents();
    if (JSON.stringify(parents) === this.roots) return;
    this.roots = JSON.stringify(parents);
    this.panel.webview.options = getWebviewOptions(
      this.services.context.extensionUri,
      parents.map((p) => vscode.Uri.file(p)),
    );
  }

  /** Keeps the panel in step with the prompt's document, the file on disk, the settings and the run folders. */
  private watchInputs(): vscode.Disposable[] {
    const folder = vscode.Uri.joinPath(this.promptUri, '..');
    const name = this.promptUri.path.slice(this.promptUri.path.lastIndexOf('/') + 1);
    const promptWatcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, name));
    // Runs written by the CLI appear in the history too (the trace is replaced atomically while a
    // run goes on: its folder's events wait for the run's end).
    const traceWatcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(ownRunsParent(this.promptUri), '*/generation_trace.json'), false, true, false);
    const onTrace = (uri: vscode.Uri) => {
      if (!this.controller.liveView?.runDir || !uri.fsPath.startsWith(this.controller.liveView.runDir)) this.schedule('history');
    };
    const isPrompt = (uri: vscode.Uri) => uri.toString() === this.promptUri.toString();
    const fromDisk = () => {
      if (!openDocument(this.promptUri)?.isDirty) this.schedule('prompt');
    };
    return [
      promptWatcher,
      promptWatcher.onDidChange(fromDisk),
      promptWatcher.onDidCreate(fromDisk),
      traceWatcher,
      traceWatcher.onDidCreate(onTrace),
      traceWatcher.onDidDelete(onTrace),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (!isPrompt(e.document.uri)) return;
        // An event without changes is the dirty flag catching up (a first edit arrives before it).
        this.pushDocument(e.document);
        if (e.contentChanges.length) this.schedule('plan');
      }),
      vscode.workspace.onDidSaveTextDocument((d) => isPrompt(d.uri) && this.pushDocument(d)),
      vscode.workspace.onDidCloseTextDocument((d) => isPrompt(d.uri) && this.schedule('prompt')),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration('contactSheet', this.promptUri)) return;
        this.applyOptions();
        this.schedule('plan');
        if (e.affectsConfiguration('contactSheet.outputFolder', this.promptUri)) this.schedule('history');
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

  /** Coalesces bursts (typing, a folder of traces appearing) into one refresh of each kind shortly after. */
  private schedule(kind: Refresh): void {
    clearTimeout(this.timers.get(kind));
    this.timers.set(
      kind,
      setTimeout(() => {
        if (this.disposed) return;
        const refresh = kind === 'prompt' ? this.refreshPrompt() : kind === 'plan' ? this.refreshPlan() : this.pushHistory();
        refresh.catch((e) => this.services.logger.debug(`Panel ${kind} refresh skipped: ${toContactSheetError(e).message}`));
      }, 250),
    );
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
        const live = this.controller.liveView?.view;
        const savedAt = live?.runId === event.runId ? live.images[event.index]?.savedAt : null;
        const latency = savedAt ? ` ${event.at - savedAt} ms after it was on disk` : '';
        this.services.logger.debug(`Results panel: image ${event.index + 1} of ${event.runId} shown (${event.variant})${latency}.`);
        return;
      }
      default:
        this.services.logger.warn('Results panel: unknown event from the webview.');
    }
  }

  private dispose(): void {
    this.disposed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.gate.dispose();
    if (ResultsPanel.get(this.promptUri) === this) ResultsPanel.openPanels.delete(this.promptUri.toString());
    this.endpoint.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

function panelTitle(promptUri: vscode.Uri): string {
  return `Contact Sheet: ${promptUri.path.slice(promptUri.path.lastIndexOf('/') + 1)}`;
}
