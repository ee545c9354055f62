import { join } from 'node:path';
import * as vscode from 'vscode';
import { resolveModelsDir } from '../../core/models/modelsDir';
import { parseApiBaseUrl } from './apiBaseUrl';

/** The settings that shape the engine itself (one long-lived engine per distinct set). */
export interface EngineSettings {
  apiBaseUrl: string;
  modelsDir: string;
  hubEndpoint: string | undefined;
  lowMemory: boolean;
  executionProviders: string[];
}

export function readEngineSettings(globalStorage: vscode.Uri, config = vscode.workspace.getConfiguration('contactSheet')): EngineSettings {
  const providers = config.get<unknown>('scoring.executionProviders');
  return {
    apiBaseUrl: parseApiBaseUrl(config.get<string>('apiBaseUrl')),
    modelsDir: scoringModelsDir(globalStorage, config),
    hubEndpoint: config.get<string>('scoring.hubEndpoint')?.trim() || undefined,
    lowMemory: config.get<boolean>('scoring.lowMemory', false),
    executionProviders: Array.isArray(providers) && providers.length && providers.every((p) => typeof p === 'string') ? (providers as string[]) : ['cpu'],
  };
}

/** The scoring models' folder: the setting, else $CONTACT_SHEET_MODELS_DIR, else the extension's global storage. */
export function scoringModelsDir(globalStorage: vscode.Uri, config = vscode.workspace.getConfiguration('contactSheet')): string {
  const configured = config.get<string>('scoring.modelsDir');
  // Only when needed: a configured folder makes the global storage irrelevant.
  if (configured?.trim()) return resolveModelsDir({ configured });
  return resolveModelsDir({ faceDefault: join(globalStorage.fsPath, 'models') });
}
