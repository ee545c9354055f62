/**
 * Fault schedules over the fake Replicate's scenario space, as fast-check arbitraries, and the
 * runner that plays one: a real run through the engine's front door, over real HTTP, against a
 * fresh fake scripted with the schedule's faults, scored by one scorer kept loaded across schedules
 * (tiny models in a real worker thread), then checked with runInvariants.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { createEngine, type ScorerFactory } from '../../src/core/engine';
import { streamLogger } from '../../src/core/log';
import { startFakeReplicate, type Fault } from '../../src/sandbox/fakeReplicate/server';
import { checkRunInvariants, snapshotTree, type RunOutcome } from './runInvariants';

export const SCHNELL = 'black-forest-labs/flux-schnell';
export const SDXL = 'stability-ai/sdxl';
export const IMAGEN = 'google/imagen-4';
const DEV = 'black-forest-labs/flux-dev';

/** Where a request-level fault lands. */
const TARGETS = {
  create: { method: 'POST', path: /\/predictions$/ },
  poll: { method: 'GET', path: /^\/v1\/predictions\/[^/]+$/ },
  list: { method: 'GET', path: '/v1/predictions' },
  model: { method: 'GET', path: /^\/v1\/models\// },
  account: { method: 'GET', path: '/v1/account' },
  cancel: { method: 'POST', path: /\/cancel$/ },
  file: { method: 'GET', path: /^\/files\// },
} as const;
type Target = keyof typeof TARGETS;

const target = fc.constantFrom<Target>('create', 'poll', 'list', 'model', 'account', 'cancel', 'file');
const times = fc.integer({ min: 1, max: 3 });

/** One fault of every kind the fake can be scripted with (faults.ts), weighted towards the common ones. */
export const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('http' as const), status: fc.constantFrom(500, 502, 503, 429), t: target, times }).map(({ t, ...f }) => ({ ...f, ...TARGETS[t] })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('http' as const), status: fc.constantFrom(401, 402, 404, 422), t: target, times: fc.constant(1) }).map(({ t, ...f }) => ({ ...f, ...TARGETS[t] })) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('drop' as const, 'lose-response' as const, 'garble-response' as const), t: target, times }).map(({ t, ...f }) => ({ ...f, ...TARGETS[t] })) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('rate-limit' as const),
      lane: fc.constantFrom('create' as const, 'other' as const),
      // Mostly "retry now" (0 s): a real wait of a second is in a few schedules only.
      retryAfterSeconds: fc.constantFrom(0, 0, 0, 1),
      format: fc.constantFrom('seconds' as const, 'body-only' as const),
      times: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('prediction' as const),
      outcome: fc.constantFrom('failed' as const, 'failed' as const, 'canceled' as const, 'aborted' as const),
      error: fc.constantFrom('CUDA out of memory', 'NSFW content detected. Try running it again, or try a different prompt.', 'Internal error'),
      times,
    }),
  },
  // A prediction that never ends runs into the prediction timeout (1 s here), so it is one prediction per fault.
  { weight: 1, arbitrary: fc.constant<Fault>({ kind: 'prediction', outcome: 'never' }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('output' as const), problem: fc.constantFrom('expired' as const, 'forbidden' as const, 'gone' as const, 'removed' as const, 'corrupt' as const, 'truncated' as const, 'wrong-type' as const, 'huge-declared' as const), times }) },
);

export interface Schedule {
  models: string[];
  images: number;
  concurrency: number;
  seed: number;
  faults: Fault[];
  token: 'valid' | 'wrong' | 'missing';
  /** A budget below the estimate: refused before anything is created. */
  overBudget: boolean;
  /** Cancel (as Ctrl+C would) after this many run events, if set. */
  cancelAfterEvents: number | null;
}

export const scheduleArb: fc.Arbitrary<Schedule> = fc.record({
  models: fc.constantFrom([SCHNELL], [SCHNELL, SDXL], [SDXL], [IMAGEN], [IMAGEN, SCHNELL], [DEV, SCHNELL]),
  images: fc.integer({ min: 1, max: 3 }),
  concurrency: fc.integer({ min: 1, max: 3 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 }),
  faults: fc.array(faultArb, { maxLength: 4 }),
  // Most schedules get as far as generating: the faults, not the setup, are what is explored.
  token: fc.oneof({ weight: 14, arbitrary: fc.constant('valid' as const) }, { weight: 1, arbitrary: fc.constant('wrong' as const) }, { weight: 1, arbitrary: fc.constant('missing' as const) }),
  overBudget: fc.integer({ min: 0, max: 15 }).map((n) => n === 0),
  cancelAfterEvents: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 25 }) }),
});

