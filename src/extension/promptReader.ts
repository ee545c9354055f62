import * as vscode from 'vscode';
import { ContactSheetError } from '../shared/errors';
import { MAX_PROMPT_FILE_BYTES, parsePromptBytes, type PromptFile } from '../core/prompt';
import type { PromptView } from '../shared/protocol';

export interface LoadedPrompt {
  prompt: PromptFile;
  view: PromptView;
  /** The text came from an open editor with unsaved changes. */
  dirty: boolean;
}

/**
 * Reads and parses a prompt with the engine's parser (front matter, markdown title). An open
 * editor with unsaved changes wins over the file: a run uses what the user sees, and says so
 * (PromptFile.unsavedEdits). Files go through vscode.workspace.fs, their size checked before their
 * contents are read, so the 100 KB limit holds before anything large is loaded.
 */
export async function readPrompt(uri: vscode.Uri): Promise<LoadedPrompt> {
  const displayPath = vscode.workspace.asRelativePath(uri);
  const document = openDocument(uri);
  let bytes: Buffer;
  const dirty = document?.isDirty === true;
  if (document && dirty) {
    bytes = Buffer.from(document.getText(), 'utf8');
    if (bytes.byteLength > MAX_PROMPT_FILE_BYTES) throw tooLarge(displayPath);
  } else {
    bytes = await readBoundedFile(uri, displayPath);
  }
  const format = uri.path.toLowerCase().endsWith('.md') ? 'md' : 'txt';
  const prompt: PromptFile = {
    ...parsePromptBytes(bytes, format, displayPath),
    path: uri.fsPath,
    format,
    ...(dirty ? { unsavedEdits: true } : {}),
  };
  return { prompt, view: promptView(uri, displayPath, prompt), dirty };
}

export function promptView(uri: vscode.Uri, displayPath: string, prompt: PromptFile): PromptView {
  return { uri: uri.toString(), displayPath, text: prompt.text, negative: prompt.negative, original: prompt.original, title: prompt.title };
}

/** The prompt's editor document when it is open in this window. */
export function openDocument(uri: vscode.Uri): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
}

async function readBoundedFile(uri: vscode.Uri, displayPath: string): Promise<Buffer> {
  let size: number;
  try {
    const stat = await vscode.workspace.fs.stat(uri);
    if (!(stat.type & vscode.FileType.File)) throw new Error('not a file');
    size = stat.size;
  } catch (e) {
    throw unreadable(displayPath, e);
  }
  if (size > MAX_PROMPT_FILE_BYTES) throw tooLarge(displayPath);
  let bytes: Uint8Array;
  try {
    bytes = await vscode.workspace.fs.readFile(uri);
  } catch (e) {
    throw unreadable(displayPath, e);
  }
  // The file may have grown between stat and read.
  if (bytes.byteLength > MAX_PROMPT_FILE_BYTES) throw tooLarge(displayPath);
  return Buffer.from(bytes);
}

function unreadable(displayPath: string, cause: unknown): ContactSheetError {
  return new ContactSheetError('prompt-unreadable', `Cannot read ${displayPath}.`, { action: 'Check that the prompt file exists and is readable.', cause });
}

function tooLarge(displayPath: string): ContactSheetError {
  return new ContactSheetError('prompt-too-large', `${displayPath} is larger than ${MAX_PROMPT_FILE_BYTES / 1024} KB.`, {
    action: 'Use a file that contains only the prompt.',
  });
}
