/**
 * On-disk cache of onnxruntime's own optimized graphs, saved with their pre-packed weights.
 *
 * Loading a CLIP tower spends almost all its time pre-packing weights into the GEMM kernels'
 * layout (measured 9–12 s for the fp32 ViT-L/14 vision tower on a 2-core machine). onnxruntime
 * can save the graph it ends up with — fused, with the pre-packed weights in an external data
 * file — and later maps that file instead of packing again (about 5× faster to load, the same
 * outputs bit for bit). The saved layout depends on the CPU's instruction set and on the
 * onnxruntime version, so every entry is keyed by both and by the identity of the source graph:
 *
 *   <root>/<graph name>-<key>/model.onnx (+ model.onnx.data, stamp.json)
 *
 * An entry is written into a temporary sibling folder, flushed, checked in a separate process
 * (optimizedGraphCheck.ts) and renamed into place, so a crash never leaves a half-written entry
 * that looks valid. A graph whose saved form fails the check gets a marker instead
 * (`<graph name>-<key>.unsupported.json`) and is loaded plainly from then on. Entries and markers
 * under another key of the same graph (an older onnxruntime, a changed model) are deleted when a
 * new one is written. The cost: the data file holds the original weights and the packed copy,
 * about twice the source graph on disk.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cpuFeatures } from '../cpuFeatures';

export const OPTIMIZED_MODEL_FILE = 'model.onnx';
export const OPTIMIZED_DATA_FILE = 'model.onnx.data';
const STAMP_FILE = 'stamp.json';
/** Graph files up to this size are hashed into the key; larger ones count by size and mtime. */
const HASHED_GRAPH_MAX_BYTES = 16 * 1024 * 1024;
/** Bump when what is saved (session config, file layout) changes. */
const CACHE_FORMAT = 1;

export interface SourceFileIdentity {
  name: string;
  size: number;
  mtime_ms: number;
  sha256?: string;
}

export interface OptimizedGraphStamp {
  cache_format: number;
  onnxruntime: string;
  cpu: { model: string; arch: string; flags: string[] | null };
  source: SourceFileIdentity[];
  /** Bytes of each written file, checked before an entry is used (a short file would crash a mapped load). */
  written: Record<string, number>;
  created_at: string;
}

export interface OptimizedGraphEntry {
  /** The published folder (may not exist yet). */
  dir: string;
  modelPath: string;
  key: string;
  stamp: Omit<OptimizedGraphStamp, 'written' | 'created_at'>;
}

export interface StagedEntry {
  dir: string;
  modelPath: string;
}

export class OptimizedGraphCache {
  constructor(readonly root: string) {}

  /** The entry the graph at `sourcePath` maps to under this onnxruntime and CPU. */
  async entryFor(sourcePath: string, onnxruntimeVersion: string): Promise<OptimizedGraphEntry> {
    const cpu = cpuFeatures();
    const stamp = { cache_format: CACHE_FORMAT, onnxruntime: onnxruntimeVersion, cpu: { model: cpu.model, arch: cpu.arch, flags: cpu.flags }, source: await sourceIdentity(sourcePath) };
    const key = createHash('sha256').update(JSON.stringify(stamp)).digest('hex').slice(0, 16);
    const dir = join(this.root, `${graphName(sourcePath)}-${key}`);
    return { dir, modelPath: join(dir, OPTIMIZED_MODEL_FILE), key, stamp };
  }

  /** True when the entry is published and its files have the sizes recorded when it was written. */
  async isReady(entry: OptimizedGraphEntry): Promise<boolean> {
    let stamp: OptimizedGraphStamp;
    try {
      stamp = JSON.parse(await fs.readFile(join(entry.dir, STAMP_FILE), 'utf8')) as OptimizedGraphStamp;
    } catch {
      return false;
    }
    if (!stamp.written || !stamp.written[OPTIMIZED_MODEL_FILE]) return false;
    for (const [file, size] of Object.entries(stamp.written)) {
      const st = await fs.stat(join(entry.dir, file)).catch(() => undefined);
      if (!st || st.size !== size) return false;
    }
    return true;
  }

  /** The graph's saved form failed its check under this key: do not try again. */
  async isUnsupported(entry: OptimizedGraphEntry): Promise<boolean> {
    return fs.stat(markerPath(entry)).then(
      () => true,
      () => false,
    );
  }

