import * as vscode from 'vscode';

/** Opens an image (or any run file) in an editor tab beside the panel. */
export async function openImage(path: string): Promise<void> {
  await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(path), { viewColumn: vscode.ViewColumn.Beside, preview: true });
}

/** Shows a file or folder in the explorer when it is in the workspace, else in the OS's file manager. */
export async function revealPath(path: string): Promise<void> {
  const uri = vscode.Uri.file(path);
  if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
  else await vscode.commands.executeCommand('revealFileInOS', uri);
}

export async function copyText(text: string): Promise<void> {
  await vscode.env.clipboard.writeText(text);
}
