/**
 * What the run tests share, all real and local: the sandbox's fake Replicate (real HTTP on
 * 127.0.0.1) and hub server with tiny random-weight scoring models, the extension's settings
 * pointed at them (contactSheet.apiBaseUrl, scoring.hubEndpoint, scoring.modelsDir), the fake's
 * token in the extension's real SecretStorage, and recorders for what the user could see: every
 * message posted to a webview, every toast (with scripted answers), and the log channel's file.
 */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as vscode from 'vscode';
import type { ContactSheetTestApi } from '../../../src/extension/extension';
import type { Notifier } from '../../../src/extension/notifier';
import type { Envelope, ToWebviewEvent } from '../../../src/shared/protocol';
import { startFakeReplicate, type FakeReplicate, type FakeReplicateOptions } from '../../../src/sandbox/fakeReplicate/server';
import { startHubServer, type HubServer } from '../../../src/sandbox/hub/server';
import { makeTinyModels, type TinyModels } from '../../../src/sandbox/tinyModels/makeTinyModels';
import { until, workspaceRoot } from './extensionApi';

/** A token that matches no redaction pattern: only the extension's own care keeps it out of sight. */
export const SECRET_TOKEN = `cs-it-${Math.random().toString(36).slice(2)}-secret`;

export interface Toast {
  level: 'info' | 'warn' | 'error';
  message: string;
  actions: string[];
}

export interface Posted {
  promptUri: string;
  message: Envelope<unknown>;
}

/** Settings the tests change; reset after each test. */
export const TEST_SETTINGS = [
  'apiBaseUrl',
  'scoring.hubEndpoint',
  'scoring.modelsDir',
  'askForOptions',
  'numVariations',
  'seed',
  'aspectRatio',
  'model',
  'fallbackModels',
  'weights',
  'concurrency',
  'budgetLimitUsd',
  'outputFolder',
  'scoring.precision',
  'scoring.vqascore',
  'scoring.lowMemory',
  'scoring.executionProviders',
] as const;

export class RunWorld {
  readonly posted: Posted[] = [];
  readonly toasts: Toast[] = [];
  /** Answers for toasts whose message matches, in order of use. */
  private readonly answers: { match: RegExp; answer: string }[] = [];
  private readonly subscriptions: vscode.Disposable[] = [];
  private promptCount = 0;
  private realNotifier: Notifier | undefined;

  private constructor(
    readonly api: ContactSheetTestApi,
    readonly root: string,
    readonly tiny: TinyModels,
    readonly hub: HubServer,
    readonly fake: FakeReplicate,
    readonly modelsDir: string,
    /** Where this run of the tests keeps its prompts, inside the workspace. */
    readonly promptsDir: vscode.Uri,
  ) {}

  static async start(api: ContactSheetTestApi, fakeOptions: FakeReplicateOptions = { processingMs: 300 }): Promise<RunWorld> {
    const root = await fs.mkdtemp(join(tmpdir(), 'cs-int-run-'));
    await fs.mkdir(join(root, 'tiny'));
    const tiny = await makeTinyModels(join(root, 'tiny'));
    const hub = await startHubServer(tiny.hubRoot);
    const fake = await startFakeReplicate({ ...fakeOptions, token: SECRET_TOKEN });
    const promptsDir = vscode.Uri.joinPath(workspaceRoot(), `it-runs-${Date.now()}`);
    await fs.mkdir(promptsDir.fsPath, { recursive: true });
    const world = new RunWorld(api, root, tiny, hub, fake, join(root, 'models'), promptsDir);
    await world.pointAt(fake);
    // code-server saves after a second by default (VS Code on the web); the tests need unsaved edits to stay unsaved.
    await vscode.workspace.getConfiguration('files').update('autoSave', 'off', vscode.ConfigurationTarget.Workspace);
    // The manifest is no setting (no caller may redirect downloads); the tests' tiny one goes in here.
    api.services.scoringModels.manifestPath = tiny.manifestPath;
    await api.services.apiTokens.set(SECRET_TOKEN);
    world.record();
    return world;
  }

  /** The extension's settings pointed at this world (and a fake), as a user would set them. */
  async pointAt(fake: FakeReplicate): Promise<void> {
    await this.set('apiBaseUrl', fake.url);
    await this.set('scoring.hubEndpoint', this.hub.url);
    await this.set('scoring.modelsDir', this.modelsDir);
    await this.set('askForOptions', false);
  }

  async set(key: (typeof TEST_SETTINGS)[number], value: unknown): Promise<void> {
    await vscode.workspace.getConfiguration('contactSheet').update(key, value, vscode.ConfigurationTarget.Workspace);
  }

  async resetSettings(): Promise<void> {
    const config = vscode.workspace.getConfiguration('contactSheet');
    for (const key of TEST_SETTINGS) if (config.inspect(key)?.workspaceValue !== undefined) await config.update(key, undefined, vscode.ConfigurationTarget.Workspace);
    await this.pointAt(this.fake);
  }

