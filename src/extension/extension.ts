import * as vscode from 'vscode';

export function activate(_context: vscode.ExtensionContext): void {
  // Filled in by the Foundation work.
}

export function deactivate(): void {}
