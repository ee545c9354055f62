/**
 * The model store: the scoring models' published files on disk, checked against the manifest.
 *
 * Layout: `<modelsDir>/<modelId>/files/<path>` (the files exactly as published) and
 * `<modelsDir>/<modelId>/store.json` (what was verified, against what, at which commit). The ONNX
 * converter writes its own `<modelsDir>/<modelId>/onnx/<precision>/` beside them.
 *
 * `ensure` is the only entry point that may touch the network, and only for files that are not
 * already recorded: with everything in place it does no network at all, so scoring works offline.
 */
import { existsSync, promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ContactSheetError, throwIfAborted } from '../../shared/errors';
import { silentLogger, type Logger } from '../log';
import type { ScorerProgress } from '../../shared/progress';
import { downloadFile, sha256OfFile, type ChecksumSource } from './download';
import { findInHubCache, linkOrCopy } from './hubCache';
import type { Manifest, ManifestFile, ManifestModel } from './manifest';

export interface StoredFileRecord {
  path: string;
  size: number;
  sha256: string;
  /** Commit the file came from (X-Repo-Commit or the HF cache snapshot); null for plain URLs. */
  revision: string | null;
  verified_at: string;
  checked_against: ChecksumSource;
  /** Where the bytes came from. */
  origin: 'download' | 'hf-cache' | 'local';
}

interface StoreRecordFile {
  schema_version: 1;
  model: string;
  files: Record<string, StoredFileRecord>;
  /** Optional files the source does not have (so offline runs need not ask again). */
  absent: string[];
}

export type FileState = 'present' | 'partial' | 'missing';

export interface FileStatus {
  path: string;
  state: FileState;
  optional: boolean;
  /** Bytes on disk (the partial's size while partial). */
  bytesOnDisk: number;
  expectedBytes: number | null;
  /** Recorded in store.json with this size (and the manifest's sha256, when it has one). */
  verified: boolean;
  /** The optional file is known not to exist at its source. */
  absentAtSource: boolean;
  record?: StoredFileRecord;
}

export interface ModelStatus {
  id: string;
  name: string;
  kind: ManifestModel['kind'];
  license: string;
  /** Download size of all files (manifest sizes, else the manifest's estimate). */
  totalBytes: number | null;
  folder: string;
  /** ready: every required file present and verified; partial: some bytes present; missing: none. */
  state: 'ready' | 'partial' | 'missing';
  files: FileStatus[];
}

export interface VerifiedFile {
  path: string;
  ok: boolean;
  state: FileState;
  expected: string | null;
  actual: string | null;
  checkedAgainst: 'manifest' | 'store-record' | 'none';
  message?: string;
}

export interface VerifyReport {
  id: string;
  ok: boolean;
  files: VerifiedFile[];
}

export interface ModelStoreOptions {
  modelsDir: string;
  manifest: Manifest;
  /** Overrides HF_ENDPOINT and the manifest's hub_endpoint (tests point it at a local server). */
  hubEndpoint?: string;
  /** When false, a missing file is a 'model-missing' error instead of a download. Default true. */
  allowDownload?: boolean;
  logger?: Logger;
  fetch?: typeof fetch;
  /** Environment for HF_ENDPOINT and the Python HF cache location (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Resolve-and-resume attempts after a dropped connection (default 2). */
  downloadRetries?: number;
}

export interface EnsureOptions {
  signal?: AbortSignal;
  onProgress?: (p: ScorerProgress) => void;
}

/** Reads a manifest; without a path, the one packaged with Contact Sheet (models/manifest.json). */
export async function loadManifest(path?: string): Promise<Manifest> {
  const file = path ?? join(packageRoot(), 'models', 'manifest.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new ContactSheetError('model-format', `Cannot read the model manifest ${file}: ${(e as Error).message}`, {
      action: 'Reinstall Contact Sheet, or pass a valid file with --manifest.',
      cause: e,
    });
  }
  return checkManifest(parsed, file);
}

/** The folder holding package.json, found by walking up (works from src via tsx and from dist bundles). */
export function packageRoot(start: string = __dirname): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'models'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new ContactSheetError('internal', `No package.json found above ${start}.`, { action: 'Reinstall Contact Sheet.' });
    dir = up;
  }
}

