import { isAbsolute, join, relative } from 'node:path';
import * as vscode from 'vscode';
import { ContactSheetError } from '../../shared/errors';
import type { ImageRef } from '../../shared/protocol';
import { listRecordedRuns, readRecordedRun, type RecordedRun, type RunsParent } from '../history/recordedRuns';
import { imageFileOf } from '../history/traceRunView';
import type { RunController } from '../run/runController';
import { ownRunsParent, runsParentFor } from '../settings/runSettings';

/**
 * The runs of one prompt on disk and where their files are: the folders that hold them (also the
 * webview's resource roots), the runs listed there by their traces, and ImageRef → file, so the
 * panel resolves what the webview names without the webview ever holding a path.
 */
export class PromptRuns {
  /** runId → run folder, for the runs listed or shown. */
  private readonly known = new Map<string, string>();
  /** Folders of runs opened from elsewhere (Open Run). */
  private readonly extraParents: string[] = [];

  constructor(
    private readonly promptUri: vscode.Uri,
    private readonly controller: RunController,
  ) {}

  /** The folders holding this prompt's runs: its `<stem>.images`, the outputFolder setting's, and any opened from elsewhere. */
  parents(): string[] {
    const config = vscode.workspace.getConfiguration('contactSheet', this.promptUri);
    return [...new Set([ownRunsParent(this.promptUri).fsPath, runsParentFor(config, this.promptUri).fsPath, ...this.extraParents])];
  }

  /** Remembers a run folder opened from elsewhere; true when its parent is a new folder. */
  adopt(run: RecordedRun): boolean {
    this.known.set(run.runId, run.runDir);
    const inside = this.parents().some((parent) => {
      const rel = relative(parent, run.runDir);
      return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
    });
    if (inside) return false;
    this.extraParents.push(join(run.runDir, '..'));
    return true;
  }

  /** Earlier runs of this prompt, newest first (remembered by id). */
  async list(): Promise<RecordedRun[]> {
    const own = ownRunsParent(this.promptUri).fsPath;
    const parents: RunsParent[] = this.parents().map((dir) => ({ dir, shared: dir !== own }));
    const runs = await listRecordedRuns(this.promptUri.fsPath, parents);
    for (const run of runs) this.known.set(run.runId, run.runDir);
    return runs;
  }

  async runDirOf(runId: string): Promise<string> {
    const liveDir = this.controller.isLive(runId) ? this.controller.liveView?.runDir : undefined;
    if (liveDir) return liveDir;
    if (!this.known.has(runId)) await this.list();
    const dir = this.known.get(runId);
    if (!dir) throw new ContactSheetError('run-not-resumable', 'That run is no longer on disk.', { action: 'Pick another run from the history.' });
    return dir;
  }

  async imagePath(ref: ImageRef): Promise<string> {
    const live = this.controller.liveImagePath(ref);
    if (live) return live;
    const run = await readRecordedRun(await this.runDirOf(ref.runId));
    const image = run.trace.images[ref.index];
    const file = image ? imageFileOf(run.runDir, image) : null;
    if (!file) throw new ContactSheetError('image-unreadable', `Image ${ref.index + 1} of this run is not on disk.`, { action: 'Open the run folder to see what it holds.' });
    return join(run.runDir, file);
  }

  async imageSeed(ref: ImageRef): Promise<number> {
    const live = this.controller.liveView?.view;
    if (live && live.runId === ref.runId && live.images[ref.index]) return live.images[ref.index].seed;
    const run = await readRecordedRun(await this.runDirOf(ref.runId));
    const image = run.trace.images[ref.index];
    if (!image) throw new ContactSheetError('bad-usage', `This run has no image ${ref.index + 1}.`);
    return image.seed;
  }
}
