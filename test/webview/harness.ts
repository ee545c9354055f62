/**
 * Runs the real webview bundle in a real Chromium: the bundle is built with the production
 * esbuild options, served with the production HTML shell and CSP (webviewShell.ts) from a local
 * HTTP server, and talks to a FakeHost through an injected acquireVsCodeApi. The FakeHost sees
 * every envelope the webview posts, answers its requests, and sends host messages in envelopes
 * exactly as MessageEndpoint would.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { webviewShellHtml } from '../../src/extension/panel/webviewShell';
import type { FromWebviewRequests, ToWebviewEvent } from '../../src/shared/protocol';
import type { FixtureUris } from '../support/panelFixture';
import { imageName, thumbnailName, writeFixtureImages } from './fixtureImages';
import type { WebviewTheme } from './themes';

export const ROOT = resolve(__dirname, '..', '..');
export const OUTPUT_DIR = join(ROOT, 'test-output', 'webview');
const BUILD_DIR = join(OUTPUT_DIR, 'build');
const IMAGES_DIR = join(OUTPUT_DIR, 'run');

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.map': 'application/json',
  '.css': 'text/css',
  '.ttf': 'font/ttf',
  '.png': 'image/png',
  '.webp': 'image/webp',
};

interface EsbuildModule {
  build(options: object): Promise<void>;
  webviewBundle: object;
  copyCodicons(outdir: string): void;
}

/** Builds dist/webview.js and the codicons into test-output (the production options, with source maps). */
export async function buildWebview(): Promise<void> {
  mkdirSync(BUILD_DIR, { recursive: true });
  // esbuild.mjs is ESM; import() it through a file URL so tsx's CommonJS transform leaves it alone.
  const load = new Function('url', 'return import(url)') as (url: string) => Promise<EsbuildModule>;
  const esbuild = await load(pathToFileURL(join(ROOT, 'esbuild.mjs')).href);
  await esbuild.build({ ...esbuild.webviewBundle, outdir: BUILD_DIR, minify: false, sourcemap: 'linked', logLevel: 'warning' });
  esbuild.copyCodicons(BUILD_DIR);
}

export interface WebviewServer {
  origin: string;
  uris: FixtureUris;
  close(): Promise<void>;
}

/** Serves the panel document and its resources the way a webview gets them (one origin = cspSource). */
export async function startServer(imageCount = 8): Promise<WebviewServer> {
  await writeFixtureImages(IMAGES_DIR, imageCount);
  const files: Record<string, string> = {
    '/dist/webview.js': join(BUILD_DIR, 'webview.js'),
    '/dist/webview.js.map': join(BUILD_DIR, 'webview.js.map'),
    '/dist/codicons/codicon.css': join(BUILD_DIR, 'codicons', 'codicon.css'),
    '/dist/codicons/codicon.ttf': join(BUILD_DIR, 'codicons', 'codicon.ttf'),
    '/media/webview.css': join(ROOT, 'media', 'webview.css'),
  };
  let origin = '';
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/') {
      const html = webviewShellHtml({
        cspSource: origin,
        nonce: randomBytes(18).toString('base64'),
        scriptUri: `${origin}/dist/webview.js`,
        styleUris: [`${origin}/dist/codicons/codicon.css`, `${origin}/media/webview.css`],
      });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
      return;
    }
    let file = files[path];
    if (!file && path.startsWith('/run/')) {
      const candidate = normalize(join(IMAGES_DIR, path.slice('/run/'.length)));
      if (candidate.startsWith(IMAGES_DIR)) file = candidate;
    }
    if (!file || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    uris: { thumbnail: (i) => `${origin}/run/${thumbnailName(i)}`, full: (i) => `${origin}/run/${imageName(i)}` },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export interface Environment {
  server: WebviewServer;
  browser: Browser;
}

let environment: Promise<Environment> | undefined;

/** The built bundle, the server and Chromium, made once for all test files (closed by hooks.ts). */
export function sharedEnvironment(): Promise<Environment> {
  environment ??= (async () => {
    await buildWebview();
    const [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    return { server, browser };
  })();
  return environment;
}

export async function closeSharedEnvironment(): Promise<void> {
  if (!environment) return;
  const { server, browser } = await environment;
  environment = undefined;
  await browser.close().catch(() => undefined);
  await server.close();
}

export async function launchBrowser(): Promise<Browser> {
  const load = new Function('url', 'return import(url)') as (url: string) => Promise<{ launchChromium(): Promise<Browser> }>;
  const codeServer = await load(pathToFileURL(join(ROOT, 'scripts', 'codeServer.mjs')).href);
  return codeServer.launchChromium();
}

// ---------------------------------------------------------------------------------------------

interface Envelope {
  kind: string;
  id?: number;
  inReplyTo?: number;
  body?: { type: string; [key: string]: unknown };
}

type Handler = (request: never) => unknown;
export type HostHandlers = { [K in keyof FromWebviewRequests]?: (request: FromWebviewRequests[K][0]) => FromWebviewRequests[K][1] | Promise<FromWebviewRequests[K][1]> };

/** Thrown by a handler to answer with an error envelope (as a ContactSheetError would serialize). */
export class HostError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly action?: string,
  ) {
    super(message);
  }
}

export interface PanelOptions {
  theme: WebviewTheme;
  handlers?: HostHandlers;
  /** What getState() returns at load (the persisted identity after a reload). */
  persisted?: unknown;
  reducedMotion?: boolean;
  viewport?: { width: number; height: number };
}