export interface ScheduleContext {
  root: string;
  modelsDir: string;
  createScorer: ScorerFactory;
}

export interface ScheduleReport {
  violations: string[];
  /** How it ended: the run's status or the error code. */
  ending: string;
}

export async function playSchedule(s: Schedule, ctx: ScheduleContext): Promise<ScheduleReport> {
  const token = `r8_${randomBytes(12).toString('hex')}`;
  const wrongToken = `r8_${randomBytes(12).toString('hex')}`;
  const fake = await startFakeReplicate({ processingMs: 25, maxImageSide: 64, token });
  const caseDir = await mkdtemp(join(ctx.root, 'schedule-'));
  try {
    fake.script(...s.faults);
    const promptPath = join(caseDir, 'prompt.txt');
    await writeFile(promptPath, `A lighthouse in a storm, schedule ${randomBytes(4).toString('hex')}`);
    const before = await snapshotTree(caseDir);
    const said: string[] = [];
    const engine = createEngine({
      token: s.token === 'valid' ? token : s.token === 'wrong' ? wrongToken : undefined,
      apiBaseUrl: fake.url,
      logger: streamLogger((line) => said.push(line), 'trace'),
      modelsDir: ctx.modelsDir,
      vqascore: false,
      createScorer: ctx.createScorer,
      pollIntervalMs: 10,
      // Short backoff (Retry-After still wins): the schedule's faults, not the clock, decide what happens.
      retry: { baseDelayMs: 5, maxDelayMs: 40 },
    });
    const controller = new AbortController();
    const tStart = Date.now();
    let events = 0;
    let outcome: RunOutcome;
    let runDir: string | null = null;
    try {
      const result = await engine.start(
        {
          prompt: promptPath,
          options: {
            numVariations: s.images,
            seed: s.seed,
            model: s.models[0],
            fallbackModels: s.models.slice(1),
            concurrency: s.concurrency,
            // A prediction that never ends costs a second, not 10 minutes.
            predictionTimeoutS: 1,
            ...(s.overBudget ? { budgetUsd: 0.0001 } : {}),
          },
        },
        {
          signal: controller.signal,
          onEvent: (e) => {
            said.push(JSON.stringify(e));
            if (s.cancelAfterEvents !== null && ++events === s.cancelAfterEvents) controller.abort();
          },
          onNotice: (n) => said.push(n.message),
        },
      );
      runDir = result.runDir;
      outcome = { kind: 'result', status: result.status, trace: result.trace };
    } catch (error) {
      outcome = { kind: 'error', error };
      // Unredacted on purpose: an error that carries the token must fail the check.
      said.push(String((error as Error).message), String((error as { action?: string }).action ?? ''));
      runDir = await onlyRunFolder(caseDir);
    }
    const fileFaults = s.faults.some((f) => f.kind === 'output' || ('path' in f && String(f.path) === String(TARGETS.file.path)));
    const tCheck = Date.now();
    const violations = await checkRunInvariants({ caseDir, runDir, before, fake, secrets: [token, wrongToken], said: said.join('\n'), outcome, fileFaults, finished: true });
    const ending = outcome.kind === 'result' ? outcome.status : ((outcome.error as { code?: string }).code ?? 'untyped');
    if (process.env.FAULT_VERBOSE) console.log(`   run ${tCheck - tStart} ms, check ${Date.now() - tCheck} ms; ${said.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string }).map((e) => e.type).join(' ')}`);
    return { violations, ending };
  } finally {
    await fake.close();
    await rm(caseDir, { recursive: true, force: true });
  }
}

/** The run folder a failed start may have left (`prompt.images/<timestamp>`), or null. */
async function onlyRunFolder(caseDir: string): Promise<string | null> {
  const runs = await readdir(join(caseDir, 'prompt.images')).catch(() => [] as string[]);
  return runs.length ? join(caseDir, 'prompt.images', runs[0]) : null;
}
