import * as vscode from 'vscode';
import type { ExtensionServices } from '../extensionServices';
import { isPromptFile } from '../promptFileChooser';
import { ResultsPanel } from './resultsPanel';

/**
 * Restores results panels after a window reload, from disk: the webview persisted only the
 * prompt's identity (and the run it showed), the panel re-reads the prompt, the plan and the runs'
 * traces. A panel whose prompt file is gone is closed.
 */
export class ResultsPanelSerializer implements vscode.WebviewPanelSerializer<unknown> {
  constructor(private readonly services: ExtensionServices) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const promptUri = await restorablePromptUri(state);
    if (!promptUri) {
      this.services.logger.info('A results panel could not be restored: its prompt file is gone.');
      panel.dispose();
      return;
    }
    ResultsPanel.revive(this.services, panel, promptUri);
  }
}

async function restorablePromptUri(state: unknown): Promise<vscode.Uri | undefined> {
  const raw = (state as { promptUri?: unknown } | undefined)?.promptUri;
  if (typeof raw !== 'string') return undefined;
  let uri: vscode.Uri;
  try {
    uri = vscode.Uri.parse(raw, true);
  } catch {
    return undefined;
  }
  if (uri.scheme !== 'file' || !isPromptFile(uri)) return undefined;
  try {
    const stat = await vscode.workspace.fs.stat(uri);
    return stat.type & vscode.FileType.File ? uri : undefined;
  } catch {
    return undefined;
  }
}
