/**
 * What must hold after any run, whatever went wrong during it (the fault matrix checks these after
 * every schedule and every kill + resume):
 *   - no prediction paid twice: at most one prediction per image and model on the fake (a seeded
 *     model's are told apart by seed; a model without a seed has at most one per image), and no
 *     prediction counted for two images;
 *   - nothing paid is lost: every prediction that succeeded (with an output that could be fetched)
 *     is known to the run, and its image is on disk and decodes — or the image failed with an error
 *     that resume recovers from, keeping the prediction's id so resume does not pay again;
 *   - every JSON file in the run folder matches its schema (the trace, each metadata file);
 *   - nothing was written outside the run folder;
 *   - the token is in no file and in nothing the run said;
 *   - the run ended with a clear message: success, or a typed error with an action.
 */
import { readdir, readFile, lstat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import sharp from 'sharp';
import { isContactSheetError } from '../../src/shared/errors';
import type { GenerationTrace } from '../../src/core/run/trace';
import type { FakeReplicate } from '../../src/sandbox/fakeReplicate/server';
import { checkSchema, METADATA_SPEC, TRACE_SPEC } from './runSchema';

/** Errors after which resume fetches the image again from the same prediction. */
const RECOVERABLE_ON_RESUME = new Set(['network-error', 'server-error', 'rate-limited', 'prediction-timeout', 'insufficient-credit', 'token-invalid', 'write-failed', 'disk-full']);

export type Snapshot = Map<string, string>;

/** Every path under `dir` (recursively) with its kind, size and modification time. */
export async function snapshotTree(dir: string): Promise<Snapshot> {
  const out: Snapshot = new Map();
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      const s = await lstat(p).catch(() => null);
      if (!s) continue;
      out.set(p, `${s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'link' : 'file'} ${s.isDirectory() ? '' : s.size} ${s.isDirectory() ? '' : s.mtimeMs}`);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out;
}

export type RunOutcome = { kind: 'result'; status: string; trace: GenerationTrace } | { kind: 'error'; error: unknown };

export interface InvariantCase {
  /** The folder the prompt is in; the run folder lies inside it. */
  caseDir: string;
  /** The run folder, or null when none was created. */
  runDir: string | null;
  before: Snapshot;
  fake: FakeReplicate;
  /** Every secret the run held (the token, a wrong token). */
  secrets: string[];
  /** Everything the run said: log lines, events, printed output. */
  said: string;
  /** How the last run (or resume) ended; absent after a kill. */
  outcome?: RunOutcome;
  /** Models whose output downloads were scripted to fail (their images may be missing for that reason). */
  fileFaults: boolean;
  /** True when the run (or its last resume) ran to its end: the trace must be final. */
  finished: boolean;
}

export async function checkRunInvariants(c: InvariantCase): Promise<string[]> {
  const violations: string[] = [];
  const v = (what: string) => violations.push(what);
  const predictions = c.fake.predictionStatuses();

  // Nothing outside the run folder (the folders leading to it are created too).
  const after = await snapshotTree(c.caseDir);
  const inRun = (p: string) => c.runDir !== null && (p === c.runDir || p.startsWith(c.runDir + sep) || (c.runDir.startsWith(p + sep) && after.get(p)?.startsWith('dir')));
  for (const [p, state] of after) if (c.before.get(p) !== state && !inRun(p)) v(`written outside the run folder: ${relative(c.caseDir, p)}`);
  for (const p of c.before.keys()) if (!after.has(p)) v(`removed outside the run folder: ${relative(c.caseDir, p)}`);

  // The token nowhere.
  for (const [p, state] of after) {
    if (!state.startsWith('file')) continue;
    const bytes = await readFile(p).catch(() => Buffer.alloc(0));
    for (const s of c.secrets) if (bytes.includes(s)) v(`a secret is in ${relative(c.caseDir, p)}`);
  }
  for (const s of c.secrets) if (c.said.includes(s)) v('a secret is in what the run said');

  // A clear end.
  if (c.outcome?.kind === 'error') {
    const e = c.outcome.error;
    if (!isContactSheetError(e)) v(`ended with an untyped error: ${String(e)}`);
    else if (!e.action || e.code === 'internal') v(`ended with ${e.code} without an action: ${e.message}`);
  } else if (c.outcome?.kind === 'result' && c.outcome.status !== 'succeeded') {
    const err = c.outcome.trace.error;
    if (!err?.code || !err.message || !err.action) v(`ended ${c.outcome.status} without an error and action: ${JSON.stringify(err)}`);
  }

  let trace: GenerationTrace | null = null;
  if (c.runDir !== null) {
    const files = await readdir(c.runDir).catch(() => [] as string[]);
    if (files.includes('generation_trace.json')) {
      try {
        trace = JSON.parse(await readFile(join(c.runDir, 'generation_trace.json'), 'utf8')) as GenerationTrace;
        for (const p of checkSchema(trace, TRACE_SPEC).slice(0, 3)) v(`trace: ${p}`);
      } catch (e) {
        v(`trace is not valid JSON: ${(e as Error).message}`);
      }
    }
    for (const f of files.filter((n) => n.endsWith('.json') && n !== 'generation_trace.json')) {
      try {
        const meta: unknown = JSON.parse(await readFile(join(c.runDir, f), 'utf8'));
        for (const p of checkSchema(meta, METADATA_SPEC).slice(0, 3)) v(`${f}: ${p}`);
      } catch (e) {
        v(`${f} is not valid JSON: ${(e as Error).message}`);
      }
    }
    if (c.finished && trace) {
      if (trace.status === 'running' || trace.status === 'finalizing') v(`a run that ended left its trace ${trace.status}`);
      if (trace.status === 'succeeded' || trace.status === 'partial') {
        for (const f of ['best_candidate.png', 'summary.md']) if (!files.includes(f)) v(`${trace.status} run without ${f}`);
        for (const img of trace.images.filter((i) => i.rank !== null)) {
          if (!img.file || !files.includes(img.file) || !img.metadata_file || !files.includes(img.metadata_file)) v(`ranked image ${img.index} lacks its files`);
        }
      }
    }
  }

  // No prediction paid twice, none counted twice.
  const bySeed = new Map<string, number>();
  const unseeded = new Map<string, number>();
  for (const p of predictions) {
    if (typeof p.input.seed === 'number') bySeed.set(`${p.model} seed ${p.input.seed}`, (bySeed.get(`${p.model} seed ${p.input.seed}`) ?? 0) + 1);
    else unseeded.set(p.model, (unseeded.get(p.model) ?? 0) + 1);
  }
  for (const [key, n] of bySeed) if (n > 1) v(`${n} predictions for one image (${key})`);
  const images = trace?.images.length ?? 0;
  for (const [model, n] of unseeded) if (n > images) v(`${n} predictions of ${model} (no seed) for ${images} images`);
  if (!trace && predictions.length > 0) v(`${predictions.length} predictions created but the run has no trace`);
  if (trace) {
    const ids = trace.images.map((i) => i.prediction_id).filter((id): id is string => id !== null);
    if (new Set(ids).size !== ids.length) v(`one prediction counted for two images: ${ids.join(', ')}`);

    // Nothing paid is lost.
    const claimed = new Set([...trace.claimed_predictions, ...ids]);
    for (const p of predictions) {
      if (p.status !== 'succeeded' || p.outputProblem) continue;
      if (!claimed.has(p.id)) {
        // A create whose answer was lost, then the run stopped before its lookup found it (a lookup
        // refused with 401, or the user's cancel): the image it was for failed with an error resume
        // retries, and resume's recovery adopts the prediction (the kill cases prove it) instead of
        // paying again. For a model without a seed input, any such image of that model can take it.
        // Anything else is a paid image the run has lost.
        const seeded = typeof p.input.seed === 'number';
        const own = trace.images.find(
          (i) =>
            (seeded ? i.seed === p.input.seed : i.model === null || i.model === p.model) &&
            i.status === 'failed' &&
            !i.prediction_id &&
            (RECOVERABLE_ON_RESUME.has(i.error?.code ?? '') || i.error?.code === 'canceled'),
        );
        if (own) continue;
        v(`prediction ${p.id} succeeded but the run does not know it, and no image is left for resume to adopt it (run: ${trace.status}, ${trace.error?.code ?? 'no error'}; images: ${trace.images.map((i) => `${i.index} ${i.model ?? '-'} ${i.status} ${i.error?.code ?? ''} ${i.prediction_id ?? ''}`).join('; ')})`);
        continue;
      }
      const img = trace.images.find((i) => i.prediction_id === p.id);
      if (!img) {
        v(`prediction ${p.id} succeeded, but no image holds it (paid for, then replaced)`);
        continue;
      }
      if (img.status === 'generated' || img.status === 'scored') {
        const file = [img.pending_file, img.file].find((f) => f && c.runDir && after.has(join(c.runDir, f)));
        if (!file || !c.runDir) v(`image ${img.index} is ${img.status} but its file is missing`);
        else await sharp(join(c.runDir, file)).metadata().catch((e: Error) => v(`image ${img.index}'s file does not decode: ${e.message}`));
      } else if (img.status === 'failed') {
        const code = img.error?.code ?? '';
        const allowed = RECOVERABLE_ON_RESUME.has(code) || (c.fileFaults && (code === 'output-expired' || code === 'output-invalid'));
        if (!allowed) v(`image ${img.index} failed with ${code} although its prediction ${p.id} succeeded`);
      } else if (c.finished && trace.status !== 'canceled') {
        v(`image ${img.index} is still ${img.status} after the run ended, with a succeeded prediction`);
      }
    }
  }
  return violations;
}
