import { posix } from 'node:path';
import * as vscode from 'vscode';
import { ContactSheetError } from '../shared/errors';

const PROMPT_EXTENSIONS = ['.txt', '.md'];

export function isPromptFile(uri: vscode.Uri): boolean {
  const path = uri.path.toLowerCase();
  return PROMPT_EXTENSIONS.some((ext) => path.endsWith(ext));
}

/**
 * The prompt file a command should work on: the explorer/editor-title argument, else the active
 * editor's file, else one picked from the workspace. Undefined when the user dismisses the pick.
 */
export async function choosePromptFile(argument: unknown): Promise<vscode.Uri | undefined> {
  if (argument instanceof vscode.Uri) return requirePromptFile(argument);
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active && active.scheme === 'file' && isPromptFile(active)) return active;
  return pickWorkspacePromptFile();
}

function requirePromptFile(uri: vscode.Uri): vscode.Uri {
  if (!isPromptFile(uri)) {
    throw new ContactSheetError('bad-usage', `${posix.basename(uri.path)} is not a prompt file.`, {
      action: 'Choose a .txt or .md file that contains the prompt.',
    });
  }
  return uri;
}

async function pickWorkspacePromptFile(): Promise<vscode.Uri | undefined> {
  // Bounded search: huge workspaces must not stall the command.
  const files = await vscode.workspace.findFiles('**/*.{txt,md}', '**/{node_modules,.git,*.images}/**', 500);
  if (files.length === 0) {
    throw new ContactSheetError('prompt-missing', 'No .txt or .md prompt file found in this workspace.', {
      action: 'Create a .txt file with your prompt, then run the command on it.',
    });
  }
  files.sort((a, b) => a.path.localeCompare(b.path));
  const picked = await vscode.window.showQuickPick(
    files.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
    { title: 'Generate Images from Prompt', placeHolder: 'Choose the prompt file', matchOnDescription: true },
  );
  return picked?.uri;
}
