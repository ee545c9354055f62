/**
 * Everything a run test needs, real and local: the fake Replicate server, tiny random-weight
 * scoring models served by the local hub server, a models cache shared by the tests of one file
 * (so the tiny models are converted once), and an in-memory CliIO.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIO } from '../../src/cli/io';
import { startSourceScoringWorker } from '../../src/sandbox/sourceScoringWorker';
import { startHubServer, type HubServer } from '../../src/sandbox/hub/server';
import { startFakeReplicate, type FakeReplicate, type FakeReplicateOptions } from '../../src/sandbox/fakeReplicate/server';
import { makeTinyModels, type TinyModels } from '../../src/sandbox/tinyModels/makeTinyModels';

export interface CapturedIO extends CliIO {
  out: string[];
  err: string[];
  readonly stdoutText: string;
  readonly stderrText: string;
}

export interface RunFixture {
  root: string;
  fake: FakeReplicate;
  hub: HubServer;
  tiny: TinyModels;
  modelsDir: string;
  /** --api-base-url, --hub-endpoint, --manifest and --models-dir for this fixture. */
  cliArgs(): string[];
  /** Environment with the fake's token (plus `extra`). */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  io(opts?: { isTTY?: boolean; env?: NodeJS.ProcessEnv; signal?: AbortSignal; cwd?: string }): CapturedIO;
  close(): Promise<void>;
}

export async function startRunFixture(fakeOptions: FakeReplicateOptions = { processingMs: 200 }): Promise<RunFixture> {
  const root = await mkdtemp(join(tmpdir(), 'cs-run-'));
  await mkdir(join(root, 'tiny'));
  const tiny = await makeTinyModels(join(root, 'tiny'));
  const hub = await startHubServer(tiny.hubRoot);
  const fake = await startFakeReplicate(fakeOptions);
  const modelsDir = join(root, 'models');
  const baseEnv = (): NodeJS.ProcessEnv => {
    // Only what the CLI needs: no real token or endpoint from the developer's shell leaks in.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, REPLICATE_API_TOKEN: fake.token };
    return env;
  };
  return {
    root,
    fake,
    hub,
    tiny,
    modelsDir,
    cliArgs: () => ['--api-base-url', fake.url, '--hub-endpoint', hub.url, '--manifest', tiny.manifestPath, '--models-dir', modelsDir],
    env: (extra = {}) => ({ ...baseEnv(), ...extra }),
    io: (opts = {}) => capturedIO({ isTTY: opts.isTTY ?? false, env: opts.env ?? baseEnv(), signal: opts.signal ?? new AbortController().signal, cwd: opts.cwd ?? root }),
    close: async () => {
      await fake.close();
      await hub.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export function capturedIO(base: { isTTY: boolean; env: NodeJS.ProcessEnv; signal: AbortSignal; cwd: string }): CapturedIO {
  const out: string[] = [];
  const err: string[] = [];
  const nl = (t: string) => (t.endsWith('\n') ? t : t + '\n');
  return {
    ...base,
    startScoringWorker: startSourceScoringWorker,
    out,
    err,
    stdout: (t) => void out.push(nl(t)),
    stderr: (t) => void err.push(nl(t)),
    get stdoutText() {
      return out.join('');
    },
    get stderrText() {
      return err.join('');
    },
  };
}

/** A fresh folder with one prompt file in it. */
export async function writePrompt(parent: string, name: string, content: string): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(parent, 'case-'));
  const path = join(dir, name);
  await writeFile(path, content);
  return { dir, path };
}

