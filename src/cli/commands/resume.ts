/**
 * `contact-sheet resume RUN_DIR` (see RESUME_USAGE in ../options.ts): finishes an interrupted run
 * without paying twice. Settings come from the run's trace; only where to find models and the API
 * can be given again.
 */
import type { Subcommand } from '../io';
import { parseResumeOptions, RESUME_USAGE } from '../options';
import { cliEngine, cliLogger, showRun } from '../runSession';

export const resume: Subcommand = async (argv, io) => {
  const opts = parseResumeOptions(argv, io.env, io.cwd);
  if (!opts) {
    io.stdout(RESUME_USAGE);
    return 0;
  }
  const engine = cliEngine(opts, io, cliLogger(io, opts.verbose), { budgetUsd: opts.budgetUsd });
  return showRun(async (hooks) => {
    const result = await engine.resume(opts.runDir, hooks);
    if ('alreadyFinished' in result) io.stderr(`Nothing to resume: ${result.runDir} finished with every image scored.`);
    return result;
  }, opts, io);
};
