import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RunFolder, TRACE_FILE } from '../../core/run/output';
import { readTrace, type GenerationTrace } from '../../core/run/trace';

/** A run on disk, as its generation_trace.json tells it. */
export interface RecordedRun {
  runId: string;
  /** Absolute, symlink-free path of the run folder. */
  runDir: string;
  trace: GenerationTrace;
}

/** A folder that holds runs, and whether it holds other prompts' runs too (the outputFolder setting). */
export interface RunsParent {
  dir: string;
  shared: boolean;
}

/** Runs shown in a panel's history at most (newest first). */
export const HISTORY_LIMIT = 30;

/** Reads one run folder's trace; throws run-not-resumable when it is not a Contact Sheet run. */
export async function readRecordedRun(runDir: string): Promise<RecordedRun> {
  const folder = await RunFolder.open(runDir);
  const trace = await readTrace(folder);
  return { runId: trace.run_id, runDir: folder.root, trace };
}

/**
 * The earlier runs of a prompt, newest first: every sub-folder of the runs parents holding a
 * readable trace. In a shared parent only the runs whose trace names this prompt file count.
 * Unreadable folders are skipped (they are not this prompt's runs, or are being written).
 */
export async function listRecordedRuns(promptPath: string, parents: RunsParent[], limit = HISTORY_LIMIT): Promise<RecordedRun[]> {
  const runs = new Map<string, RecordedRun>();
  for (const parent of parents) {
    let names: string[];
    try {
      names = (await readdir(parent.dir, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
    } catch {
      continue;
    }
    // Folder names start with the run's local timestamp: newest first without reading every trace.
    names.sort().reverse();
    for (const name of names) {
      if (runs.size >= limit * parents.length) break;
      try {
        const run = await readRecordedRun(join(parent.dir, name));
        if (parent.shared && (!run.trace.prompt_file || resolve(run.trace.prompt_file) !== resolve(promptPath))) continue;
        runs.set(run.runDir, run);
      } catch {
        // Not a run folder (no or another kind of trace).
      }
    }
  }
  return [...runs.values()].sort((a, b) => b.trace.created_at.localeCompare(a.trace.created_at)).slice(0, limit);
}

/** The folder a trace file or run folder names (Open Run accepts either). */
export function runDirOf(path: string): string {
  return path.endsWith(TRACE_FILE) ? resolve(path, '..') : resolve(path);
}
