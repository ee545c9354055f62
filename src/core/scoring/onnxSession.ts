/**
 * onnxruntime-node sessions with the project's options: CPU first, execution providers
 * configurable (e.g. ["cuda", "cpu"] on a machine whose onnxruntime build has CUDA).
 *
 * On the CPU provider a session can keep onnxruntime's optimized graph with its pre-packed
 * weights on disk (optimizedGraphCache.ts): the first load pays for packing once and saves the
 * result; later loads map it (README, "Performance").
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ContactSheetError } from '../../shared/errors';
import { silentLogger, type Logger } from '../log';
import { checkOptimizedGraph } from './optimizedGraphCheck';
import { OPTIMIZED_DATA_FILE, OptimizedGraphCache } from './optimizedGraphCache';

export interface SessionSettings {
  executionProviders: string[];
  /** 0 lets onnxruntime pick (all cores). */
  intraOpNumThreads: number;
  /**
   * Folder for onnxruntime's optimized graphs with pre-packed weights. Used with the CPU provider
   * only (another provider partitions the graph differently) and only with `probeFeeds`.
   */
  optimizedCacheDir?: string;
  /**
   * Inputs that exercise the graph (given the session that wrote the optimized graph, for its
   * input names): a saved graph is only kept when a separate process gets the same outputs.
   */
  probeFeeds?: (session: InferenceSession) => Record<string, Tensor>;
  logger?: Logger;
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

/** onnxruntime's session config keys for saving the optimized graph (onnxruntime_session_options_config_keys.h). */
const SAVE_OPTIMIZED_CONFIG = {
  optimized_model_external_initializers_file_name: OPTIMIZED_DATA_FILE,
  // Everything but tiny tensors goes to the data file, which onnxruntime maps on load.
  optimized_model_external_initializers_min_size_in_bytes: '1024',
  save_external_prepacked_constant_initializers: '1',
};

/** onnxruntime's warning level: errors only (saving an optimized graph warns that it is CPU-specific, which the cache key handles). */
const ORT_LOG_ERRORS_ONLY = 3;

/** How a session was made, for benchmarks and logs. */
export type SessionOrigin = 'plain' | 'optimized-cache-hit' | 'optimized-cache-written' | 'optimized-cache-unsupported';

const origins = new WeakMap<InferenceSession, SessionOrigin>();

export function sessionOrigin(session: InferenceSession): SessionOrigin | undefined {
  return origins.get(session);
}

function baseOptions(settings: SessionSettings): InferenceSession.SessionOptions {
  return {
    executionProviders: settings.executionProviders.length ? settings.executionProviders : ['cpu'],
    graphOptimizationLevel: 'all',
    ...(settings.intraOpNumThreads > 0 ? { intraOpNumThreads: settings.intraOpNumThreads } : {}),
  };
}

function cpuOnly(settings: SessionSettings): boolean {
  return settings.executionProviders.every((p) => p === 'cpu');
}

/** Opens a graph; a file onnxruntime cannot load becomes a 'model-format' error with `action`. */
export async function createSession(path: string, settings: SessionSettings, action = DEFAULT_LOAD_ACTION): Promise<InferenceSession> {
  if (settings.optimizedCacheDir && settings.probeFeeds && cpuOnly(settings)) {
    const cached = await createThroughCache(path, settings, settings.optimizedCacheDir, settings.probeFeeds);
    if (cached) return cached;
  }
  try {
    const session = await ort().InferenceSession.create(path, baseOptions(settings));
    origins.set(session, 'plain');
    return session;
  } catch (e) {
    throw new ContactSheetError('model-format', `onnxruntime could not load ${path}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      action,
    });
  }
}

/**
 * The cached optimized graph when there is a valid one; else a session that writes it while it
 * loads (the packing it does anyway is what gets saved). Undefined when the cache cannot help:
 * the caller then opens the source graph plainly (and reports a broken source with its error).
 */
async function createThroughCache(
  path: string,
  settings: SessionSettings,
  root: string,
  probeFeeds: (session: InferenceSession) => Record<string, Tensor>,
): Promise<InferenceSession | undefined> {
  const logger = settings.logger ?? silentLogger;
  const cache = new OptimizedGraphCache(root);
  const { InferenceSession: Session, env } = ort();
  let entry;
  try {
    entry = await cache.entryFor(path, env.versions.common);
  } catch (e) {
    logger.warn(`The optimized-graph cache in ${root} cannot be used: ${(e as Error).message}`);
    return undefined;
  }
  if (await cache.isReady(entry)) {
    try {
      // The saved graph is already optimized for this CPU: optimizing it again only costs time.
      const session = await Session.create(entry.modelPath, { ...baseOptions(settings), graphOptimizationLevel: 'disabled' });
      origins.set(session, 'optimized-cache-hit');
      return session;
    } catch (e) {
      logger.warn(`The cached optimized graph ${entry.modelPath} could not be loaded (${(e as Error).message}); rebuilding it.`);
    }
  }
  // Whatever is there under this key is damaged (entries are only ever renamed in complete).
  await cache.discard(entry.dir);
  if (await cache.isUnsupported(entry)) return plainMarked(path, settings);
  let staged;
  try {
    staged = await cache.stage(entry);
  } catch (e) {
    logger.warn(`The optimized-graph cache in ${root} cannot be written: ${(e as Error).message}`);
    return undefined;
  }
  let session: InferenceSession;
  try {
    session = await Session.create(path, {
      ...baseOptions(settings),
      optimizedModelFilePath: staged.modelPath,
      logSeverityLevel: ORT_LOG_ERRORS_ONLY,
      extra: { session: SAVE_OPTIMIZED_CONFIG },
    });
  } catch {
    await cache.discard(staged.dir);
    return undefined;
  }
  try {
    const verdict = await checkOptimizedGraph(staged.modelPath, session, probeFeeds(session), settings.intraOpNumThreads);
    if (!verdict.ok) {
      await cache.discard(staged.dir);
      await cache.markUnsupported(entry, verdict.reason);
      origins.set(session, 'optimized-cache-unsupported');
      logger.warn(`onnxruntime's optimized graph of ${path} is not kept: ${verdict.reason}. This graph loads without the cache.`);
      return session;
    }
    await cache.publish(staged, entry);
    origins.set(session, 'optimized-cache-written');
    logger.info(`Saved onnxruntime's optimized graph of ${path} with pre-packed weights in ${entry.dir}; later loads map it.`);
  } catch (e) {
    await cache.discard(staged.dir);
    origins.set(session, 'plain');
    logger.warn(`Could not save the optimized graph of ${path} (${(e as Error).message}); the next load packs the weights again.`);
  }
  return session;
}

/** A plain session for a graph whose saved optimized form failed its check before. */
async function plainMarked(path: string, settings: SessionSettings): Promise<InferenceSession | undefined> {
  try {
    const session = await ort().InferenceSession.create(path, baseOptions(settings));
    origins.set(session, 'optimized-cache-unsupported');
    return session;
  } catch {
    return undefined;
  }
}
