import { posix } from 'node:path';
import * as vscode from 'vscode';
import { ContactSheetError, toContactSheetError } from '../../shared/errors';
import { MessageEndpoint } from '../../shared/messageEndpoint';
import { checkFromWebview, checkResponseFromWebview } from '../../shared/protocolGuards';
import type {
  FromWebviewEvent,
  FromWebviewRequests,
  PanelState,
  ToWebviewEvent,
  ToWebviewRequests,
} from '../../shared/protocol';
import type { ExtensionServices } from '../extensionServices';
import { readPrompt } from '../promptReader';
import { readRunPlan } from '../runPlanSettings';
import { getHtmlForWebview, getWebviewOptions, RESULTS_VIEW_TYPE } from './webviewHtml';

/** One results panel per prompt file: shows the prompt and the plan, later the ranked run. */
export class ResultsPanel {
  private static readonly openPanels = new Map<string, ResultsPanel>();

  private readonly endpoint: MessageEndpoint<ToWebviewEvent, ToWebviewRequests, FromWebviewEvent, FromWebviewRequests>;
  private readonly disposables: vscode.Disposable[] = [];

  /** Reveals the prompt's panel, creating it if needed. */
  static show(services: ExtensionServices, promptUri: vscode.Uri): ResultsPanel {
    const existing = ResultsPanel.openPanels.get(promptUri.toString());
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      RESULTS_VIEW_TYPE,
      panelTitle(promptUri),
      { viewColumn: vscode.ViewColumn.Active },
      getWebviewOptions(services.context.extensionUri),
    );
    return new ResultsPanel(services, panel, promptUri);
  }

  /** Adopts a panel VS Code restored after a reload (see ResultsPanelSerializer). */
  static revive(services: ExtensionServices, panel: vscode.WebviewPanel, promptUri: vscode.Uri): ResultsPanel {
    ResultsPanel.openPanels.get(promptUri.toString())?.panel.dispose();
    // Reset options: restored panels keep whatever they were saved with.
    panel.webview.options = getWebviewOptions(services.context.extensionUri);
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
    this.endpoint = new MessageEndpoint<ToWebviewEvent, ToWebviewRequests, FromWebviewEvent, FromWebviewRequests>({
      post: (message) => panel.webview.postMessage(message),
      onEvent: (event) => this.onEvent(event),
      onStrayMessage: (_message, why) => logger.warn(`Results panel: ignored a message (${why}).`),
      checkIncoming: checkFromWebview,
      checkResponse: checkResponseFromWebview,
      requestHandlers: {
        'webview/ready': () => this.loadState(),
        'prompt/open': async () => {
          await vscode.window.showTextDocument(promptUri, { viewColumn: vscode.ViewColumn.Beside, preview: false });
        },
        'run/start': notInThisBuild,
        'run/cancel': () => ({ canceling: false }),
        'run/reveal': notInThisBuild,
        'prompt/edit': notInThisBuild,
        'prompt/save': notInThisBuild,
        'token/set': notInThisBuild,
        'history/open': notInThisBuild,
        'image/open': notInThisBuild,
        'image/reveal': notInThisBuild,
        'image/copySeed': notInThisBuild,
        'image/copyPath': notInThisBuild,
      },
    });
    panel.iconPath = vscode.Uri.joinPath(services.context.extensionUri, 'media', 'icon.png');
    panel.webview.html = getHtmlForWebview(panel.webview, services.context.extensionUri);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => this.endpoint.handleMessage(m)),
      panel.onDidDispose(() => this.dispose()),
      ...this.watchInputs(),
    );
    logger.info(`Results panel opened for ${vscode.workspace.asRelativePath(promptUri)}.`);
  }

  private async loadState(): Promise<PanelState> {
    const { prompt, view } = await readPrompt(this.promptUri);
    return {
      prompt: view,
      promptDirty: false,
      plan: await readRunPlan(this.promptUri, prompt),
      token: { status: 'unknown', account: null, demoAvailable: false },
      run: null,
      history: [],
    };
  }

  /** Pushes fresh state when the prompt file or the settings change. */
  private watchInputs(): vscode.Disposable[] {
    const folder = vscode.Uri.joinPath(this.promptUri, '..');
    const name = posix.basename(this.promptUri.path);
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, name));
    const refresh = () => void this.pushState();
    return [
      watcher,
      watcher.onDidChange(refresh),
      watcher.onDidCreate(refresh),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('contactSheet', this.promptUri)) refresh();
      }),
    ];
  }

  private async pushState(): Promise<void> {
    try {
      this.endpoint.sendEvent({ type: 'panel/state', state: await this.loadState() });
    } catch (e) {
      this.services.logger.warn(`Could not refresh the results panel: ${toContactSheetError(e).message}`);
    }
  }

  private onEvent(event: FromWebviewEvent): void {
    switch (event.type) {
      case 'webview/log':
        this.services.logger[event.level](`[webview] ${String(event.message)}`);
        return;
      case 'webview/invalidMessage':
        this.services.logger.warn(`Results panel: the webview ignored a message (${event.messageType ?? 'no type'}: ${event.reason}).`);
        return;
      case 'image/shown':
        this.services.logger.debug(`Results panel: image ${event.index} of ${event.runId} shown (${event.variant}).`);
        return;
      default:
        this.services.logger.warn('Results panel: unknown event from the webview.');
    }
  }

  private dispose(): void {
    if (ResultsPanel.openPanels.get(this.promptUri.toString()) === this) {
      ResultsPanel.openPanels.delete(this.promptUri.toString());
    }
    this.endpoint.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** Requests the run controller will answer; until then they settle with an explanation. */
function notInThisBuild(): never {
  throw new ContactSheetError('internal', 'Image generation is not part of this build yet.', {
    action: 'Use the contact-sheet command line tool for now.',
  });
}

function panelTitle(promptUri: vscode.Uri): string {
  return `Contact Sheet: ${posix.basename(promptUri.path)}`;
}
