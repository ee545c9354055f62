import * as vscode from 'vscode';
import { toContactSheetError } from '../../shared/errors';
import type { CommandId } from '../commandIds';
import type { ExtensionServices } from '../extensionServices';
import { downloadModels } from './downloadModels';
import { generateFromPrompt } from './generateFromPrompt';
import { openRun } from './openRun';
import { setApiToken } from './setApiToken';

type CommandHandler = (services: ExtensionServices, ...args: unknown[]) => Promise<void>;

/** Every contributed command and its handler; registered in one loop by activate(). */
export const COMMAND_HANDLERS: Record<CommandId, CommandHandler> = {
  'contactSheet.generate': (services, argument) => generateFromPrompt(services, argument),
  'contactSheet.openRun': (services, argument) => openRun(services, argument),
  'contactSheet.setApiToken': async (services) => void (await setApiToken(services)),
  'contactSheet.downloadModels': (services, argument) => downloadModels(services, argument),
};

export function registerCommands(services: ExtensionServices): vscode.Disposable[] {
  return Object.entries(COMMAND_HANDLERS).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        await handler(services, ...args);
      } catch (e) {
        reportCommandError(services, id, e);
      }
    }),
  );
}

/**
 * A failed command tells the user what happened and what to do; details go to the log.
 * Not awaited: the message resolves only when dismissed, and the command should settle now.
 */
function reportCommandError(services: ExtensionServices, id: string, e: unknown): void {
  const error = toContactSheetError(e);
  if (error.code === 'canceled') {
    services.logger.info(`${id}: ${error.message}`);
    return;
  }
  services.logger.error(`${id} failed: [${error.code}] ${error.message}`);
  const text = error.action ? `${error.message} ${error.action}` : error.message;
  void services.notifier.error(`Contact Sheet: ${text}`, 'Show Log').then((choice) => {
    if (choice === 'Show Log') services.showLog();
  });
}
