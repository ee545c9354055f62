import * as vscode from 'vscode';
import type { Engine, EngineOptions } from '../../core/engine';
import type { Logger } from '../../core/log';
import { ContactSheetError } from '../../shared/errors';
import type { ApiTokenStore } from '../apiTokenStore';
import type { ScoringModelsSource } from '../commands/downloadModels';
import { readEngineSettings } from '../settings/engineSettings';
import { DemoSandbox } from './demoSandbox';
import type { ScoringModelsLocation } from './scoringModelsDownload';

/** An engine lent to one run (or one token check); release it when done. */
export interface EngineLease {
  engine: Engine;
  demo: boolean;
  /** Where this engine's scoring models live (for the shared download path). */
  models: ScoringModelsLocation;
  release(): void;
}

interface HeldEngine {
  key: string;
  engine: Engine;
  models: ScoringModelsLocation;
  leases: number;
  stale: boolean;
}

/**
 * The extension's long-lived engines, made through the front door on first use: one for Replicate
 * and one for the DEMO, each keeping its scorer (models loaded) across runs. A settings change
 * that shapes the engine (API URL, models folder, hub, low memory, execution providers) makes a new
 * one; the old one is disposed once its last run ends. dispose() (deactivate) closes them all.
 */
export class EngineHost implements vscode.Disposable {
  private readonly held = new Map<'replicate' | 'demo', HeldEngine>();
  private readonly retired = new Set<HeldEngine>();
  private readonly demoSandbox: DemoSandbox;

  constructor(
    private readonly deps: {
      globalStorage: vscode.Uri;
      apiTokens: ApiTokenStore;
      logger: Logger;
      /** Where the scoring models are described (tests point it at their tiny models). */
      scoringModels: ScoringModelsSource;
    },
  ) {
    this.demoSandbox = new DemoSandbox(deps.globalStorage, deps.logger);
  }

  /** The engine for a run: Replicate with the stored token, or the labelled DEMO. */
  async lease(kind: 'replicate' | 'demo'): Promise<EngineLease> {
    const { options, models } = kind === 'demo' ? await this.demoOptions() : this.replicateOptions();
    const key = JSON.stringify({ ...options, token: typeof options.token === 'string' ? options.token : 'stored' });
    let held = this.held.get(kind);
    if (held && held.key !== key) {
      this.retire(held);
      held = undefined;
    }
    if (!held) {
      // The engine and everything under it load here, on the first run, never at activation.
      const { createEngine } = await import('../../core/engine');
      held = { key, engine: createEngine({ ...options, keepScorerLoaded: true, logger: this.deps.logger }), models, leases: 0, stale: false };
      this.held.set(kind, held);
    }
    held.leases++;
    const lent = held;
    let released = false;
    return {
      engine: lent.engine,
      demo: kind === 'demo',
      models: lent.models,
      release: () => {
        if (released) return;
        released = true;
        lent.leases--;
        if (lent.stale && lent.leases === 0) this.close(lent);
      },
    };
  }

  /** A throwaway engine that checks `token` (Set Token verifies before storing). */
  async checkToken(token: string, signal?: AbortSignal): Promise<{ username: string }> {
    const { createEngine } = await import('../../core/engine');
    const { options } = this.replicateOptions();
    return createEngine({ ...options, token, logger: this.deps.logger }).checkToken({ signal });
  }

  private replicateOptions(): { options: EngineOptions; models: ScoringModelsLocation } {
    const settings = readEngineSettings(this.deps.globalStorage);
    const manifestPath = this.deps.scoringModels.manifestPath;
    const models: ScoringModelsLocation = {
      modelsDir: settings.modelsDir,
      ...(settings.hubEndpoint ? { hubEndpoint: settings.hubEndpoint } : {}),
      ...(manifestPath ? { manifestPath } : {}),
    };
    return {
      models,
      options: {
        token: () => this.storedToken(),
        apiBaseUrl: settings.apiBaseUrl,
        ...models,
        lowMemory: settings.lowMemory,
        executionProviders: settings.executionProviders,
      },
    };
  }

  private async demoOptions(): Promise<{ options: EngineOptions; models: ScoringModelsLocation }> {
    const settings = readEngineSettings(this.deps.globalStorage);
    const demo = await this.demoSandbox.endpoints();
    const models: ScoringModelsLocation = { modelsDir: demo.modelsDir, hubEndpoint: demo.hubEndpoint, manifestPath: demo.manifestPath };
    return {
      models,
      options: { token: demo.token, apiBaseUrl: demo.apiBaseUrl, demo: true, ...models, lowMemory: settings.lowMemory, executionProviders: settings.executionProviders },
    };
  }

  private async storedToken(): Promise<string> {
    const token = await this.deps.apiTokens.get();
    if (!token) {
      throw new ContactSheetError('token-missing', 'No Replicate API token is set.', {
        action: 'Run "Contact Sheet: Set Replicate API Token" (create a token at https://replicate.com/account/api-tokens), or run the DEMO.',
      });
    }
    return token;
  }

  private retire(held: HeldEngine): void {
    for (const [kind, h] of this.held) if (h === held) this.held.delete(kind);
    held.stale = true;
    if (held.leases === 0) this.close(held);
    else this.retired.add(held);
  }

  private close(held: HeldEngine): void {
    this.retired.delete(held);
    held.engine.dispose().catch((e) => this.deps.logger.warn(`Could not close a scoring session: ${(e as Error).message}`));
  }

  /** Closes every engine's scorer and the DEMO's servers (deactivate). */
  async disposeAsync(): Promise<void> {
    const all = [...this.held.values(), ...this.retired];
    this.held.clear();
    this.retired.clear();
    this.demoSandbox.dispose();
    await Promise.allSettled(all.map((h) => h.engine.dispose()));
  }

  dispose(): void {
    void this.disposeAsync();
  }
}
