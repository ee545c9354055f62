/**
 * The scorer the run pipeline and the faces use. By default the models live in a worker thread
 * (dist/scoringWorker.js, or worker.ts through tsx when running from source) so that scoring never
 * blocks the caller's event loop; `inProcess` runs the same engine on the caller's thread.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ContactSheetError, type SerializedError } from '../errors';
import { silentLogger, type Logger } from '../log';
import { ScoringEngine } from './engine';
import type { ImageScores, PromptScoringInfo, ScorerConfig, ScorerProgress } from './types';
import { isDecodedImage, type DecodedImage } from './imageDecode';
import type { ScorerDescription, WorkerData, WorkerImage, WorkerReply, WorkerRequest } from './workerProtocol';

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

export interface CreateScorerOptions {
  logger?: Logger;
  onProgress?: (p: ScorerProgress) => void;
  /** Run on the caller's thread instead of a worker (benches, debugging). */
  inProcess?: boolean;
}

export function createScorer(config: ScorerConfig, options: CreateScorerOptions = {}): Scorer {
  if (options.inProcess) {
    const engine = new ScoringEngine(config, options);
    return {
      setPrompt: (p, s) => engine.setPrompt(p, s),
      scoreImage: (b, s) => engine.scoreImage(b, s),
      describe: async () => engine.describe(),
      dispose: () => engine.dispose(),
    };
  }
  return new WorkerScorer(config, options);
}

/** Where the worker script is: beside the bundle, or the TypeScript source run through tsx. */
function workerEntry(): { file: string; execArgv: string[] } {
  const bundled = join(__dirname, 'scoringWorker.js');
  if (existsSync(bundled)) return { file: bundled, execArgv: [] };
  const source = join(__dirname, 'worker.ts');
  if (existsSync(source)) return { file: source, execArgv: ['--require', require.resolve('tsx/cjs')] };
  throw new ContactSheetError('internal', `The scoring worker was not found next to ${__dirname}.`, { action: 'Rebuild Contact Sheet (npm run build).' });
}

/** A worker request without its id (distributes over the union). */
type RequestBody = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

class WorkerScorer implements Scorer {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private dead: ContactSheetError | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly config: ScorerConfig,
    private readonly options: CreateScorerOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const { file, execArgv } = workerEntry();
    const data: WorkerData = { config: this.config };
    const worker = new Worker(file, { workerData: data, execArgv });
    worker.on('message', (msg: WorkerReply) => this.onMessage(msg));
    worker.on('error', (e) => this.fail(new ContactSheetError('scoring-failed', `The scoring worker crashed: ${e.message}`, { cause: e, action: 'See the log; try scoring.lowMemory or int8 precision if memory ran out.' })));
    worker.on('exit', (code) => {
      if (code !== 0) this.fail(new ContactSheetError('scoring-failed', `The scoring worker exited with code ${code}.`, { action: 'See the log; try scoring.lowMemory or int8 precision if memory ran out.' }));
      this.worker = undefined;
    });
    this.worker = worker;
    return worker;
  }

  private onMessage(msg: WorkerReply): void {
    switch (msg.type) {
      case 'progress':
        this.options.onProgress?.(msg.progress);
        return;
      case 'log':
        this.logger[msg.level](msg.message);
        return;
      case 'result': {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.value);
        else p.reject(fromSerialized(msg.error));
      }
    }
  }

  private fail(err: ContactSheetError): void {
    this.dead = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private call<T>(req: RequestBody, signal?: AbortSignal, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    if (signal?.aborted) return Promise.reject(new ContactSheetError('canceled', 'Scoring was canceled.'));
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        worker.postMessage({ id: this.nextId++, method: 'cancel', target: id } satisfies WorkerRequest);
        this.pending.delete(id);
        reject(new ContactSheetError('canceled', 'Scoring was canceled.'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (v) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(v as T);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      worker.postMessage({ ...req, id } as WorkerRequest, transfer);
    });
  }

  setPrompt(prompt: string, signal?: AbortSignal): Promise<PromptScoringInfo> {
    return this.call({ method: 'setPrompt', prompt }, signal);
  }

  scoreImage(image: Buffer | DecodedImage, signal?: AbortSignal): Promise<ImageScores> {
    // Copy into a transferable buffer: the caller keeps its own bytes or pixels.
    const source = isDecodedImage(image) ? image.data : image;
    const copy = new Uint8Array(source.byteLength);
    copy.set(source);
    const payload: WorkerImage = isDecodedImage(image)
      ? { kind: 'pixels', data: copy, width: image.width, height: image.height, channels: image.channels }
      : { kind: 'file', bytes: copy };
    return this.call({ method: 'scoreImage', image: payload }, signal, [copy.buffer]);
  }

  describe(): Promise<ScorerDescription> {
    return this.call({ method: 'describe' });
  }

  async dispose(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    try {
      await this.call({ method: 'dispose' });
    } catch {
      // The worker is going away either way.
    }
    this.worker = undefined;
    await worker.terminate();
  }
}

function fromSerialized(e: SerializedError): ContactSheetError {
  return new ContactSheetError(e.code, e.message, { action: e.action, details: e.details });
}
