/**
 * The end of a run: rank the images on disk, move them from their provisional names to
 * image_NNN.png (best first), write each metadata file, best_candidate.png and summary.md, and
 * close the trace with the run's status.
 *
 * Crash safety: every image first goes back to its pending name (a resumed run may have ranked
 * names from an earlier finish), then the trace records the planned names (status "finalizing"),
 * then the files move. Wherever a kill lands, each image is at its pending name if that exists,
 * else at the name the trace gives, and finalizing again is correct.
 */
import { ContactSheetError, type SerializedError } from '../../shared/errors';
import type { RunEvent } from './events';
import type { Logger } from '../log';
import { buildImageMetadata } from './metadata';
import { BEST_CANDIDATE_FILE, PENDING_DIR, rankedImageName, rankedMetadataName, SUMMARY_FILE, type RunFolder } from './output';
import { rankedCandidates, rankRun } from './runRanking';
import { renderSummaryMarkdown } from './summary';
import type { GenerationTrace, RunStatus, TraceWriter } from './trace';

export interface FinalizeContext {
  fatal: ContactSheetError | null;
  scorerError: SerializedError | null;
  canceled: boolean;
  started: number;
  emit: (e: RunEvent) => void;
  logger: Logger;
}

type FinalStatus = Exclude<RunStatus, 'running' | 'finalizing'>;

export async function finalizeRun(folder: RunFolder, writer: TraceWriter, ctx: FinalizeContext): Promise<{ status: FinalStatus; summaryMarkdown: string }> {
  const trace = writer.trace;
  // A full disk: the reserve set aside at run start makes room for the trace and summary.md; the
  // metadata files and best_candidate.png (a whole image) wait for resume.
  const diskFull = ctx.fatal?.code === 'disk-full';
  if (diskFull) await folder.releaseSpace();
  ctx.emit({ type: 'phase', phase: 'rank' });
  const present = rankedCandidates(trace);

  // Phase 1: every image back at its pending name.
  for (const img of present) {
    if (!(await folder.exists(img.pending_file)) && img.file && (await folder.exists(img.file))) await folder.move(img.file, img.pending_file);
  }
  for (const img of trace.images) Object.assign(img, { file: null, metadata_file: null, rank: null, is_best_candidate: false, preference_probability: null });

  // Plan the ranked names and record them before any file moves.
  const ranking = rankRun(trace);
  ranking.order.forEach((index, i) => {
    const img = trace.images[index];
    Object.assign(img, {
      rank: i + 1,
      file: rankedImageName(i + 1),
      metadata_file: rankedMetadataName(i + 1),
      is_best_candidate: i === 0,
      preference_probability: ranking.preference.get(index) ?? null,
    });
  });
  trace.ranking = { order: ranking.order, comparison: ranking.comparison };
  trace.status = 'finalizing';
  await writer.save();

  // Phase 2: move and describe.
  ctx.emit({ type: 'phase', phase: 'write' });
  for (const index of ranking.order) {
    const img = trace.images[index];
    if (!img.file || !img.metadata_file) continue;
    await folder.move(img.pending_file, img.file);
    ctx.emit({ type: 'file-written', path: await folder.pathOf(img.file), file: img.file, kind: 'image' });
    if (diskFull) continue;
    await folder.writeJson(img.metadata_file, buildImageMetadata(trace, img));
    ctx.emit({ type: 'file-written', path: await folder.pathOf(img.metadata_file), file: img.metadata_file, kind: 'metadata' });
  }
  const best = ranking.order.length ? trace.images[ranking.order[0]] : null;
  if (diskFull) {
    trace.warnings.push('The disk is full: the metadata files and best_candidate.png were not written; resume writes them.');
    for (const img of trace.images) img.metadata_file = null;
  } else if (best?.file) {
    await folder.writeFile(BEST_CANDIDATE_FILE, await folder.readFile(best.file));
    ctx.emit({ type: 'file-written', path: await folder.pathOf(BEST_CANDIDATE_FILE), file: BEST_CANDIDATE_FILE, kind: 'best-candidate' });
  }
  await folder.removeEmptyDir(PENDING_DIR);

  const status = finalStatus(trace, ctx);
  trace.status = status;
  trace.error = status === 'succeeded' ? null : runError(trace, ctx, status, folder.root);
  trace.finished_at = new Date().toISOString();
  trace.timings.total_ms = Date.now() - ctx.started;
  const summaryMarkdown = renderSummaryMarkdown(trace);
  await folder.writeFile(SUMMARY_FILE, summaryMarkdown);
  ctx.emit({ type: 'file-written', path: await folder.pathOf(SUMMARY_FILE), file: SUMMARY_FILE, kind: 'summary' });
  await writer.save();

  ctx.emit({
    type: 'ranked',
    order: ranking.order,
    final: true,
    entries: ranking.order.map((index) => {
      const img = trace.images[index];
      return { index, seed: img.seed, rank: img.rank ?? 0, overall: img.overall, preference_probability: img.preference_probability, file: img.file };
    }),
    comparison: ranking.comparison,
  });
  ctx.emit({ type: 'phase', phase: 'done' });
  ctx.emit({
    type: 'run-finished',
    status,
    run_dir: folder.root,
    at: trace.finished_at,
    ...(trace.error ? { error: trace.error } : {}),
    images_ok: present.length,
    images_failed: trace.images.filter((i) => i.status === 'failed').length,
    best_file: best?.file ?? null,
    cost_so_far: { total_usd: trace.costs.total_usd, unknown_count: trace.costs.unknown_count },
  });
  return { status, summaryMarkdown };
}

