/**
 * The fault matrix. Randomized fault schedules (fast-check) over the fake Replicate's scenario
 * space, each a short real run over real HTTP, and kill -9 of the real CLI at random points followed
 * by resume; after each, every invariant of test/support/runInvariants.ts must hold. Seeded:
 * FAULT_SEED=<n> replays a run (the seed is printed first). FAULT_SCHEDULES and FAULT_KILLS change
 * the counts (defaults 200 and 22); FAULT_VERBOSE=1 prints every schedule and kill with its timing.
 */
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { ScorerFactory } from '../../src/core/engine';
import { createScorer, type Scorer } from '../../src/core/scoring/scorer';
import { startHubServer, type HubServer } from '../../src/sandbox/hub/server';
import { startSourceScoringWorker } from '../../src/sandbox/sourceScoringWorker';
import { makeTinyModels, type TinyModels } from '../../src/sandbox/tinyModels/makeTinyModels';
import { ensureCliBuilt } from '../support/buildCli';
import { IMAGEN, playSchedule, scheduleArb, SCHNELL, type Schedule } from '../support/faultSchedules';
import { playKillCase, type KillCase, type KillPoint } from '../support/killCases';

const SEED = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : Date.now() % 2 ** 31;
const SCHEDULES = Number(process.env.FAULT_SCHEDULES ?? 200);
const KILLS = Number(process.env.FAULT_KILLS ?? 22);

/** Kill points in turn, so every kind comes up in every run (finalize and download included). */
const POINTS: ((n: number) => fc.Arbitrary<KillPoint>)[] = [
  (n) => fc.integer({ min: 1, max: n }).map((k) => ({ at: 'created' as const, k })),
  (n) => fc.integer({ min: 1, max: n }).map((k) => ({ at: 'saved' as const, k })),
  () => fc.integer({ min: 1, max: 3 }).map((burstMs) => ({ at: 'finalize' as const, burstMs })),
  () => fc.integer({ min: 0, max: 400 }).map((ms) => ({ at: 'download' as const, ms })),
  () => fc.integer({ min: 100, max: 2500 }).map((ms) => ({ at: 'delay' as const, ms })),
  () => fc.integer({ min: 1, max: 3 }).map((burstMs) => ({ at: 'finalize' as const, burstMs })),
];

function killCaseArb(i: number): fc.Arbitrary<KillCase> {
  return fc
    .record({ model: fc.constantFrom(SCHNELL, SCHNELL, IMAGEN), images: fc.integer({ min: 2, max: 4 }), concurrency: fc.integer({ min: 1, max: 4 }), seed: fc.integer({ min: 0, max: 2 ** 31 }) })
    .chain((base) =>
      fc.record({
        point: POINTS[i % POINTS.length](base.images),
        killResumeAfterMs: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 150, max: 1500 }) }),
      }).map((rest) => ({ ...base, ...rest })),
    );
}

