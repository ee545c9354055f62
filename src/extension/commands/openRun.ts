import * as vscode from 'vscode';
import { ContactSheetError } from '../../shared/errors';
import type { ExtensionServices } from '../extensionServices';
import { readRecordedRun, runDirOf } from '../history/recordedRuns';
import { ResultsPanel } from '../panel/resultsPanel';

/**
 * "Contact Sheet: Open Run": a run folder or its generation_trace.json (explorer context menu, or
 * picked in a dialog) opens in its prompt's panel, with the run in the grid.
 */
export async function openRun(services: ExtensionServices, argument?: unknown): Promise<void> {
  const target = argument instanceof vscode.Uri ? argument : await pickRun();
  if (!target) return;
  if (target.scheme !== 'file') throw new ContactSheetError('bad-usage', 'Only runs on this machine can be opened.', { action: 'Open a run folder from a local workspace.' });
  const run = await readRecordedRun(runDirOf(target.fsPath)).catch(() => {
    throw new ContactSheetError('run-not-resumable', `${vscode.workspace.asRelativePath(target)} is not a Contact Sheet run.`, {
      action: 'Choose a run folder (it holds generation_trace.json) or its generation_trace.json.',
    });
  });
  const promptPath = run.trace.prompt_file;
  const promptUri = promptPath ? vscode.Uri.file(promptPath) : undefined;
  if (!promptUri || !(await exists(promptUri))) {
    throw new ContactSheetError('prompt-missing', `The prompt file of this run (${promptPath ?? 'not recorded'}) is gone.`, {
      action: 'Put the prompt file back where it was, or open the run folder\'s summary.md.',
    });
  }
  const panel = ResultsPanel.show(services, promptUri);
  await panel.showRecordedRun(run.runDir);
}

async function pickRun(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: 'Open a Contact Sheet run',
    openLabel: 'Open Run',
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: false,
    filters: { 'Generation trace': ['json'] },
  });
  return picked?.[0];
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}