  /** Writes a fresh prompt file (its own folder, so its runs are its own). */
  async prompt(name: string, content: string): Promise<vscode.Uri> {
    const dir = vscode.Uri.joinPath(this.promptsDir, `p${++this.promptCount}`);
    await fs.mkdir(dir.fsPath, { recursive: true });
    const uri = vscode.Uri.joinPath(dir, name);
    await fs.writeFile(uri.fsPath, content);
    return uri;
  }

  /** The next toast matching `match` is answered with `answer` (otherwise toasts are dismissed). */
  answerToast(match: RegExp, answer: string): void {
    this.answers.push({ match, answer });
  }

  /** Events posted to the webview of `promptUri`, in order. */
  events(promptUri: vscode.Uri): ToWebviewEvent[] {
    return this.posted.flatMap((p) => (p.promptUri === promptUri.toString() && p.message.kind === 'event' ? [p.message.body as ToWebviewEvent] : []));
  }

  async waitForEvent<T extends ToWebviewEvent['type']>(promptUri: vscode.Uri, type: T, test: (e: Extract<ToWebviewEvent, { type: T }>) => boolean = () => true, timeoutMs = 90_000): Promise<Extract<ToWebviewEvent, { type: T }>> {
    return until(`${type} for ${vscode.workspace.asRelativePath(promptUri)}`, () =>
      this.events(promptUri).find((e): e is Extract<ToWebviewEvent, { type: T }> => e.type === type && test(e as Extract<ToWebviewEvent, { type: T }>)),
    timeoutMs);
  }

  /** Sends a request as the webview would, and resolves with the panel's answer. */
  async request(promptUri: vscode.Uri, body: { type: string } & Record<string, unknown>): Promise<{ ok: boolean; body?: unknown; error?: { code: string; message: string } }> {
    const panel = this.api.panel(promptUri);
    if (!panel) throw new Error(`no panel for ${promptUri.toString()}`);
    const id = 100_000 + Math.floor(Math.random() * 1e9);
    panel.receive({ kind: 'request', id, body });
    const response = await until(`the answer to ${body.type}`, () =>
      this.posted.find((p) => p.message.kind === 'response' && p.message.inReplyTo === id),
    );
    const message = response.message as { ok: boolean; body?: unknown; error?: { code: string; message: string } };
    return message;
  }

  /** The single run folder under `parent` (a prompt's `<stem>.images` or an output folder). */
  async runDirs(parent: string): Promise<string[]> {
    const names = (await fs.readdir(parent, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => join(parent, d.name));
    return names.sort();
  }

  /** Every file under `dir`, relative, hidden ones included. */
  async files(dir: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (d: string) => {
      for (const entry of await fs.readdir(d, { withFileTypes: true })) {
        const full = join(d, entry.name);
        if (entry.isDirectory()) await walk(full);
        else out.push(relative(dir, full));
      }
    };
    await walk(dir);
    return out.sort();
  }

  /** The "Contact Sheet" log channel's file, as VS Code wrote it. */
  async logText(): Promise<string> {
    const logsRoot = join(this.api.services.context.logUri.fsPath, '..', '..');
    const found: string[] = [];
    const walk = async (d: string, depth: number) => {
      if (depth > 4) return;
      for (const entry of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
        const full = join(d, entry.name);
        if (entry.isDirectory()) await walk(full, depth + 1);
        else if (/Contact Sheet\.log$/.test(entry.name)) found.push(full);
      }
    };
    await walk(logsRoot, 0);
    if (!found.length) throw new Error(`no "Contact Sheet" log file under ${logsRoot}`);
    return (await Promise.all(found.map((f) => fs.readFile(f, 'utf8')))).join('\n');
  }

  private record(): void {
    this.subscriptions.push(this.api.onDidPostToWebview(({ promptUri, message }) => this.posted.push({ promptUri: promptUri.toString(), message: structuredClone(message) })));
    const services = this.api.services;
    this.realNotifier = services.notifier;
    const toast =
      (level: Toast['level']) =>
      (message: string, ...actions: string[]): Thenable<string | undefined> => {
        this.toasts.push({ level, message, actions });
        const i = this.answers.findIndex((a) => a.match.test(message));
        const answer = i >= 0 ? this.answers.splice(i, 1)[0].answer : undefined;
        return Promise.resolve(answer);
      };
    services.notifier = { info: toast('info'), warn: toast('warn'), error: toast('error') };
  }

  async close(): Promise<void> {
    for (const s of this.subscriptions.splice(0)) s.dispose();
    if (this.realNotifier) this.api.services.notifier = this.realNotifier;
    delete this.api.services.scoringModels.manifestPath;
    await this.resetSettings();
    for (const key of ['apiBaseUrl', 'scoring.hubEndpoint', 'scoring.modelsDir', 'askForOptions'] as const) {
      await vscode.workspace.getConfiguration('contactSheet').update(key, undefined, vscode.ConfigurationTarget.Workspace);
    }
    await vscode.workspace.getConfiguration('files').update('autoSave', undefined, vscode.ConfigurationTarget.Workspace);
    await this.api.services.apiTokens.clear();
    await this.fake.close();
    await this.hub.close();
    await fs.rm(this.root, { recursive: true, force: true });
  }
}
