/**
 * One file from the Hugging Face hub (or a plain URL) to disk: resolve → ranged GET into
 * `<file>.partial` → hash while writing → verify → atomic rename.
 *
 * The hub protocol (FACTS.md §5): a HEAD on `/{repo}/resolve/{revision}/{path}` without following
 * redirects answers with X-Repo-Commit, X-Linked-Etag (the LFS sha256) and X-Linked-Size, then a
 * 302 to a signed CDN URL that expires — so every attempt, and every resume, resolves again.
 * Non-LFS files answer 200 with an ETag that is the git blob sha1 of the content.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { ContactSheetError, isAbortError, throwIfAborted } from '../../shared/errors';
import { silentLogger, type Logger } from '../log';

/** What a file's bytes were checked against before it entered the store. */
export type ChecksumSource = 'manifest' | 'hub-lfs-etag' | 'git-blob-sha1' | 'none';

export interface DownloadProgress {
  receivedBytes: number;
  totalBytes: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

export interface DownloadRequest {
  /** The resolve URL (hub) or direct URL. */
  url: string;
  /** Final path; the download goes to `<destination>.partial` first. */
  destination: string;
  expectedSha256?: string;
  expectedSize?: number;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  logger?: Logger;
  /** Resolve-and-resume attempts after a dropped connection (default 2). */
  retries?: number;
  /** What to tell the user to do when offline (names the folder to copy files into). */
  offlineAction?: string;
}

export interface DownloadResult {
  size: number;
  sha256: string;
  /** Commit the hub resolved the revision to (X-Repo-Commit), when it said. */
  revision: string | null;
  checkedAgainst: ChecksumSource;
  /** Bytes taken from an earlier partial download. */
  resumedFrom: number;
}

interface ResolvedFile {
  downloadUrl: string;
  revision: string | null;
  lfsSha256: string | null;
  gitBlobSha1: string | null;
  size: number | null;
}

const MAX_RESOLVE_HOPS = 5;
const PROGRESS_INTERVAL_MS = 250;

export async function downloadFile(req: DownloadRequest): Promise<DownloadResult> {
  const retries = req.retries ?? 2;
  const logger = req.logger ?? silentLogger;
  const release = await lockPartial(`${req.destination}.partial.lock`, req.destination);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        return await downloadOnce(req);
      } catch (e) {
        const retryable = e instanceof ContactSheetError && e.code === 'model-download-failed' && e.details?.retryable === true;
        if (!retryable || attempt >= retries || req.signal?.aborted) throw e;
        logger.warn(`Download of ${req.url} interrupted (${(e as Error).message}); resuming (attempt ${attempt + 2} of ${retries + 1}).`);
      }
    }
  } finally {
    await release();
  }
}

/**
 * Two processes (the extension's scorer and a CLI `models pull`) must not append to the same
 * partial file. A lock file holds the owner's pid; a lock whose process is gone is taken over.
 */
