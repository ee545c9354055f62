import * as vscode from 'vscode';
import { MAX_IMAGES, MAX_SEED, MIN_IMAGES, PLAN_ASPECT_RATIOS, type PlanAspectRatio, type PlanChoice, type RunPlanView } from '../../shared/protocol';

const MODEL_PATTERN = /^[\w.-]+\/[\w.-]+(:[0-9a-f]{64})?$/;

interface OptionItem extends vscode.QuickPickItem {
  key: 'run' | 'model' | 'count' | 'aspect' | 'seed' | 'always';
}

/**
 * The quick options step before a run: one list whose first item runs at once with what it shows
 * (settings and front matter), the others change model, count, aspect ratio or seed and come back.
 * Undefined when dismissed. "Run without asking next time" turns contactSheet.askForOptions off.
 */
export async function pickRunOptions(plan: RunPlanView, promptLabel: string): Promise<PlanChoice | undefined> {
  const choice: PlanChoice = { model: plan.model, numVariations: plan.numVariations, aspectRatio: plan.aspectRatio, seed: plan.seed };
  for (;;) {
    const picked = await vscode.window.showQuickPick(items(choice), {
      title: `Generate Images from ${promptLabel}`,
      placeHolder: 'Enter runs with these options; pick one to change it',
      ignoreFocusOut: true,
    });
    if (!picked) return undefined;
    switch (picked.key) {
      case 'run':
        return choice;
      case 'always':
        await vscode.workspace.getConfiguration('contactSheet').update('askForOptions', false, vscode.ConfigurationTarget.Global);
        return choice;
      case 'model': {
        const model = await vscode.window.showInputBox({
          title: 'Replicate model',
          value: choice.model,
          prompt: 'owner/name, or owner/name:<64-hex version>',
          validateInput: (v) => (MODEL_PATTERN.test(v.trim()) ? undefined : 'Use owner/name or owner/name:<64-hex version>.'),
        });
        if (model !== undefined) choice.model = model.trim();
        break;
      }
      case 'count': {
        const counts = Array.from({ length: MAX_IMAGES - MIN_IMAGES + 1 }, (_, i) => String(MIN_IMAGES + i));
        const count = await vscode.window.showQuickPick(counts.map((label) => ({ label, picked: label === String(choice.numVariations) })), { title: 'Number of images' });
        if (count) choice.numVariations = Number(count.label);
        break;
      }
      case 'aspect': {
        const ratio = await vscode.window.showQuickPick(PLAN_ASPECT_RATIOS.map((label) => ({ label, description: label === choice.aspectRatio ? 'current' : undefined })), { title: 'Aspect ratio' });
        if (ratio) choice.aspectRatio = ratio.label as PlanAspectRatio;
        break;
      }
      case 'seed': {
        const seed = await vscode.window.showInputBox({
          title: 'Base seed',
          value: choice.seed === null ? '' : String(choice.seed),
          prompt: `Image i gets seed + i. Empty: a random base seed. 0–${MAX_SEED}.`,
          validateInput: (v) => (!v.trim() || (/^\d+$/.test(v.trim()) && Number(v) <= MAX_SEED) ? undefined : `A whole number from 0 to ${MAX_SEED}, or empty.`),
        });
        if (seed !== undefined) choice.seed = seed.trim() ? Number(seed.trim()) : null;
        break;
      }
    }
  }
}

function items(choice: PlanChoice): OptionItem[] {
  const seed = choice.seed === null ? 'random' : `${choice.seed}`;
  return [
    { key: 'run', label: '$(play) Run', description: `${choice.numVariations} images · ${choice.model} · ${choice.aspectRatio} · seed ${seed}`, alwaysShow: true },
    { key: 'model', label: 'Model', description: choice.model },
    { key: 'count', label: 'Images', description: String(choice.numVariations) },
    { key: 'aspect', label: 'Aspect ratio', description: choice.aspectRatio },
    { key: 'seed', label: 'Seed', description: seed },
    { key: 'always', label: '$(run-all) Run, and skip this step next time', description: 'contactSheet.askForOptions: false' },
  ];
}
