import * as vscode from 'vscode';
import { locatePromptText, parsePromptText } from '../../core/prompt';
import type { PromptView } from '../../shared/protocol';

function formatOf(uri: vscode.Uri): 'txt' | 'md' {
  return uri.path.toLowerCase().endsWith('.md') ? 'md' : 'txt';
}

/**
 * Replaces the prompt text (not the front matter or the markdown title) in the prompt's document
 * as one ordinary edit: it lands in the editor's undo stack, marks the document dirty, and is
 * saved (or not) like any other change. Resolves false when VS Code refused the edit.
 */
export async function applyPromptEdit(uri: vscode.Uri, text: string): Promise<boolean> {
  const document = await vscode.workspace.openTextDocument(uri);
  const content = document.getText();
  const { start, end } = locatePromptText(content, formatOf(uri), vscode.workspace.asRelativePath(uri));
  if (content.slice(start, end).replace(/\r\n?/g, '\n') === text.replace(/\r\n?/g, '\n')) return true;
  const edit = new vscode.WorkspaceEdit();
  edit.replace(uri, new vscode.Range(document.positionAt(start), document.positionAt(end)), text);
  return vscode.workspace.applyEdit(edit);
}

export async function savePrompt(uri: vscode.Uri): Promise<boolean> {
  const document = await vscode.workspace.openTextDocument(uri);
  return document.isDirty ? document.save() : true;
}

/**
 * The prompt as an editor holds it now, for prompt/changed. While the user types the text may
 * not parse (an empty body): then the prompt span is shown as it is, the rest as before. Null
 * when even the front matter cannot be read.
 */
export function promptViewFromDocument(document: vscode.TextDocument, previous: PromptView): PromptView | null {
  const content = document.getText();
  const format = formatOf(document.uri);
  try {
    const prompt = parsePromptText(content, format, previous.displayPath);
    return { ...previous, text: prompt.text, negative: prompt.negative, original: prompt.original, title: prompt.title };
  } catch {
    try {
      const { start, end } = locatePromptText(content, format);
      return { ...previous, text: content.slice(start, end).replace(/\r\n?/g, '\n') };
    } catch {
      return null;
    }
  }
}
