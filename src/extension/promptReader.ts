import * as vscode from 'vscode';
import { ContactSheetError } from '../core/errors';
import type { PromptView } from '../shared/protocol';

/** Generous for a prompt; anything larger is almost certainly the wrong file. */
const MAX_PROMPT_BYTES = 1024 * 1024;

/** Reads a prompt file for display; typed errors for missing, binary or oversized files. */
export async function readPromptView(uri: vscode.Uri): Promise<PromptView> {
  let bytes: Uint8Array;
  try {
    bytes = await vscode.workspace.fs.readFile(uri);
  } catch (e) {
    throw new ContactSheetError('prompt-unreadable', `Cannot read ${vscode.workspace.asRelativePath(uri)}.`, {
      action: 'Check that the prompt file exists and is readable.',
      cause: e,
    });
  }
  if (bytes.byteLength > MAX_PROMPT_BYTES) {
    throw new ContactSheetError('prompt-too-large', `${vscode.workspace.asRelativePath(uri)} is larger than 1 MB.`, {
      action: 'Use a file that contains only the prompt.',
    });
  }
  if (bytes.includes(0)) {
    throw new ContactSheetError('prompt-binary', `${vscode.workspace.asRelativePath(uri)} is not a text file.`, {
      action: 'Choose a UTF-8 .txt or .md file.',
    });
  }
  return {
    uri: uri.toString(),
    displayPath: vscode.workspace.asRelativePath(uri),
    text: new TextDecoder('utf-8').decode(bytes),
  };
}