/** The extension host as the webview sees it, driven by the test. */
export class FakeHost {
  /** Every envelope the webview posted, in order. */
  readonly received: Envelope[] = [];
  private nextId = 1_000;

  constructor(
    readonly page: Page,
    private readonly handlers: HostHandlers,
  ) {}

  /** Replaces or adds request handlers. */
  handle(handlers: HostHandlers): void {
    Object.assign(this.handlers, handlers);
  }

  async receive(raw: Envelope): Promise<void> {
    this.received.push(raw);
    if (raw.kind !== 'request' || raw.id === undefined || !raw.body) return;
    const handler = (this.handlers as Record<string, Handler | undefined>)[raw.body.type];
    if (!handler) return; // left pending: the test answers with respond()
    try {
      await this.respond(raw.id, await handler(raw.body as never));
    } catch (e) {
      const error = e instanceof HostError ? { code: e.code, message: e.message, ...(e.action ? { action: e.action } : {}) } : { code: 'internal', message: String(e) };
      await this.post({ kind: 'response', inReplyTo: raw.id, ok: false, error });
    }
  }

  async respond(id: number, body: unknown): Promise<void> {
    await this.post({ kind: 'response', inReplyTo: id, ok: true, body });
  }

  async send(event: ToWebviewEvent): Promise<void> {
    await this.post({ kind: 'event', body: event });
  }

  async sendRequest(body: { type: string }): Promise<number> {
    const id = this.nextId++;
    await this.post({ kind: 'request', id, body });
    return id;
  }

  /** Posts anything at all to the webview, as window.postMessage from the host frame would. */
  async post(raw: unknown): Promise<void> {
    await this.page.evaluate((m) => window.postMessage(m, '*'), raw);
  }

  events<T = Record<string, unknown>>(type: string): T[] {
    return this.received.filter((e) => e.kind === 'event' && e.body?.type === type).map((e) => e.body as T);
  }

  requests<K extends keyof FromWebviewRequests>(type: K): (FromWebviewRequests[K][0] & { id: number })[] {
    return this.received.filter((e) => e.kind === 'request' && e.body?.type === type).map((e) => ({ ...(e.body as FromWebviewRequests[K][0]), id: e.id! }));
  }

  /** Waits (polling, bounded) until `find` returns something. */
  async waitFor<T>(what: string, find: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received: ${this.received.map((e) => e.body?.type ?? e.kind).join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  waitForEvent<T = Record<string, unknown>>(type: string, match: (e: T) => boolean = () => true, timeoutMs?: number): Promise<T> {
    return this.waitFor(`event ${type}`, () => this.events<T>(type).find(match), timeoutMs);
  }

  waitForRequest<K extends keyof FromWebviewRequests>(type: K, match: (r: FromWebviewRequests[K][0]) => boolean = () => true, timeoutMs?: number) {
    return this.waitFor(`request ${type}`, () => this.requests(type).find(match), timeoutMs);
  }

  /** CSP violations the page reported (the panel must cause none). */
  cspViolations(): Promise<string[]> {
    return this.page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
  }

  /** What the webview last passed to setState. */
  persisted(): Promise<unknown> {
    return this.page.evaluate(() => (window as unknown as { __persisted: unknown }).__persisted);
  }
}

/**
 * Runs in the page before the bundle: the fake acquireVsCodeApi (posts go to the FakeHost through
 * the __hostReceive binding), the theme variables and body class (as CSSOM: VS Code sets them so
 * and the CSP allows it), and a CSP violation log. A string, because tsx rewrites functions it
 * compiles with helpers the page does not have.
 */
const INIT_SCRIPT = `function ({ persisted, theme }) {
  window.__persisted = persisted === null ? undefined : persisted;
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => window.__hostReceive(m),
    getState: () => window.__persisted,
    setState: (s) => { window.__persisted = s; },
  });
  const apply = () => {
    for (const [name, value] of Object.entries(theme.vars)) document.documentElement.style.setProperty(name, value);
    document.body.classList.add(theme.bodyClass);
  };
  if (document.body) apply(); else document.addEventListener('DOMContentLoaded', apply);
}`;

/** Opens the panel in a fresh context with a theme and a FakeHost; resolves once the first render is done. */
export async function openPanel(browser: Browser, server: WebviewServer, options: PanelOptions): Promise<{ context: BrowserContext; page: Page; host: FakeHost }> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1400, height: 1000 },
    reducedMotion: options.reducedMotion ? 'reduce' : 'no-preference',
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  const host = new FakeHost(page, { ...(options.handlers ?? {}) });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  if (process.env.WEBVIEW_TEST_DEBUG) page.on('console', (m) => console.log(`[page] ${m.type()}: ${m.text()}`));
  (host as unknown as { pageErrors: string[] }).pageErrors = pageErrors;
  await page.exposeBinding('__hostReceive', (_source, message: Envelope) => host.receive(message));
  await page.addInitScript(`(${INIT_SCRIPT})(${JSON.stringify({ persisted: options.persisted ?? null, theme: options.theme })});`);
  await page.goto(server.origin + '/');
  try {
    await page.waitForSelector('#app[aria-busy=false]', { timeout: 15_000 });
  } catch (e) {
    throw new Error(`the panel did not render: ${(e as Error).message}\npage errors: ${pageErrors.join(' | ')}\nreceived: ${JSON.stringify(host.received).slice(0, 2000)}`);
  }
  return { context, page, host };
}

export function pageErrors(host: FakeHost): string[] {
  return (host as unknown as { pageErrors: string[] }).pageErrors;
}
