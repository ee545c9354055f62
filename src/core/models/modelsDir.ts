/**
 * Where the scoring models live: the one rule every face uses (the CLI's score, generate, resume
 * and models commands; the extension), so that they all find the same downloads.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const MODELS_DIR_ENV = 'CONTACT_SHEET_MODELS_DIR';

export interface ModelsDirSources {
  /** What the user named: --models-dir, or the extension's scoring.modelsDir setting. */
  configured?: string;
  env?: NodeJS.ProcessEnv;
  /** Relative paths are taken from here. */
  cwd?: string;
  /** A face's own default before the shared cache (the extension's global storage). */
  faceDefault?: string;
}

/**
 * The first that is set: the configured folder, $CONTACT_SHEET_MODELS_DIR, the face's own default,
 * then `$XDG_CACHE_HOME/contact-sheet/models` (~/.cache when XDG_CACHE_HOME is unset).
 */
export function resolveModelsDir(sources: ModelsDirSources = {}): string {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const configured = sources.configured?.trim();
  if (configured) return resolve(cwd, configured);
  const fromEnv = env[MODELS_DIR_ENV]?.trim();
  if (fromEnv) return resolve(cwd, fromEnv);
  if (sources.faceDefault) return sources.faceDefault;
  const cacheHome = env.XDG_CACHE_HOME?.trim() || join(homedir(), '.cache');
  return join(cacheHome, 'contact-sheet', 'models');
}

/** The folder when no flag or setting names one. */
export function defaultModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolveModelsDir({ env });
}
