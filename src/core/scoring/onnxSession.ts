/**
 * onnxruntime-node sessions with the project's options: CPU first, execution providers
 * configurable (e.g. ["cuda", "cpu"] on a machine whose onnxruntime build has CUDA).
 */
import type { InferenceSession } from 'onnxruntime-node';
import { ContactSheetError } from '../../shared/errors';

export interface SessionSettings {
  executionProviders: string[];
  /** 0 lets onnxruntime pick (all cores). */
  intraOpNumThreads: number;
}

type Ort = typeof import('onnxruntime-node');
let ortModule: Ort | undefined;

/** Loads onnxruntime-node on first use only, so activation and the CLI's --help stay fast. */
export function ort(): Ort {
  if (!ortModule) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ortModule = require('onnxruntime-node') as Ort;
  }
  return ortModule;
}

const DEFAULT_LOAD_ACTION =
  'Delete the converted model folder (it is rebuilt from the downloaded weights) or check scoring.executionProviders.';

/** Opens a graph; a file onnxruntime cannot load becomes a 'model-format' error with `action`. */
export async function createSession(path: string, settings: SessionSettings, action = DEFAULT_LOAD_ACTION): Promise<InferenceSession> {
  const options: InferenceSession.SessionOptions = {
    executionProviders: settings.executionProviders.length ? settings.executionProviders : ['cpu'],
    graphOptimizationLevel: 'all',
    ...(settings.intraOpNumThreads > 0 ? { intraOpNumThreads: settings.intraOpNumThreads } : {}),
  };
  try {
    return await ort().InferenceSession.create(path, options);
  } catch (e) {
    throw new ContactSheetError('model-format', `onnxruntime could not load ${path}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      action,
    });
  }
}
