import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Logger } from '../../core/log';

/** What a DEMO engine is pointed at: everything local, nothing billed. */
export interface DemoEndpoints {
  apiBaseUrl: string;
  token: string;
  hubEndpoint: string;
  manifestPath: string;
  modelsDir: string;
}

/** Time from create to result on the DEMO's fake Replicate: slow enough to watch the grid fill in. */
const DEMO_PROCESSING_MS = 1500;

/**
 * The labelled DEMO, as `npm run demo` does it without a token: a fake Replicate server on
 * 127.0.0.1 (synthetic images, deterministic per prompt and seed) and tiny random-weight scoring
 * models of the real architectures, made once into the extension's global storage and served by a
 * local hub, so the run goes through the production download → convert → score path. Started on
 * first use, stopped when the extension deactivates. Its scores mean nothing; every face says so.
 */
export class DemoSandbox implements vscode.Disposable {
  private started: Promise<{ endpoints: DemoEndpoints; close(): Promise<void> }> | undefined;

  constructor(
    private readonly storage: vscode.Uri,
    private readonly logger: Logger,
  ) {}

  endpoints(): Promise<DemoEndpoints> {
    this.started ??= this.start().catch((e) => {
      this.started = undefined;
      throw e;
    });
    return this.started.then((s) => s.endpoints);
  }

  private async start(): Promise<{ endpoints: DemoEndpoints; close(): Promise<void> }> {
    const root = join(this.storage.fsPath, 'demo');
    // Loaded on first DEMO only: the sandbox brings sharp and the tiny-model maker.
    const [{ startFakeReplicate }, { startHubServer }, { makeTinyModels }] = await Promise.all([
      import('../../sandbox/fakeReplicate/server'),
      import('../../sandbox/hub/server'),
      import('../../sandbox/tinyModels/makeTinyModels'),
    ]);
    const tinyDir = join(root, 'tiny');
    const manifestPath = join(tinyDir, 'manifest.json');
    if (!existsSync(manifestPath)) {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Contact Sheet DEMO: making the tiny scoring models (first use)' }, async () => {
        await mkdir(tinyDir, { recursive: true });
        await makeTinyModels(tinyDir);
      });
    }
    const hub = await startHubServer(join(tinyDir, 'hub'));
    const fake = await startFakeReplicate({ processingMs: DEMO_PROCESSING_MS });
    this.logger.info(`DEMO: fake Replicate on ${fake.url}, tiny scoring models served from ${hub.url}.`);
    return {
      endpoints: { apiBaseUrl: fake.url, token: fake.token, hubEndpoint: hub.url, manifestPath, modelsDir: join(root, 'models') },
      close: async () => {
        await fake.close();
        await hub.close();
      },
    };
  }

  dispose(): void {
    const started = this.started;
    this.started = undefined;
    void started?.then((s) => s.close()).catch(() => undefined);
  }
}
