import type * as vscode from 'vscode';
import type { ExtensionServices } from '../extensionServices';
import { RunController } from './runController';

/**
 * The run controllers, one per prompt file, kept while a run goes on (whether or not its panel
 * is open); deactivate cancels the runs still going.
 */
export class RunControllers implements vscode.Disposable {
  private readonly controllers = new Map<string, RunController>();

  constructor(private readonly services: () => ExtensionServices) {}

  for(promptUri: vscode.Uri): RunController {
    const key = promptUri.toString();
    for (const [k, c] of this.controllers) if (k !== key && c.idle) this.controllers.delete(k);
    let controller = this.controllers.get(key);
    if (!controller) {
      controller = new RunController(this.services(), promptUri);
      this.controllers.set(key, controller);
    }
    return controller;
  }

  dispose(): void {
    for (const controller of this.controllers.values()) controller.dispose();
    this.controllers.clear();
  }
}
