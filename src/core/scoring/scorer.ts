/**
 * The scorer the run pipeline and the faces use: the models live in a worker thread
 * (dist/scoringWorker.js beside the bundle) so that scoring never blocks the caller's event loop.
 * Tests and benches running from source say how to start the worker (startWorker).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { MessageEndpoint } from '../../shared/messageEndpoint';
import { ContactSheetError } from '../../shared/errors';
import { silentLogger, type Logger } from '../log';
import type { ImageScores, PromptScoringInfo, ScorerConfig, ScorerProgress } from './types';
import { isDecodedImage, type DecodedImage } from '../imageDecode';
import type { NoRequests, ScorerDescription, ScoringWorkerEvent, ScoringWorkerRequests, WorkerData, WorkerImage } from './workerProtocol';

export type { ScorerDescription } from './workerProtocol';

export interface Scorer {
  /**
   * Tokenises and embeds the prompt once per run, and starts making every enabled model ready
   * (download, conversion, load) so that this overlaps generation. Call it at run start.
   */
  setPrompt(prompt: string, signal?: AbortSignal): Promise<PromptScoringInfo>;
  /**
   * Scores one image against the prompt: a file's bytes (any format sharp reads) or pixels the
   * caller decoded already (the run does, so each image is decoded once).
   */
  scoreImage(image: Buffer | DecodedImage, signal?: AbortSignal): Promise<ImageScores>;
  describe(): Promise<ScorerDescription>;
  dispose(): Promise<void>;
}

/** Starts the worker thread that owns the models. */
export type StartScoringWorker = (data: WorkerData) => Worker;

export interface CreateScorerOptions {
  logger?: Logger;
  onProgress?: (p: ScorerProgress) => void;
  /** Default: dist/scoringWorker.js beside the running bundle. */
  startWorker?: StartScoringWorker;
}

export function createScorer(config: ScorerConfig, options: CreateScorerOptions = {}): Scorer {
  return new WorkerScorer(config, options);
}

/** The production worker: the bundle built next to this one by esbuild.mjs. */
export const startBundledScoringWorker: StartScoringWorker = (data) => {
  const file = join(__dirname, 'scoringWorker.js');
  if (!existsSync(file)) {
    throw new ContactSheetError('internal', `The scoring worker was not found next to ${__dirname}.`, { action: 'Rebuild Contact Sheet (npm run build).' });
  }
  return new Worker(file, { workerData: data });
};

const WORKER_FAILED_ACTION = 'See the log; try scoring.lowMemory or int8 precision if memory ran out.';

type WorkerEndpoint = MessageEndpoint<never, ScoringWorkerRequests, ScoringWorkerEvent, NoRequests>;

class WorkerScorer implements Scorer {
  private worker: Worker | undefined;
  private endpoint: WorkerEndpoint | undefined;
  private dead: ContactSheetError | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly config: ScorerConfig,
    private readonly options: CreateScorerOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  private start(): WorkerEndpoint {
    if (this.endpoint) return this.endpoint;
    const worker = (this.options.startWorker ?? startBundledScoringWorker)({ config: this.config });
    const endpoint: WorkerEndpoint = new MessageEndpoint({
      post: (message, transfer) => worker.postMessage(message, transfer),
      onEvent: (event) => {
        if (event.type === 'scoring/progress') this.options.onProgress?.(event.progress);
        else this.logger[event.level](event.message);
      },
      requestHandlers: {},
      // Model downloads and conversions take minutes; the worker's exit settles what is pending.
      timeoutMs: null,
      onStrayMessage: (_message, why) => this.logger.warn(`Scoring worker: ignored a message (${why}).`),
    });
    worker.on('message', (message: unknown) => endpoint.handleMessage(message));
    worker.on('error', (e) => this.fail(new ContactSheetError('scoring-failed', `The scoring worker crashed: ${e.message}`, { cause: e, action: WORKER_FAILED_ACTION })));
    worker.on('exit', (code) => {
      if (code !== 0) this.fail(new ContactSheetError('scoring-failed', `The scoring worker exited with code ${code}.`, { action: WORKER_FAILED_ACTION }));
      endpoint.dispose();
      if (this.endpoint === endpoint) {
        this.worker = undefined;
        this.endpoint = undefined;
      }
    });
    this.worker = worker;
    this.endpoint = endpoint;
    return endpoint;
  }

  private fail(err: ContactSheetError): void {
    this.dead = err;
    this.endpoint?.dispose(err);
  }

  private async call<K extends keyof ScoringWorkerRequests & string>(
    request: ScoringWorkerRequests[K][0] & { type: K },
    signal?: AbortSignal,
    transfer?: ArrayBuffer[],
  ): Promise<ScoringWorkerRequests[K][1]> {
    if (this.dead) throw this.dead;
    if (signal?.aborted) throw scoringCanceled();
    try {
      return await this.start().sendRequest<K>(request, { signal, transfer });
    } catch (e) {
      throw signal?.aborted && (e as ContactSheetError).code === 'canceled' ? scoringCanceled() : e;
    }
  }

  setPrompt(prompt: string, signal?: AbortSignal): Promise<PromptScoringInfo> {
    return this.call({ type: 'scoring/setPrompt', prompt }, signal);
  }

  scoreImage(image: Buffer | DecodedImage, signal?: AbortSignal): Promise<ImageScores> {
    // Copy into a transferable buffer: the caller keeps its own bytes or pixels.
    const source = isDecodedImage(image) ? image.data : image;
    const copy = new Uint8Array(source.byteLength);
    copy.set(source);
    const payload: WorkerImage = isDecodedImage(image)
      ? { kind: 'pixels', data: copy, width: image.width, height: image.height, channels: image.channels }
      : { kind: 'file', bytes: copy };
    return this.call({ type: 'scoring/scoreImage', image: payload }, signal, [copy.buffer]);
  }

  describe(): Promise<ScorerDescription> {
    return this.call({ type: 'scoring/describe' });
  }

  async dispose(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    try {
      await this.call({ type: 'scoring/dispose' });
    } catch {
      // The worker is going away either way.
    }
    this.endpoint?.dispose();
    this.worker = undefined;
    this.endpoint = undefined;
    await worker.terminate();
  }
}

function scoringCanceled(): ContactSheetError {
  return new ContactSheetError('canceled', 'Scoring was canceled.');
}
