/** Where the scoring models live when nobody says otherwise (the CLI's default; VS Code uses global storage). */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const MODELS_DIR_ENV = 'CONTACT_SHEET_MODELS_DIR';

export function defaultModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[MODELS_DIR_ENV];
  if (fromEnv && fromEnv.trim()) return resolve(fromEnv);
  const cacheHome = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.trim() ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(cacheHome, 'contact-sheet', 'models');
}
