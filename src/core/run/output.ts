/**
 * The run folder: where it goes, what its files are called, and the only way anything is written
 * into it (temp file + rename, paths checked to stay inside the folder).
 *
 * Layout of a run folder (default `<prompt dir>/<prompt stem>.images/<YYYYMMDD_HHMMSS>/`, local
 * time; `--output-dir DIR` makes DIR itself the run folder; an existing non-empty folder is never
 * reused: `_2`, `_3`, … is appended instead):
 *
 *   generation_trace.json        the run's record, rewritten after every step (trace.ts has its schema)
 *   pending/seed_<seed>_<NNN>.png  each image as soon as it is downloaded (NNN = 1-based job index);
 *                                  moved to its ranked name when the run finishes
 *   image_001.png …              PNG, best first
 *   image_001_metadata.json …    one per ranked image (metadata.ts has its schema)
 *   best_candidate.png           a copy of image_001.png
 *   summary.md                   the console report as Markdown
 *   .thumbnails/seed_<seed>_<NNN>.webp  small previews a face made for its grid (optional; the
 *                                  engine neither writes nor needs them)
 *
 * File names are built here from numbers only: nothing from model output or prompt text ever
 * becomes part of a path. Paths that would leave the folder, or pass through a symbolic link, are
 * refused with 'output-path-unsafe'. A full disk is 'disk-full' (what was written stays).
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ContactSheetError } from '../../shared/errors';

export const TRACE_FILE = 'generation_trace.json';
export const SUMMARY_FILE = 'summary.md';
export const BEST_CANDIDATE_FILE = 'best_candidate.png';
export const PENDING_DIR = 'pending';
/** Hidden while a run goes on, gone when it ends: the room its last words need on a full disk. */
export const SPACE_RESERVE_FILE = '.space-reserve';
const SPACE_RESERVE_BYTES = 256 * 1024;
/** Hidden folder for previews made by a face (the VS Code panel's WebP thumbnails). */
export const THUMBNAILS_DIR = '.thumbnails';

const pad3 = (n: number) => String(n).padStart(3, '0');

/** `image_001.png` for rank 1. */
export function rankedImageName(rank: number): string {
  return `image_${pad3(rank)}.png`;
}

/** `image_001_metadata.json` for rank 1. */
export function rankedMetadataName(rank: number): string {
  return `image_${pad3(rank)}_metadata.json`;
}

/** Provisional name of an image before ranking: `pending/seed_<seed>_<NNN>.png` (NNN = index + 1). */
export function pendingImageName(index: number, seed: number): string {
  return `${PENDING_DIR}/seed_${seed}_${pad3(index + 1)}.png`;
}

/** Preview of one image, named by its index and seed (stable while the image moves to its ranked name). */
export function thumbnailName(index: number, seed: number): string {
  return `${THUMBNAILS_DIR}/seed_${seed}_${pad3(index + 1)}.webp`;
}

/** `<prompt dir>/<prompt stem>.images` */
export function defaultRunsParent(promptPath: string): string {
  const stem = basename(promptPath, extname(promptPath));
  return join(dirname(resolve(promptPath)), `${stem}.images`);
}

