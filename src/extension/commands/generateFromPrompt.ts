import { posix } from 'node:path';
import * as vscode from 'vscode';
import { toContactSheetError } from '../../shared/errors';
import type { PlanChoice } from '../../shared/protocol';
import type { ExtensionServices } from '../extensionServices';
import { ResultsPanel } from '../panel/resultsPanel';
import { choosePromptFile } from '../promptFileChooser';
import { readPrompt } from '../promptReader';
import { pickRunOptions } from '../run/quickOptions';
import { readRunPlan } from '../runPlanSettings';
import { askForOptions } from '../settings/runSettings';
import { setApiToken } from './setApiToken';

/**
 * "Generate Images from Prompt" (palette, explorer, editor title): the prompt's panel, the quick
 * options step (unless contactSheet.askForOptions is off), then a run. Without a usable token it
 * offers to set one or to run the labelled DEMO. Resolves once the run has started (its progress
 * shows in a notification, the status bar and the panel).
 */
export async function generateFromPrompt(services: ExtensionServices, argument?: unknown): Promise<void> {
  const promptUri = await choosePromptFile(argument);
  if (!promptUri) return;
  const panel = ResultsPanel.show(services, promptUri);
  let plan: PlanChoice | null = null;
  if (askForOptions(vscode.workspace.getConfiguration('contactSheet', promptUri))) {
    const { prompt } = await readPrompt(promptUri);
    const picked = await pickRunOptions(await readRunPlan(promptUri, prompt), posix.basename(promptUri.path));
    if (!picked) return; // dismissed: the panel stays, with its Run button
    plan = picked;
  }
  await startOrOfferDemo(services, panel, plan);
}

/**
 * Starts a run; a missing or refused token turns into a choice (set one, then run; or run the
 * DEMO). The choice is not awaited: the command settles now, the toast waits for the user.
 */
async function startOrOfferDemo(services: ExtensionServices, panel: ResultsPanel, plan: PlanChoice | null): Promise<void> {
  try {
    await panel.startRun({ plan, demo: false, fromImage: null });
    return;
  } catch (e) {
    const error = toContactSheetError(e);
    if (error.code !== 'token-missing' && error.code !== 'token-invalid') throw error;
    const question =
      error.code === 'token-missing'
        ? 'Contact Sheet needs a Replicate API token to generate images. Set one, or run the DEMO: a local fake Replicate and tiny random-weight models (the whole loop, no cost, meaningless scores).'
        : 'Replicate did not accept the stored API token. Set a new one, or run the DEMO (local fake Replicate, tiny random-weight models, meaningless scores).';
    void services.notifier.warn(question, 'Set Token', 'Run DEMO').then(async (choice) => {
      try {
        if (choice === 'Run DEMO') await panel.startRun({ plan, demo: true, fromImage: null });
        else if (choice === 'Set Token' && (await setApiToken(services))) await panel.startRun({ plan, demo: false, fromImage: null });
      } catch (e2) {
        const failure = toContactSheetError(e2);
        services.logger.error(`The run could not start: [${failure.code}] ${failure.message}`);
        void services.notifier.error(`Contact Sheet: ${failure.message}${failure.action ? ` ${failure.action}` : ''}`);
      }
    });
  }
}
