import * as vscode from 'vscode';
import { ContactSheetError } from '../shared/errors';
import { MAX_PROMPT_FILE_BYTES, parsePromptBytes, type PromptFile } from '../core/prompt';
import type { PromptView } from '../shared/protocol';

export interface LoadedPrompt {
  prompt: PromptFile;
  view: PromptView;
}

/**
 * Reads and parses a prompt file with the engine's parser (front matter, markdown title), through
 * vscode.workspace.fs so that unsaved-to-disk providers and remote file systems behave.
 */
export async function readPrompt(uri: vscode.Uri): Promise<LoadedPrompt> {
  const displayPath = vscode.workspace.asRelativePath(uri);
  let bytes: Uint8Array;
  try {
    bytes = await vscode.workspace.fs.readFile(uri);
  } catch (e) {
    throw new ContactSheetError('prompt-unreadable', `Cannot read ${displayPath}.`, {
      action: 'Check that the prompt file exists and is readable.',
      cause: e,
    });
  }
  if (bytes.byteLength > MAX_PROMPT_FILE_BYTES) {
    throw new ContactSheetError('prompt-too-large', `${displayPath} is larger than ${MAX_PROMPT_FILE_BYTES / 1024} KB.`, {
      action: 'Use a file that contains only the prompt.',
    });
  }
  const format = uri.path.toLowerCase().endsWith('.md') ? 'md' : 'txt';
  const prompt: PromptFile = { ...parsePromptBytes(Buffer.from(bytes), format, displayPath), path: uri.fsPath, format };
  return {
    prompt,
    view: {
      uri: uri.toString(),
      displayPath,
      text: prompt.text,
      negative: prompt.negative,
      original: prompt.original,
      title: prompt.title,
    },
  };
}