describe('fault matrix', function () {
  this.timeout(600_000);
  let root: string;
  let tiny: TinyModels;
  let hub: HubServer;
  let scorer: Scorer;
  let createKeptScorer: ScorerFactory;
  const counts = { schedules: 0, kills: 0, cases: 0 };
  const endings = new Map<string, number>();
  const landings = new Map<string, number>();
  let failures = 0;
  let slowHub: HubServer;

  before(async () => {
    console.log(`      fault matrix seed ${SEED} (replay: FAULT_SEED=${SEED})`);
    root = await mkdtemp(join(tmpdir(), 'cs-faults-'));
    await mkdir(join(root, 'tiny'));
    tiny = await makeTinyModels(join(root, 'tiny'));
    hub = await startHubServer(tiny.hubRoot);
    // About 200 KB/s: a model download takes seconds, so a kill lands inside it.
    slowHub = await startHubServer(tiny.hubRoot, { faults: { slow: { chunkBytes: 4096, delayMs: 20 } } });
    const modelsDir = join(root, 'models');
    // One scorer, models loaded once, for every schedule (runs never dispose it).
    scorer = createScorer(
      { modelsDir, precision: 'fp32', enabled: { pickscore: true, clip_score: true, aesthetic: true, vqascore: false }, lowMemory: false, executionProviders: ['cpu'], intraOpNumThreads: 1, allowDownload: true, hubEndpoint: hub.url, manifestPath: tiny.manifestPath },
      { startWorker: startSourceScoringWorker },
    );
    await scorer.setPrompt('warm up');
    createKeptScorer = () => ({ setPrompt: (p, s) => scorer.setPrompt(p, s), scoreImage: (b, s) => scorer.scoreImage(b, s), describe: () => scorer.describe(), dispose: async () => undefined });
  });

  after(async () => {
    await scorer?.dispose();
    await hub?.close();
    await slowHub?.close();
    if (root) await rm(root, { recursive: true, force: true });
    console.log(`      schedule endings: ${[...endings].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    console.log(`      kills landed: ${[...landings].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    const allHeld = failures === 0 && counts.schedules >= SCHEDULES && counts.kills >= KILLS;
    console.log(`fault matrix: ${counts.schedules} schedules, ${counts.kills} kills, ${counts.cases} cases; ${allHeld ? 'all invariants held' : 'NOT ALL INVARIANTS HELD'} (FAULT_SEED=${SEED})`);
  });

  it(`${SCHEDULES} randomized fault schedules: every invariant holds after each`, async () => {
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(scheduleArb, async (s: Schedule) => {
        const t0 = Date.now();
        const report = await playSchedule(s, { root, modelsDir: join(root, 'models'), createScorer: createKeptScorer });
        if (process.env.FAULT_VERBOSE) console.log(`${Date.now() - t0} ms ${report.ending} ${JSON.stringify(s, (_k, v) => (v instanceof RegExp ? String(v) : v))}`);
        counts.schedules += 1;
        endings.set(report.ending, (endings.get(report.ending) ?? 0) + 1);
        if (report.violations.length) failures += 1;
        if (report.violations.length) throw new Error(`invariants violated (${report.ending}):\n  ${report.violations.join('\n  ')}\nschedule: ${JSON.stringify(s, (_k, v) => (v instanceof RegExp ? String(v) : v))}`);
        counts.cases += 1;
      }),
      { seed: SEED, numRuns: SCHEDULES, endOnFailure: true },
    );
    console.log(`      ${counts.schedules} schedules in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(counts.schedules, SCHEDULES);
  });

  it(`kill -9 of the CLI at ${KILLS} points (created, saved, finalize, model download, any time), then resume: every invariant holds, nothing paid twice`, async () => {
    ensureCliBuilt();
    const started = Date.now();
    const ctx = { root, manifestPath: tiny.manifestPath, warmModelsDir: join(root, 'models'), hub, slowHub };
    const problems: string[] = [];
    // Cases until KILLS processes really died of SIGKILL (one may finish before its point comes).
    for (let i = 0; counts.kills < KILLS && i < KILLS * 2; i++) {
      const [c] = fc.sample(killCaseArb(i), { seed: SEED + i, numRuns: 1 });
      const report = await playKillCase(c, ctx);
      counts.cases += report.violations.length ? 0 : 1;
      if (report.killed) counts.kills += 1;
      landings.set(report.landed, (landings.get(report.landed) ?? 0) + 1);
      if (process.env.FAULT_VERBOSE) console.log(`   kill ${i}: ${report.killed ? 'killed' : 'not killed'} at ${report.landed} ${JSON.stringify(c)}`);
      if (report.violations.length) {
        failures += 1;
        problems.push(`case ${i} ${JSON.stringify(c)} (landed: ${report.landed}):\n    ${report.violations.join('\n    ')}`);
      }
    }
    console.log(`      ${counts.kills} kills in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(problems, [], `replay with FAULT_SEED=${SEED}`);
    assert.ok(counts.kills >= KILLS, `${counts.kills} kills`);
    assert.ok((landings.get('finalize') ?? 0) >= 1, 'at least one kill landed during finalize');
    assert.ok((landings.get('model download') ?? 0) >= 1, 'at least one kill landed during a model download');
  });
});