function checkManifest(m: unknown, file: string): Manifest {
  const bad = (why: string) =>
    new ContactSheetError('model-format', `The model manifest ${file} is invalid: ${why}.`, { action: 'Reinstall Contact Sheet, or fix the file passed with --manifest.' });
  const manifest = m as Manifest;
  if (!manifest || manifest.schema_version !== 1 || typeof manifest.models !== 'object') throw bad('schema_version 1 with a "models" object expected');
  for (const [id, model] of Object.entries(manifest.models)) {
    if (model.id !== id) throw bad(`model "${id}" has id "${model.id}"`);
    if (!Array.isArray(model.files) || model.files.length === 0) throw bad(`model "${id}" lists no files`);
    for (const f of model.files) {
      if (typeof f.path !== 'string' || f.path.startsWith('/') || f.path.split(/[\\/]/).some((s) => s === '..' || s === '')) throw bad(`model "${id}" has an unsafe path "${f.path}"`);
      if (f.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(f.sha256)) throw bad(`model "${id}" file ${f.path} has a malformed sha256`);
      if (!f.url && !f.repo && model.source.type !== 'huggingface') throw bad(`model "${id}" file ${f.path} has no source`);
    }
  }
  return manifest;
}

export class ModelStore {
  private readonly modelsDir: string;
  private readonly manifest: Manifest;
  private readonly endpoint: string;
  private readonly allowDownload: boolean;
  private readonly logger: Logger;
  private readonly fetchImpl: typeof fetch | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly retries: number | undefined;
  /** One operation per model at a time (ensure and verify both rewrite store.json). */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(opts: ModelStoreOptions) {
    this.modelsDir = opts.modelsDir;
    this.manifest = opts.manifest;
    this.env = opts.env ?? process.env;
    this.endpoint = (opts.hubEndpoint ?? this.env.HF_ENDPOINT ?? opts.manifest.hub_endpoint ?? 'https://huggingface.co').replace(/\/+$/, '');
    this.allowDownload = opts.allowDownload ?? true;
    this.logger = opts.logger ?? silentLogger;
    this.fetchImpl = opts.fetch;
    this.retries = opts.downloadRetries;
  }

  get ids(): string[] {
    return Object.keys(this.manifest.models);
  }

  model(id: string): ManifestModel {
    const m = this.manifest.models[id];
    if (!m) {
      throw new ContactSheetError('bad-usage', `Unknown model "${id}".`, { action: `Use one of: ${this.ids.join(', ')}.` });
    }
    return m;
  }

  /** `<modelsDir>/<id>`: store.json, files/, and the converter's onnx/. */
  modelFolder(id: string): string {
    this.model(id);
    return join(this.modelsDir, id);
  }

  filesFolder(id: string): string {
    return join(this.modelFolder(id), 'files');
  }

  /** The URL a file is fetched from: `{endpoint}/{repo}/resolve/{revision}/{path}`, or its direct URL. */
  fileUrl(model: ManifestModel, file: ManifestFile): { url: string; repo: string | null; revision: string | null } {
    if (file.url) return { url: file.url, repo: null, revision: null };
    const sourceRepo = model.source.type === 'huggingface' ? model.source.repo : undefined;
    const repo = file.repo ?? sourceRepo;
    if (!repo) throw new ContactSheetError('model-format', `Model "${model.id}" file ${file.path} has no source.`);
    const revision = file.revision ?? (repo === sourceRepo && model.source.type === 'huggingface' ? model.source.revision : 'main');
    const encodedPath = file.path.split('/').map(encodeURIComponent).join('/');
    return { url: `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`, repo, revision };
  }

  async status(id: string): Promise<ModelStatus> {
    const model = this.model(id);
    const record = await this.readRecord(id);
    const files: FileStatus[] = [];
    for (const f of model.files) {
      const local = join(this.filesFolder(id), f.path);
      const size = await fileSize(local);
      const partialSize = size === null ? await fileSize(`${local}.partial`) : null;
      const rec = record.files[f.path];
      const absentAtSource = record.absent.includes(f.path);
      const verified = size !== null && rec !== undefined && rec.size === size && (!f.sha256 || f.sha256 === rec.sha256);
      files.push({
        path: f.path,
        state: size !== null ? 'present' : partialSize !== null ? 'partial' : 'missing',
        optional: f.optional ?? false,
        bytesOnDisk: size ?? partialSize ?? 0,
        expectedBytes: f.size ?? rec?.size ?? null,
        verified,
        absentAtSource,
        ...(rec ? { record: rec } : {}),
      });
    }
    const required = files.filter((f) => !(f.optional && f.absentAtSource));
    const ready = required.every((f) => f.verified);
    const anyBytes = files.some((f) => f.bytesOnDisk > 0);
    const sized = model.files.every((f) => f.size !== undefined);
    return {
      id,
      name: model.name,
      kind: model.kind,
      license: model.license,
      totalBytes: sized ? model.files.reduce((a, f) => a + (f.size ?? 0), 0) : model.totalBytes ?? null,
      folder: this.filesFolder(id),
      state: ready ? 'ready' : anyBytes ? 'partial' : 'missing',
      files,
    };
  }

