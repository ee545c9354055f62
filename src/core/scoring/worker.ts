/**
 * Scoring worker entry (bundled as dist/scoringWorker.js): owns the ScoringEngine and its ONNX
 * sessions so scoring, which saturates both cores, never blocks the extension host's thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toContactSheetError } from '../errors';
import type { Logger } from '../log';
import { ScoringEngine } from './engine';
import type { WorkerData, WorkerReply, WorkerRequest } from './workerProtocol';

function post(reply: WorkerReply): void {
  parentPort?.postMessage(reply);
}

function workerLogger(): Logger {
  const at = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') => (message: string) => post({ type: 'log', level, message });
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

if (parentPort) {
  const { config } = workerData as WorkerData;
  const engine = new ScoringEngine(config, { logger: workerLogger(), onProgress: (progress) => post({ type: 'progress', progress }) });
  const aborts = new Map<number, AbortController>();

  parentPort.on('message', async (req: WorkerRequest) => {
    if (req.method === 'cancel') {
      aborts.get(req.target)?.abort();
      return;
    }
    const controller = new AbortController();
    aborts.set(req.id, controller);
    try {
      let value: WorkerReply extends infer R ? (R extends { ok: true; value: infer V } ? V : never) : never;
      switch (req.method) {
        case 'setPrompt':
          value = await engine.setPrompt(req.prompt, controller.signal);
          break;
        case 'scoreImage':
          value = await engine.scoreImage(
            req.image.kind === 'file' ? Buffer.from(req.image.bytes.buffer, req.image.bytes.byteOffset, req.image.bytes.byteLength) : req.image,
            controller.signal,
          );
          break;
        case 'describe':
          value = engine.describe();
          break;
        case 'dispose':
          await engine.dispose();
          value = null;
          break;
      }
      post({ type: 'result', id: req.id, ok: true, value });
    } catch (e) {
      post({ type: 'result', id: req.id, ok: false, error: toContactSheetError(e, 'scoring-failed').toJSON() });
    } finally {
      aborts.delete(req.id);
    }
  });
}