/**
 * succeeded: every image generated and scored. partial: at least one image ranked but some failed,
 * were not scored or not finished (or a fatal error stopped generation after some finished).
 * failed: no image, or no image could be scored. canceled: the user stopped it.
 */
function finalStatus(trace: GenerationTrace, ctx: FinalizeContext): FinalStatus {
  if (ctx.canceled || ctx.fatal?.code === 'canceled') return 'canceled';
  const onDisk = rankedCandidates(trace);
  if (onDisk.length === 0) return 'failed';
  const scored = onDisk.filter((i) => i.status === 'scored').length;
  // Images nobody could score are kept (resume scores them) but the run did not do its job.
  if (scored === 0) return 'failed';
  if (ctx.fatal || scored < trace.images.length) return 'partial';
  return 'succeeded';
}

function runError(trace: GenerationTrace, ctx: FinalizeContext, status: FinalStatus, runDir: string): SerializedError | null {
  const resumeAction = `Run \`contact-sheet resume "${runDir}"\` to finish what is not finished and score what is not scored (finished predictions are not paid again).`;
  if (status === 'canceled') {
    const fatal = ctx.fatal?.code === 'canceled' ? ctx.fatal.toJSON() : null;
    return { code: 'canceled', message: fatal?.message ?? 'The run was canceled.', action: fatal?.action ?? `The images finished before the cancel are kept. ${resumeAction}` };
  }
  if (ctx.fatal) return ctx.fatal.action ? ctx.fatal.toJSON() : { ...ctx.fatal.toJSON(), action: resumeAction };
  const unscoredError = trace.images.find((i) => i.status === 'generated' && i.error)?.error;
  const scoringError = ctx.scorerError ?? unscoredError;
  if (status === 'failed' && scoringError && rankedCandidates(trace).length > 0) {
    return {
      ...scoringError,
      message: `No image could be scored: ${scoringError.message}`,
      action: `${scoringError.action && !/resume/.test(scoringError.action) ? scoringError.action + ' Then r' : 'R'}un \`contact-sheet resume "${runDir}"\` to score the images already generated (no new predictions).`,
    };
  }
  if (status === 'failed') {
    const first = trace.images.find((i) => i.error)?.error;
    return {
      code: 'all-models-failed',
      message: `No image was generated${first ? `: ${first.message}` : '.'}`,
      action: first?.action ?? 'See the failed images in the trace; try another model with --model.',
    };
  }
  if (status === 'partial') {
    const failed = trace.images.filter((i) => i.status === 'failed').length;
    const unscored = trace.images.filter((i) => i.status === 'generated').length;
    const missing = trace.images.filter((i) => i.status === 'pending' || i.status === 'created').length;
    return {
      code: failed ? 'prediction-failed' : 'scoring-failed',
      message: `${[failed && `${failed} image(s) failed`, unscored && `${unscored} not scored`, missing && `${missing} not finished`].filter(Boolean).join(', ')}.`,
      action: resumeAction,
    };
  }
  return null;
}
