/**
 * Reuse of files the user already has in the Python Hugging Face cache
 * (`models--owner--name/snapshots/<commit>/<path>`, symlinks into `blobs/`), so a machine that ran
 * the Python tools does not download gigabytes again. A file is only reused when its bytes match a
 * known checksum: the manifest's sha256, or the blob's own name (blobs are named by the hub's
 * ETag: the LFS sha256 for large files, the git blob sha1 for small ones).
 */
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { gitBlobSha1OfFile, sha256OfFile, type ChecksumSource } from './download';

export interface HubCacheHit {
  /** The real file (symlinks resolved). */
  path: string;
  /** The snapshot commit it was found under. */
  revision: string;
  size: number;
  sha256: string;
  checkedAgainst: ChecksumSource;
}

/** The cache root the Python library uses: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function hubCacheRoot(env: NodeJS.ProcessEnv): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg || join(homedir(), '.cache'), 'huggingface', 'hub');
}

/**
 * Looks for `path` of `repo` at `revision` (a commit, or a ref such as "main" resolved through
 * `refs/`), then in any other snapshot when a sha256 is known to check it against.
 */
export async function findInHubCache(
  env: NodeJS.ProcessEnv,
  repo: string,
  revision: string,
  path: string,
  expected: { sha256?: string; size?: number } = {},
  signal?: AbortSignal,
): Promise<HubCacheHit | null> {
  const expectedSha256 = expected.sha256;
  const repoDir = join(hubCacheRoot(env), `models--${repo.split('/').join('--')}`);
  const commits: string[] = [];
  const pinned = /^[0-9a-f]{40}$/.test(revision) ? revision : await readRef(repoDir, revision);
  if (pinned) commits.push(pinned);
  if (expectedSha256) {
    const all = await fs.readdir(join(repoDir, 'snapshots')).catch(() => [] as string[]);
    for (const c of all) if (!commits.includes(c)) commits.push(c);
  }
  for (const commit of commits) {
    const candidate = join(repoDir, 'snapshots', commit, ...path.split('/'));
    const real = await fs.realpath(candidate).catch(() => null);
    if (!real) continue;
    const stat = await fs.stat(real).catch(() => null);
    // A size that differs settles it without hashing gigabytes.
    if (!stat?.isFile() || (expected.size !== undefined && stat.size !== expected.size)) continue;
    const hit = await checkCandidate(real, commit, stat.size, expectedSha256, signal);
    if (hit) return hit;
  }
  return null;
}

async function readRef(repoDir: string, ref: string): Promise<string | null> {
  if (ref.includes('..')) return null;
  const text = await fs.readFile(join(repoDir, 'refs', ref), 'utf8').catch(() => null);
  const commit = text?.trim() ?? '';
  return /^[0-9a-f]{40}$/.test(commit) ? commit : null;
}

async function checkCandidate(real: string, commit: string, size: number, expectedSha256: string | undefined, signal?: AbortSignal): Promise<HubCacheHit | null> {
  const sha256 = await sha256OfFile(real, signal);
  if (expectedSha256) {
    return sha256 === expectedSha256.toLowerCase() ? { path: real, revision: commit, size, sha256, checkedAgainst: 'manifest' } : null;
  }
  const blobName = basename(real).toLowerCase();
  if (/^[0-9a-f]{64}$/.test(blobName)) {
    return sha256 === blobName ? { path: real, revision: commit, size, sha256, checkedAgainst: 'hub-lfs-etag' } : null;
  }
  if (/^[0-9a-f]{40}$/.test(blobName)) {
    return (await gitBlobSha1OfFile(real, signal)) === blobName ? { path: real, revision: commit, size, sha256, checkedAgainst: 'git-blob-sha1' } : null;
  }
  return null;
}

/** Puts a cached file into the store: a hard link when on the same disk, else a copy. */
export async function linkOrCopy(from: string, to: string): Promise<void> {
  await fs.rm(to, { force: true });
  try {
    await fs.link(from, to);
  } catch {
    const tmp = `${to}.copying`;
    await fs.copyFile(from, tmp);
    await fs.rename(tmp, to);
  }
}