  async list(): Promise<ModelStatus[]> {
    const out: ModelStatus[] = [];
    for (const id of this.ids) out.push(await this.status(id));
    return out;
  }

  /** Makes every file of a model present and verified; returns the folder holding them. */
  ensure(id: string, opts: EnsureOptions = {}): Promise<string> {
    const model = this.model(id);
    return this.exclusive(id, () => this.ensureLocked(model, opts));
  }

  /** Re-hashes every present file against the manifest (else the store record). */
  verify(id: string, opts: { signal?: AbortSignal } = {}): Promise<VerifyReport> {
    const model = this.model(id);
    return this.exclusive(id, () => this.verifyLocked(model, opts.signal));
  }

  private async ensureLocked(model: ManifestModel, opts: EnsureOptions): Promise<string> {
    const id = model.id;
    const folder = this.filesFolder(id);
    const record = await this.readRecord(id);
    for (const file of model.files) {
      throwIfAborted(opts.signal);
      const local = join(folder, file.path);
      const size = await fileSize(local);
      const rec = record.files[file.path];
      if (size !== null && rec && rec.size === size && (!file.sha256 || file.sha256 === rec.sha256)) continue;
      if (size === null && file.optional && record.absent.includes(file.path)) continue;
      await fs.mkdir(dirname(local), { recursive: true });
      const stored = await this.bringFile(model, file, local, size !== null, opts);
      if (stored === 'absent') {
        if (!record.absent.includes(file.path)) record.absent.push(file.path);
      } else {
        record.files[file.path] = stored;
      }
      await this.writeRecord(id, record);
    }
    return folder;
  }

  /** A local copy without a record, the Python HF cache, or the network — in that order. */
  private async bringFile(model: ManifestModel, file: ManifestFile, local: string, hasLocal: boolean, opts: EnsureOptions): Promise<StoredFileRecord | 'absent'> {
    const now = () => new Date().toISOString();
    if (hasLocal) {
      const sha256 = await sha256OfFile(local, opts.signal);
      const size = (await fs.stat(local)).size;
      if (!file.sha256 || file.sha256 === sha256) {
        if (!file.sha256) this.logger.warn(`${model.id}/${file.path} was found in the store without a record and no checksum is known; using it unverified.`);
        return { path: file.path, size, sha256, revision: null, verified_at: now(), checked_against: file.sha256 ? 'manifest' : 'none', origin: 'local' };
      }
      this.logger.warn(`${model.id}/${file.path} on disk does not match the manifest's sha256; replacing it.`);
      if (!this.allowDownload) {
        throw new ContactSheetError('model-checksum-mismatch', `${local} does not match the manifest's sha256 (expected ${file.sha256}, got ${sha256}).`, {
          action: `Delete it and run \`contact-sheet models pull ${model.id}\`.`,
        });
      }
      await fs.rm(local, { force: true });
    }
    const { url, repo, revision } = this.fileUrl(model, file);
    if (repo && revision) {
      const hit = await findInHubCache(this.env, repo, revision, file.path, { sha256: file.sha256, size: file.size }, opts.signal);
      if (hit) {
        await linkOrCopy(hit.path, local);
        this.logger.info(`Reused ${repo}/${file.path} from the Hugging Face cache (${hit.path}).`);
        return { path: file.path, size: hit.size, sha256: hit.sha256, revision: hit.revision, verified_at: now(), checked_against: hit.checkedAgainst, origin: 'hf-cache' };
      }
    }
    if (!this.allowDownload) {
      throw new ContactSheetError('model-missing', `The ${model.name} model file ${file.path} is not in ${this.filesFolder(model.id)}.`, {
        action: `Run \`contact-sheet models pull ${model.id}\` (or allow model downloads in the settings).`,
        details: { model: model.id, file: file.path },
      });
    }
    this.logger.info(`Downloading ${url}`);
    try {
      const result = await downloadFile({
        url,
        destination: local,
        expectedSha256: file.sha256,
        expectedSize: file.size,
        fetch: this.fetchImpl,
        signal: opts.signal,
        logger: this.logger,
        retries: this.retries,
        offlineAction: `Connect to the internet once, or copy the files into ${this.filesFolder(model.id)}, then run \`contact-sheet models verify ${model.id}\`.`,
        onProgress: (p) => opts.onProgress?.({ type: 'download', model: model.id, file: file.path, ...p }),
      });
      if (file.size !== undefined && result.size !== file.size) {
        await fs.rm(local, { force: true });
        throw new ContactSheetError('model-checksum-mismatch', `${url} has ${result.size} bytes, the manifest says ${file.size}.`, {
          action: 'Update Contact Sheet or report it: the source changed.',
        });
      }
      return { path: file.path, size: result.size, sha256: result.sha256, revision: result.revision ?? revision, verified_at: now(), checked_against: result.checkedAgainst, origin: 'download' };
    } catch (e) {
      if (file.optional && e instanceof ContactSheetError && e.code === 'model-missing') return 'absent';
      throw e;
    }
  }