  async markUnsupported(entry: OptimizedGraphEntry, reason: string): Promise<void> {
    await fs.mkdir(this.root, { recursive: true });
    await fs.writeFile(markerPath(entry), JSON.stringify({ ...entry.stamp, reason, checked_at: new Date().toISOString() }, null, 2) + '\n');
    await this.removeOtherEntries(entry);
  }

  /** A fresh temporary folder for onnxruntime to write the optimized graph into. */
  async stage(entry: OptimizedGraphEntry): Promise<StagedEntry> {
    await fs.mkdir(this.root, { recursive: true });
    await this.removeAbandonedPartials();
    const dir = join(this.root, `.${basename(entry.dir)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
    await fs.mkdir(dir);
    return { dir, modelPath: join(dir, OPTIMIZED_MODEL_FILE) };
  }

  /**
   * Flushes what onnxruntime wrote, records it, and renames the folder into place. Another
   * process may have published the same entry meanwhile: then its copy is kept and ours dropped.
   */
  async publish(staged: StagedEntry, entry: OptimizedGraphEntry): Promise<void> {
    const written: Record<string, number> = {};
    for (const file of await fs.readdir(staged.dir)) {
      const handle = await fs.open(join(staged.dir, file), 'r+');
      try {
        await handle.sync();
        written[file] = (await handle.stat()).size;
      } finally {
        await handle.close();
      }
    }
    if (!written[OPTIMIZED_MODEL_FILE]) throw new Error(`onnxruntime wrote no ${OPTIMIZED_MODEL_FILE}`);
    const stamp: OptimizedGraphStamp = { ...entry.stamp, written, created_at: new Date().toISOString() };
    await fs.writeFile(join(staged.dir, STAMP_FILE), JSON.stringify(stamp, null, 2) + '\n');
    try {
      await fs.rename(staged.dir, entry.dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      await this.discard(staged.dir);
      return;
    }
    await this.removeOtherEntries(entry);
  }

  /** Deletes a staged or broken entry folder; never throws (the cache is an optimization). */
  async discard(dir: string): Promise<void> {
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }

  /** Entries and markers of the same graph under another key are stale: another onnxruntime, CPU or model. */
  private async removeOtherEntries(entry: OptimizedGraphEntry): Promise<void> {
    const prefix = basename(entry.dir).slice(0, -entry.key.length);
    for (const name of await fs.readdir(this.root).catch(() => [] as string[])) {
      if (!name.startsWith(prefix)) continue;
      const match = /^([0-9a-f]{16})(\.unsupported\.json)?$/.exec(name.slice(prefix.length));
      if (match && match[1] !== entry.key) await this.discard(join(this.root, name));
    }
  }

  /** Temporary folders a killed process left behind hold GBs; those of live processes are theirs. */
  private async removeAbandonedPartials(): Promise<void> {
    for (const name of await fs.readdir(this.root).catch(() => [] as string[])) {
      const match = /\.partial-(\d+)-[0-9a-f]+$/.exec(name);
      if (match && !isProcessAlive(Number(match[1]))) await this.discard(join(this.root, name));
    }
  }
}

function markerPath(entry: OptimizedGraphEntry): string {
  return `${entry.dir}.unsupported.json`;
}

/** "vision.onnx" → "vision"; the entry folder is named after the graph it optimizes. */
function graphName(sourcePath: string): string {
  return basename(sourcePath).replace(/\.onnx$/i, '').replace(/[^A-Za-z0-9_.-]/g, '_');
}

/**
 * The graph file and its external data files (named after it, as both the project's converter
 * and Hugging Face exports do: "x.onnx.data", "x.onnx_data"), by size and mtime; small graph
 * files (the converter's, whose weights are external) are hashed too.
 */
async function sourceIdentity(sourcePath: string): Promise<SourceFileIdentity[]> {
  const dir = dirname(sourcePath);
  const name = basename(sourcePath);
  const siblings = (await fs.readdir(dir)).filter((f) => f === name || (f.startsWith(name) && /^[._]/.test(f.slice(name.length)))).sort();
  const out: SourceFileIdentity[] = [];
  for (const file of siblings) {
    const st = await fs.stat(join(dir, file));
    if (!st.isFile()) continue;
    const id: SourceFileIdentity = { name: file, size: st.size, mtime_ms: Math.round(st.mtimeMs) };
    if (file === name && st.size <= HASHED_GRAPH_MAX_BYTES) id.sha256 = createHash('sha256').update(await fs.readFile(join(dir, file))).digest('hex');
    out.push(id);
  }
  return out;
}

function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
