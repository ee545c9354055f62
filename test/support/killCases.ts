/**
 * kill -9 of the real CLI (`node bin/contact-sheet.js generate`, the built bundle) at a chosen kind
 * of point, then `contact-sheet resume` (also the real CLI, sometimes killed again and resumed once
 * more), then the invariants of runInvariants.ts plus: the resumed run succeeded with every image,
 * and no image was paid twice.
 *
 * Kill points: after the k-th prediction is created, after the k-th image is saved, at a random
 * time, while the scoring models download (a slow hub, an empty models folder), and during
 * finalize: at the last image scored the process is stopped (SIGSTOP), then let run in bursts of a
 * millisecond or two (SIGCONT … SIGSTOP) until its trace says it is finalizing, and killed there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GenerationTrace } from '../../src/core/run/trace';
import type { HubServer } from '../../src/sandbox/hub/server';
import { startFakeReplicate } from '../../src/sandbox/fakeReplicate/server';
import { CLI_BIN, REPO_ROOT } from './buildCli';
import { checkRunInvariants, snapshotTree } from './runInvariants';
import { waitUntil } from './waitUntil';

export type KillPoint = { at: 'created'; k: number } | { at: 'saved'; k: number } | { at: 'delay'; ms: number } | { at: 'download'; ms: number } | { at: 'finalize'; burstMs: number };

export interface KillCase {
  model: string;
  images: number;
  concurrency: number;
  seed: number;
  point: KillPoint;
  /** Kill the first resume too, this many ms after it starts (then resume again). */
  killResumeAfterMs: number | null;
}

export interface KillContext {
  root: string;
  manifestPath: string;
  /** Models folder with the converted tiny models (shared, read-only for the CLI). */
  warmModelsDir: string;
  hub: HubServer;
  /** A hub that serves slowly, for kills during a model download. */
  slowHub: HubServer;
}

export interface KillReport {
  violations: string[];
  /** True when the process really died of SIGKILL (it may have finished before the point came). */
  killed: boolean;
  /** Where the kill landed, read from the run folder afterwards. */
  landed: string;
}

interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startCli(args: string[], env: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, [CLI_BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d) => (out += d));
  proc.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return { proc, output: () => out, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;

async function readTrace(runDir: string): Promise<GenerationTrace | null> {
  try {
    return JSON.parse(await readFile(join(runDir, 'generation_trace.json'), 'utf8')) as GenerationTrace;
  } catch {
    return null;
  }
}

/** Waits for the kill point, kills, and says whether the process died of it. */
async function killAt(child: Child, c: KillCase, runDir: string, hub: HubServer): Promise<boolean> {
  const alive = () => child.proc.exitCode === null && child.proc.signalCode === null;
  const p = c.point;
  const bound = 120_000;
  if (p.at === 'created') await waitUntil(() => count(child.output(), /: prediction \w+ created on /g) >= p.k || !alive(), `prediction ${p.k} is created`, bound);
  else if (p.at === 'saved') await waitUntil(() => count(child.output(), /\) saved: /g) >= p.k || !alive(), `image ${p.k} is saved`, bound);
  else if (p.at === 'delay') await sleep(p.ms);
  else if (p.at === 'download') {
    await waitUntil(() => hub.requests.some((r) => r.path.startsWith('/cdn/')) || !alive(), 'a model download has started', bound);
    await sleep(p.ms);
  } else {
    await waitUntil(() => count(child.output(), /scored: overall/g) >= c.images || !alive(), 'every image is scored', bound);
    // Step the process until its trace says it is finalizing (or it has finished).
    for (let step = 0; alive() && step < 5000; step++) {
      child.proc.kill('SIGSTOP');
      const status = (await readTrace(runDir))?.status;
      if (status && status !== 'running') break;
      child.proc.kill('SIGCONT');
      await sleep(p.burstMs);
    }
  }
  if (alive()) child.proc.kill('SIGKILL');
  const exit = await child.exited;
  return exit.signal === 'SIGKILL';
}

