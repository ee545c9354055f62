/**
 * `contact-sheet resume RUN_DIR` (see RESUME_USAGE in ../options.ts): finishes an interrupted run
 * without paying twice. Settings come from the run's trace; only where to find models and the API
 * can be given again.
 */
import { openRunForResume } from '../../core/run/resume';
import { recoverUnrecordedPredictions } from '../../core/run/resumeRecovery';
import type { Subcommand } from '../io';
import { parseResumeOptions, RESUME_USAGE } from '../options';
import { checkToken, cliLogger, exitCodeFor, makeClient, requireToken, runAndReport } from '../runSession';
import { makeStyle, renderRunReport, wantsColor } from '../table';

export const resume: Subcommand = async (argv, io) => {
  const opts = parseResumeOptions(argv, io.env, io.cwd);
  if (!opts) {
    io.stdout(RESUME_USAGE);
    return 0;
  }
  const run = await openRunForResume(opts.runDir);
  if (run.finished) {
    io.stderr(`Nothing to resume: ${run.folder.root} finished with every image scored.`);
    if (opts.json) io.stdout(JSON.stringify(run.trace, null, 2));
    else io.stdout(renderRunReport(run.trace, run.folder.root, makeStyle(wantsColor(io.isTTY, io.env))));
    return exitCodeFor(run.trace.status === 'succeeded' ? 'succeeded' : 'failed');
  }
  const logger = cliLogger(io, opts.verbose);
  const client = makeClient(requireToken(io.env), opts, logger);
  await checkToken(client, io.signal);
  for (const r of await recoverUnrecordedPredictions(client, run.trace, io.signal)) {
    const note = `Image ${r.index + 1}: adopted prediction ${r.prediction_id}, created before the interruption but not yet recorded.`;
    run.trace.warnings.push(note);
    io.stderr(note);
  }
  return runAndReport(run.folder, run.trace, client, opts, io, logger);
};
