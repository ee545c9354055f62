/**
 * Opens one of SmolVLM's ONNX graphs in onnxruntime-node. onnxruntime is required on first use
 * only, so importing the scorer costs nothing until a model loads.
 */
import type { InferenceSession } from 'onnxruntime-node';

type Ort = typeof import('onnxruntime-node');
let ortModule: Ort | undefined;

export function ort(): Ort {
  if (!ortModule) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ortModule = require('onnxruntime-node') as Ort;
  }
  return ortModule;
}

export interface VqaSessionSettings {
  /** e.g. ["cpu"]; empty means CPU. */
  executionProviders: string[];
  /** 0 lets onnxruntime pick. */
  intraOpNumThreads: number;
}

export function createVqaSession(path: string, settings: VqaSessionSettings): Promise<InferenceSession> {
  return ort().InferenceSession.create(path, {
    executionProviders: settings.executionProviders.length ? settings.executionProviders : ['cpu'],
    graphOptimizationLevel: 'all',
    ...(settings.intraOpNumThreads > 0 ? { intraOpNumThreads: settings.intraOpNumThreads } : {}),
  });
}
