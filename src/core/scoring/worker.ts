/**
 * Scoring worker entry (bundled as dist/scoringWorker.js): owns the ScoringSession and its ONNX
 * sessions so scoring, which saturates both cores, never blocks the extension host's thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MessageEndpoint } from '../../shared/messageEndpoint';
import type { Logger } from '../log';
import { ScoringSession } from './scoringSession';
import type { NoRequests, ScoringWorkerEvent, ScoringWorkerRequests, WorkerData } from './workerProtocol';

if (parentPort) {
  const port = parentPort;
  const { config } = workerData as WorkerData;
  const endpoint = new MessageEndpoint<ScoringWorkerEvent, NoRequests, never, ScoringWorkerRequests>({
    post: (message) => port.postMessage(message),
    onEvent: () => undefined,
    handlerErrorCode: 'scoring-failed',
    requestHandlers: {
      'scoring/setPrompt': (req, _progress, signal) => session.setPrompt(req.prompt, signal),
      'scoring/scoreImage': (req, _progress, signal) => session.scoreImage(
          req.image.kind === 'file' ? Buffer.from(req.image.bytes.buffer, req.image.bytes.byteOffset, req.image.bytes.byteLength) : req.image,
          signal,
        ),
      'scoring/describe': () => session.describe(),
      'scoring/dispose': async () => {
        await session.dispose();
        return null;
      },
    },
  });
  const at = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') => (message: string) => endpoint.sendEvent({ type: 'scoring/log', level, message });
  const logger: Logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const session = new ScoringSession(config, { logger, onProgress: (progress) => endpoint.sendEvent({ type: 'scoring/progress', progress }) });
  port.on('message', (message: unknown) => endpoint.handleMessage(message));
}