export async function playKillCase(c: KillCase, ctx: KillContext): Promise<KillReport> {
  const token = `r8_${randomBytes(12).toString('hex')}`;
  const fake = await startFakeReplicate({ processingMs: 150, maxImageSide: 64, token });
  const caseDir = await mkdtemp(join(ctx.root, 'kill-'));
  // A download kill starts from an empty models folder (outside the case folder: it is a cache).
  const modelsDir = c.point.at === 'download' ? await mkdtemp(join(ctx.root, 'models-')) : ctx.warmModelsDir;
  try {
    const promptPath = join(caseDir, 'prompt.txt');
    await writeFile(promptPath, `A harbor at dawn, kill case ${randomBytes(4).toString('hex')}`);
    const runDir = join(caseDir, 'run');
    const before = await snapshotTree(caseDir);
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, REPLICATE_API_TOKEN: token };
    const hub = c.point.at === 'download' ? ctx.slowHub : ctx.hub;
    const common = ['--api-base-url', fake.url, '--manifest', ctx.manifestPath, '--models-dir', modelsDir];
    const said: string[] = [];

    const generate = startCli(['generate', promptPath, '-n', String(c.images), '--seed', String(c.seed), '--model', c.model, '--concurrency', String(c.concurrency), '--no-vqascore', '--output-dir', runDir, '--hub-endpoint', hub.url, ...common], env);
    const killed = await killAt(generate, c, runDir, hub);
    said.push(generate.output());
    const afterKill = await readTrace(runDir);
    const landed =
      c.point.at === 'download' && !existsSync(join(modelsDir, 'pickscore', 'onnx')) ? 'model download'
      : !afterKill ? 'before the trace'
      : afterKill.status === 'finalizing' ? 'finalize'
      : afterKill.status !== 'running' ? 'after the end'
      : afterKill.images.every((i) => i.status === 'generated' || i.status === 'scored') ? 'scoring'
      : 'generation';

    // Resume (the fast hub: the download resumes from what the killed run left).
    const resumeArgs = ['resume', runDir, '--hub-endpoint', ctx.hub.url, ...common];
    if (c.killResumeAfterMs !== null && afterKill) {
      const first = startCli(resumeArgs, env);
      await sleep(c.killResumeAfterMs);
      if (first.proc.exitCode === null) first.proc.kill('SIGKILL');
      await first.exited;
      said.push(first.output());
    }
    const last = startCli(resumeArgs, env);
    const exit = await last.exited;
    said.push(last.output());

    const trace = await readTrace(runDir);
    const violations = await checkRunInvariants({
      caseDir,
      runDir: existsSync(runDir) ? runDir : null,
      before,
      fake,
      secrets: [token],
      said: said.join('\n'),
      ...(trace ? { outcome: { kind: 'result' as const, status: trace.status, trace } } : {}),
      fileFaults: false,
      finished: true,
    });
    if (!afterKill) {
      // Killed before the run had a trace: nothing can have been created, and resume says so clearly.
      if (fake.predictionStatuses().length) violations.push('predictions were created before the trace existed');
      if (exit.code !== 1 || !/\[run-not-resumable\].*\n {2}→ /.test(last.output())) violations.push(`resume without a trace did not refuse clearly: ${last.output()}`);
    } else {
      if (exit.code !== 0 || trace?.status !== 'succeeded') violations.push(`resume did not finish the run (exit ${exit.code}, ${trace?.status}): ${last.output().slice(-600)}`);
      if (trace && trace.images.filter((i) => i.status === 'scored').length !== c.images) violations.push('not every image is scored after resume');
      const leftovers = (await readdir(runDir, { recursive: true })).filter((f) => String(f).endsWith('.tmp'));
      if (leftovers.length) violations.push(`temporary files left in the finished run: ${leftovers.join(', ')}`);
    }
    return { violations, killed, landed };
  } finally {
    await fake.close();
    await rm(caseDir, { recursive: true, force: true });
    if (modelsDir !== ctx.warmModelsDir) await rm(modelsDir, { recursive: true, force: true });
  }
}