  private async verifyLocked(model: ManifestModel, signal?: AbortSignal): Promise<VerifyReport> {
    const id = model.id;
    const record = await this.readRecord(id);
    const files: VerifiedFile[] = [];
    let changed = false;
    for (const file of model.files) {
      throwIfAborted(signal);
      const local = join(this.filesFolder(id), file.path);
      const size = await fileSize(local);
      const rec = record.files[file.path];
      if (size === null) {
        const skip = (file.optional ?? false) && record.absent.includes(file.path);
        const partial = (await fileSize(`${local}.partial`)) !== null;
        files.push({ path: file.path, ok: skip, state: partial ? 'partial' : 'missing', expected: file.sha256 ?? rec?.sha256 ?? null, actual: null, checkedAgainst: 'none', message: skip ? 'not published (optional)' : partial ? 'download incomplete' : 'missing' });
        continue;
      }
      const actual = await sha256OfFile(local, signal);
      const expected = file.sha256 ?? rec?.sha256 ?? null;
      const against = file.sha256 ? 'manifest' : rec ? 'store-record' : 'none';
      const ok = expected !== null && actual === expected;
      files.push({ path: file.path, ok, state: 'present', expected, actual, checkedAgainst: against, ...(expected === null ? { message: 'no known checksum: run `contact-sheet models pull` to check it against the hub' } : ok ? {} : { message: 'checksum mismatch' }) });
      if (ok && file.sha256 && (!rec || rec.sha256 !== actual || rec.size !== size)) {
        // Files copied in by hand become usable offline once they verify against the manifest.
        record.files[file.path] = { path: file.path, size, sha256: actual, revision: rec?.revision ?? null, verified_at: new Date().toISOString(), checked_against: 'manifest', origin: rec?.origin ?? 'local' };
        changed = true;
      } else if (ok && rec) {
        rec.verified_at = new Date().toISOString();
        changed = true;
      } else if (!ok && rec && expected !== null) {
        // A corrupted file must not count as verified; `ensure` will fetch it again.
        delete record.files[file.path];
        changed = true;
      }
    }
    if (changed) await this.writeRecord(id, record);
    return { id, ok: files.every((f) => f.ok), files };
  }

  private async exclusive<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const next = previous.then(task, task);
    this.locks.set(id, next.catch(() => undefined));
    return next;
  }

  private recordPath(id: string): string {
    return join(this.modelFolder(id), 'store.json');
  }

  private async readRecord(id: string): Promise<StoreRecordFile> {
    const empty: StoreRecordFile = { schema_version: 1, model: id, files: {}, absent: [] };
    let text: string;
    try {
      text = await fs.readFile(this.recordPath(id), 'utf8');
    } catch {
      return empty;
    }
    try {
      const parsed = JSON.parse(text) as Partial<StoreRecordFile>;
      return { ...empty, files: parsed.files ?? {}, absent: parsed.absent ?? [] };
    } catch {
      this.logger.warn(`${this.recordPath(id)} is corrupt; files will be re-checked.`);
      return empty;
    }
  }

  private async writeRecord(id: string, record: StoreRecordFile): Promise<void> {
    const path = this.recordPath(id);
    await fs.mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(record, null, 2) + '\n');
    await fs.rename(tmp, path);
  }
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const s = await fs.stat(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}