/** `YYYYMMDD_HHMMSS` in local time (what the user's clock says). */
export function timestampFolderName(d: Date): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p2(d.getMonth() + 1)}${p2(d.getDate())}_${p2(d.getHours())}${p2(d.getMinutes())}${p2(d.getSeconds())}`;
}

/**
 * Creates a fresh run folder: `outputDir` itself when given (if it does not exist or is empty),
 * else the default under the prompt's folder; on a clash `_2`, `_3`, … — never an overwrite.
 */
export async function createRunFolder(opts: {
  promptPath: string;
  /** The run folder itself (the CLI's --output-dir). */
  outputDir?: string;
  /** A folder that holds runs instead of `<prompt stem>.images` (e.g. an extension setting): `<runsDir>/<timestamp>`. */
  runsDir?: string;
  now?: Date;
}): Promise<RunFolder> {
  const parent = opts.runsDir ? resolve(opts.runsDir) : defaultRunsParent(opts.promptPath);
  const wanted = opts.outputDir ? resolve(opts.outputDir) : join(parent, timestampFolderName(opts.now ?? new Date()));
  await guard(() => mkdir(dirname(wanted), { recursive: true }), dirname(wanted));
  for (let n = 1; n < 1000; n++) {
    const candidate = n === 1 ? wanted : `${wanted}_${n}`;
    try {
      await mkdir(candidate);
      return await RunFolder.open(candidate);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw toWriteError(e, candidate);
      if (n === 1 && opts.outputDir && (await isEmptyRealDir(candidate))) return RunFolder.open(candidate);
    }
  }
  throw new ContactSheetError('write-failed', `Could not find a free folder name next to ${wanted}.`, { action: 'Remove old runs or pass another --output-dir.' });
}

async function isEmptyRealDir(path: string): Promise<boolean> {
  try {
    const info = await lstat(path);
    return info.isDirectory() && (await readdir(path)).length === 0;
  } catch {
    return false;
  }
}

const SAFE_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** A temporary file of writeFile: `.<target name>.<pid>.<8 hex>.tmp`. */
const TEMP_FILE = /^\.[A-Za-z0-9_][A-Za-z0-9_.-]*\.(\d+)\.[0-9a-f]{8}\.tmp$/;

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RunFolder {
  private constructor(
    /** Absolute, symlink-free path of the run folder. */
    readonly root: string,
  ) {}

  /** Opens an existing run folder (for resume and for writers). */
  static async open(dir: string): Promise<RunFolder> {
    let real: string;
    try {
      real = await realpath(dir);
      if (!(await stat(real)).isDirectory()) throw new Error('not a directory');
    } catch (e) {
      throw new ContactSheetError('run-not-resumable', `${dir} is not a run folder (${(e as Error).message}).`, {
        action: 'Pass the folder that holds generation_trace.json.',
      });
    }
    return new RunFolder(real);
  }

  /**
   * Absolute path of a file inside the folder. `rel` uses `/` and safe segments only; the result
   * must stay under the root and must not pass through a symbolic link (checked on disk).
   */
  async pathOf(rel: string): Promise<string> {
    const segments = rel.split('/');
    // The one hidden name allowed is the thumbnails folder, as the first segment.
    const safe = (s: string, i: number) => (SAFE_SEGMENT.test(s) || (i === 0 && s === THUMBNAILS_DIR)) && s !== '.' && s !== '..';
    if (isAbsolute(rel) || !segments.every(safe)) throw unsafe(rel, 'not a plain relative name');
    const full = join(this.root, ...segments);
    const back = relative(this.root, full);
    if (back.startsWith('..') || isAbsolute(back) || !full.startsWith(this.root + sep)) throw unsafe(rel, 'outside the run folder');
    let current = this.root;
    for (const s of segments) {
      current = join(current, s);
      try {
        if ((await lstat(current)).isSymbolicLink()) throw unsafe(rel, 'a symbolic link');
      } catch (e) {
        if (e instanceof ContactSheetError) throw e;
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') break; // the rest does not exist yet
        throw toWriteError(e, current);
      }
    }
    return full;
  }

  /** Writes a file atomically: a temp file in the same folder, then rename over the target. */
  async writeFile(rel: string, data: Buffer | string): Promise<string> {
    const target = await this.pathOf(rel);
    await guard(() => mkdir(dirname(target), { recursive: true }), target);
    const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const handle = await open(temp, 'wx', 0o644);
      try {
        await handle.writeFile(data);
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (e) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw toWriteError(e, target);
    }
    return target;
  }

  async writeJson(rel: string, value: unknown): Promise<string> {
    return this.writeFile(rel, JSON.stringify(value, null, 2) + '\n');
  }

  async readFile(rel: string): Promise<Buffer> {
    return readFile(await this.pathOf(rel));
  }

  /** Size in bytes of a file inside the folder (0 when it does not exist). */
  async sizeOf(rel: string): Promise<number> {
    try {
      return (await lstat(await this.pathOf(rel))).size;
    } catch (e) {
      if (e instanceof ContactSheetError) throw e;
      return 0;
    }
  }

  async exists(rel: string): Promise<boolean> {
    try {
      await lstat(await this.pathOf(rel));
      return true;
    } catch (e) {
      if (e instanceof ContactSheetError) throw e;
      return false;
    }
  }

  /** Renames one file to another inside the folder (atomic; replaces the target). */
  async move(fromRel: string, toRel: string): Promise<void> {
    const from = await this.pathOf(fromRel);
    const to = await this.pathOf(toRel);
    await guard(() => mkdir(dirname(to), { recursive: true }), to);
    await guard(() => rename(from, to), to);
  }

  /**
   * Removes the temporary files of writes that never finished (`.<name>.<pid>.<hex>.tmp`, see
   * writeFile) whose process is gone, e.g. a run killed mid-write; a live process's are kept.
   * Looks in the folder and pending/. Returns how many were removed.
   */
  async removeStaleTempFiles(): Promise<number> {
    let removed = 0;
    for (const sub of ['', PENDING_DIR]) {
      const dir = sub ? join(this.root, sub) : this.root;
      // Never through a link: pending/ pointing elsewhere is not ours to clean.
      if (sub && !(await lstat(dir).then((i) => i.isDirectory(), () => false))) continue;
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        const m = TEMP_FILE.exec(name);
        if (!m || processIsAlive(Number(m[1]))) continue;
        // rm of a link removes the link, never what it points to.
        await rm(join(dir, name), { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  /**
   * Sets aside `bytes` of disk in a hidden file, so that a run that fills the disk can still write
   * its final trace and summary after freeing it (releaseSpace). Best effort: false when even the
   * reserve does not fit.
   */
  async reserveSpace(bytes = SPACE_RESERVE_BYTES): Promise<boolean> {
    try {
      const handle = await open(join(this.root, SPACE_RESERVE_FILE), 'w', 0o600);
      try {
        // Written, not just sized: a sparse file would reserve nothing.
        await handle.writeFile(Buffer.alloc(bytes));
      } finally {
        await handle.close();
      }
      return true;
    } catch {
      await this.releaseSpace();
      return false;
    }
  }

  /** Gives the reserved space back (see reserveSpace). */
  async releaseSpace(): Promise<void> {
    await rm(join(this.root, SPACE_RESERVE_FILE), { force: true }).catch(() => undefined);
  }

  /** Removes a folder inside the run folder if it is empty (e.g. pending/ after ranking). */
  async removeEmptyDir(rel: string): Promise<void> {
    const path = await this.pathOf(rel);
    try {
      if ((await readdir(path)).filter((n) => !n.endsWith('.tmp')).length === 0) await rm(path, { recursive: true, force: true });
    } catch {
      // Missing or not empty: nothing to do.
    }
  }
}

function unsafe(rel: string, why: string): ContactSheetError {
  return new ContactSheetError('output-path-unsafe', `Refusing to write "${rel}": ${why}.`, {
    action: 'Use a plain run folder without symbolic links inside it.',
  });
}

async function guard<T>(fn: () => Promise<T>, path: string): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toWriteError(e, path);
  }
}

/** Maps a file-system error to 'disk-full' (ENOSPC, quota) or 'write-failed', with an action. */
export function toWriteError(e: unknown, path: string): ContactSheetError {
  if (e instanceof ContactSheetError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new ContactSheetError('disk-full', `The disk is full: could not write ${path}. Everything written before is kept.`, {
      action: 'Free some disk space, then run `contact-sheet resume <run folder>` to finish without paying again.',
      cause: e,
    });
  }
  return new ContactSheetError('write-failed', `Could not write ${path} (${code ?? (e as Error).message}).`, {
    action: 'Check that the folder exists and is writable.',
    cause: e,
  });
}
