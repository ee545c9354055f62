import { choosePromptFile } from '../promptFileChooser';
import type { ExtensionServices } from '../extensionServices';
import { ResultsPanel } from '../panel/resultsPanel';

/**
 * "Generate Images from Prompt": opens the prompt's results panel (prompt + plan).
 * The argument is the explorer/editor-title URI when run from a menu.
 */
export async function generateFromPrompt(services: ExtensionServices, argument?: unknown): Promise<void> {
  const promptUri = await choosePromptFile(argument);
  if (!promptUri) return;
  ResultsPanel.show(services, promptUri);
}