async function lockPartial(lockPath: string, destination: string): Promise<() => Promise<void>> {
  try {
    await fs.writeFile(lockPath, String(process.pid), { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const owner = Number((await fs.readFile(lockPath, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processIsAlive(owner)) {
      throw new ContactSheetError('model-download-failed', `Another Contact Sheet process (pid ${owner}) is downloading ${destination}.`, {
        action: 'Wait for it to finish, then try again.',
        details: { retryable: false, lockOwner: owner },
      });
    }
    await fs.writeFile(lockPath, String(process.pid));
  }
  return () => fs.rm(lockPath, { force: true });
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function downloadOnce(req: DownloadRequest): Promise<DownloadResult> {
  const doFetch = req.fetch ?? fetch;
  throwIfAborted(req.signal);
  const resolved = await resolveFile(req.url, doFetch, req.signal, req.offlineAction);
  const total = resolved.size ?? req.expectedSize ?? null;
  if (req.expectedSize !== undefined && resolved.size !== null && resolved.size !== req.expectedSize) {
    throw new ContactSheetError('model-checksum-mismatch', `${req.url} has ${resolved.size} bytes at its source, the manifest says ${req.expectedSize}.`, {
      action: 'Update Contact Sheet or report it: the published file changed.',
      details: { url: req.url, expectedSize: req.expectedSize, size: resolved.size },
    });
  }
  const expected = req.expectedSha256?.toLowerCase() ?? resolved.lfsSha256;
  if (req.expectedSha256 && resolved.lfsSha256 && resolved.lfsSha256 !== req.expectedSha256.toLowerCase()) {
    // The pinned revision should never disagree with the manifest; if it does, don't spend the bandwidth.
    throw checksumMismatch(req.url, req.expectedSha256, resolved.lfsSha256, 'the hub announces a different file');
  }

  const partial = `${req.destination}.partial`;
  let hash = createHash('sha256');
  let start = await existingSize(partial);
  if (start > 0 && total !== null && start > total) start = await restart(partial);
  if (start > 0) await hashPrefix(partial, start, hash, req.signal);

  let received = start;
  if (total === null || start < total) {
    ({ received, hash } = await fetchInto(req, resolved, partial, start, total, hash, doFetch));
  }
  if (total !== null && received < total) {
    throw new ContactSheetError('model-download-failed', `The download of ${req.url} stopped at ${received} of ${total} bytes.`, {
      action: 'Run the same command again: the download resumes where it stopped.',
      details: { retryable: true, receivedBytes: received },
    });
  }
  const sha256 = hash.digest('hex');
  let checkedAgainst: ChecksumSource = 'none';
  if (expected) {
    if (sha256 !== expected) {
      await fs.rm(partial, { force: true });
      throw checksumMismatch(req.url, expected, sha256, 'the downloaded bytes differ');
    }
    checkedAgainst = req.expectedSha256 ? 'manifest' : 'hub-lfs-etag';
  } else if (resolved.gitBlobSha1) {
    const actual = await gitBlobSha1OfFile(partial);
    if (actual !== resolved.gitBlobSha1) {
      await fs.rm(partial, { force: true });
      throw checksumMismatch(req.url, `git blob ${resolved.gitBlobSha1}`, `git blob ${actual}`, 'the downloaded bytes differ');
    }
    checkedAgainst = 'git-blob-sha1';
  } else {
    (req.logger ?? silentLogger).warn(`No checksum is known for ${req.url}; it was stored unverified.`);
  }
  await fs.rename(partial, req.destination);
  return { size: received, sha256, revision: resolved.revision, checkedAgainst, resumedFrom: start };
}

function checksumMismatch(url: string, expected: string, actual: string, what: string): ContactSheetError {
  return new ContactSheetError('model-checksum-mismatch', `Checksum mismatch for ${url}: ${what} (expected ${expected}, got ${actual}).`, {
    action: 'Run `contact-sheet models pull` again; if it keeps failing, the source changed: update Contact Sheet or report it.',
    details: { url, expected, actual },
  });
}

/** HEAD without following redirects; follows only the hub's own relative hops (renamed repos). */
export async function resolveFile(url: string, doFetch: typeof fetch, signal?: AbortSignal, offlineAction?: string): Promise<ResolvedFile> {
  let current = url;
  // The hub may first send a relative redirect (renamed repo, resolve cache) before the answer;
  // the commit it named on the way still counts.
  let firstRevision: string | null = null;
  for (let hop = 0; hop < MAX_RESOLVE_HOPS; hop++) {
    const res = await networkCall(() => doFetch(current, { method: 'HEAD', redirect: 'manual', signal }), current, signal, offlineAction);
    const h = res.headers;
    firstRevision ??= h.get('x-repo-commit');
    const revision = h.get('x-repo-commit') ?? firstRevision;
    const linkedEtag = parseEtag(h.get('x-linked-etag'));
    const linkedSize = parseSize(h.get('x-linked-size'));
    if (res.status >= 300 && res.status < 400) {
      const location = h.get('location');
      if (!location) throw downloadFailed(current, `redirect ${res.status} without a location`);
      const target = new URL(location, current).toString();
      // An LFS answer carries the linked etag/size; a bare redirect is the hub moving us along.
      if (linkedEtag || linkedSize !== null || new URL(target).origin !== new URL(current).origin) {
        return { downloadUrl: target, revision, lfsSha256: isSha256(linkedEtag) ? linkedEtag : null, gitBlobSha1: null, size: linkedSize };
      }
      current = target;
      continue;
    }
    if (res.status === 404) {
      throw new ContactSheetError('model-missing', `The model file ${current} does not exist at its source (HTTP 404).`, {
        action: 'Check the manifest entry (repo, revision, path), or update Contact Sheet.',
        details: { url: current, status: 404 },
      });
    }
    if (res.status === 401 || res.status === 403) {
      throw downloadFailed(current, `access denied (HTTP ${res.status}); the repository may be gated or private`, false);
    }
    if (!res.ok) throw downloadFailed(current, `HTTP ${res.status}`, res.status >= 500);
    const etag = parseEtag(h.get('etag'));
    return {
      downloadUrl: current,
      revision,
      lfsSha256: isSha256(linkedEtag) ? linkedEtag : null,
      gitBlobSha1: !linkedEtag && etag && /^[0-9a-f]{40}$/.test(etag) ? etag : null,
      size: linkedSize ?? parseSize(h.get('content-length')),
    };
  }
  throw downloadFailed(url, 'too many redirects');
}

async function fetchInto(
  req: DownloadRequest,
  resolved: ResolvedFile,
  partial: string,
  start: number,
  total: number | null,
  hash: Hash,
  doFetch: typeof fetch,
): Promise<{ received: number; hash: Hash }> {
  const headers: Record<string, string> = start > 0 ? { Range: `bytes=${start}-` } : {};
  const res = await networkCall(() => doFetch(resolved.downloadUrl, { headers, redirect: 'follow', signal: req.signal }), req.url, req.signal, req.offlineAction);
  if (start > 0 && res.status === 200) {
    // The server ignored Range and sends the whole file: start over, with a fresh hash.
    await restart(partial);
    const fresh = createHash('sha256');
    return { received: await fetchBody(req, res, partial, 0, total, fresh, 'w'), hash: fresh };
  }
  if (res.status === 416 && total !== null && start === total) return { received: start, hash };
  if (res.status === 404) throw new ContactSheetError('model-missing', `The model file ${req.url} vanished at its source (HTTP 404).`, { action: 'Update Contact Sheet or report it.' });
  if (!(res.status === 200 || res.status === 206)) {
    await res.body?.cancel().catch(() => undefined);
    throw downloadFailed(req.url, `HTTP ${res.status}`, res.status >= 500 || res.status === 403 /* expired signed URL */);
  }
  if (res.status === 206) {
    const range = /bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== start) {
      await res.body?.cancel().catch(() => undefined);
      throw downloadFailed(req.url, `the server answered a different range (${res.headers.get('content-range')})`, false);
    }
  }
  return { received: await fetchBody(req, res, partial, start, total, hash, start > 0 ? 'a' : 'w'), hash };
}

async function fetchBody(req: DownloadRequest, res: Response, partial: string, offset: number, total: number | null, hash: Hash, flags: 'a' | 'w'): Promise<number> {
  if (!res.body) throw downloadFailed(req.url, 'empty response', true);
  const file = await fs.open(partial, flags);
  let received = offset;
  const startedAt = Date.now();
  let lastReport = 0;
  const report = (force: boolean) => {
    const now = Date.now();
    if (!req.onProgress || (!force && now - lastReport < PROGRESS_INTERVAL_MS)) return;
    lastReport = now;
    const elapsed = Math.max((now - startedAt) / 1000, 1e-3);
    const bytesPerSecond = (received - offset) / elapsed;
    const etaSeconds = total !== null && bytesPerSecond > 0 ? Math.max(total - received, 0) / bytesPerSecond : null;
    req.onProgress({ receivedBytes: received, totalBytes: total, bytesPerSecond, etaSeconds });
  };
  try {
    report(true);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      await file.write(chunk);
      hash.update(chunk);
      received += chunk.length;
      report(false);
    }
    report(true);
  } catch (e) {
    if (isAbortError(e) || req.signal?.aborted) throw new ContactSheetError('canceled', 'The download was canceled; run it again to resume.');
    // The partial stays on disk: the next attempt resumes from it.
    throw downloadFailed(req.url, `connection lost after ${received} bytes (${(e as Error).message})`, true);
  } finally {
    await file.close();
  }
  return received;
}

async function networkCall(call: () => Promise<Response>, url: string, signal: AbortSignal | undefined, offlineAction?: string): Promise<Response> {
  try {
    return await call();
  } catch (e) {
    if (isAbortError(e) || signal?.aborted) throw new ContactSheetError('canceled', 'The download was canceled.');
    throw new ContactSheetError('model-offline', `Cannot reach ${new URL(url).host} to download model files (${describeNetworkError(e)}).`, {
      action: offlineAction ?? 'Connect to the internet once, or copy the model files into the models folder, then run `contact-sheet models verify`.',
      cause: e,
    });
  }
}

function describeNetworkError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}

function downloadFailed(url: string, why: string, retryable = false): ContactSheetError {
  return new ContactSheetError('model-download-failed', `Downloading ${url} failed: ${why}.`, {
    action: 'Run the same command again: the download resumes where it stopped.',
    details: { retryable },
  });
}

function parseEtag(v: string | null): string | null {
  if (!v) return null;
  return v.replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
}

function parseSize(v: string | null): number | null {
  if (v === null || !/^\d+$/.test(v)) return null;
  return Number(v);
}

function isSha256(v: string | null): v is string {
  return v !== null && /^[0-9a-f]{64}$/.test(v);
}

async function existingSize(path: string): Promise<number> {
  try {
    return (await fs.stat(path)).size;
  } catch {
    return 0;
  }
}

async function restart(partial: string): Promise<number> {
  await fs.rm(partial, { force: true });
  return 0;
}

/** Feeds the first `length` bytes of a file into `hash` (the part a resume keeps). */
async function hashPrefix(path: string, length: number, hash: Hash, signal?: AbortSignal): Promise<void> {
  const stream = createReadStream(path, { start: 0, end: length - 1, signal });
  try {
    for await (const chunk of stream) hash.update(chunk as Buffer);
  } catch (e) {
    if (isAbortError(e)) throw new ContactSheetError('canceled', 'The download was canceled.');
    throw e;
  }
}

export async function sha256OfFile(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  const { size } = await fs.stat(path);
  if (size > 0) await hashPrefix(path, size, hash, signal);
  return hash.digest('hex');
}

/** Git's object id for a file: sha1("blob <size>\0" + bytes) — what the hub's ETag is for non-LFS files. */
export async function gitBlobSha1OfFile(path: string, signal?: AbortSignal): Promise<string> {
  const { size } = await fs.stat(path);
  const hash = createHash('sha1');
  hash.update(`blob ${size}\0`);
  if (size > 0) await hashPrefix(path, size, hash, signal);
  return hash.digest('hex');
}
