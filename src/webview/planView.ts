import type { PanelState, RunPlanView } from '../shared/protocol';

/**
 * Renders the prompt and the plan. Everything user-provided goes through textContent, never
 * innerHTML: the prompt is untrusted text.
 */
export function renderPanelState(root: HTMLElement, state: PanelState, onOpenPrompt: () => void): void {
  root.replaceChildren(promptSection(state, onOpenPrompt), planSection(state.plan));
  root.setAttribute('aria-busy', 'false');
}

export function renderError(root: HTMLElement, message: string): void {
  const p = element('p', 'error', message);
  p.setAttribute('role', 'alert');
  root.replaceChildren(p);
  root.setAttribute('aria-busy', 'false');
}

function promptSection(state: PanelState, onOpenPrompt: () => void): HTMLElement {
  const section = element('section', 'prompt');
  const header = element('header', 'section-header');
  header.append(element('h2', '', 'Prompt'));
  const open = element('button', 'link-button', state.prompt.displayPath);
  open.title = 'Open the prompt file';
  open.addEventListener('click', onOpenPrompt);
  header.append(open);
  if (state.prompt.title) header.append(element('span', 'prompt-title', state.prompt.title));
  const text = element('pre', 'prompt-text', state.prompt.text);
  text.dataset.testid = 'prompt-text';
  section.append(header, text);
  const extras: [string, string, string | null][] = [
    ['negative', 'Negative prompt', state.prompt.negative],
    ['original', 'Original prompt', state.prompt.original],
  ];
  const present = extras.filter(([, , value]) => value);
  if (present.length) section.append(definitionList('prompt-extras', present as [string, string, string][]));
  return section;
}

function definitionList(testid: string, rows: [string, string, string][]): HTMLElement {
  const list = element('dl', `plan-list ${testid}`);
  list.dataset.testid = testid;
  for (const [id, label, value] of rows) {
    const dd = element('dd', '', value);
    dd.dataset.testid = `${testid}-${id}`;
    list.append(element('dt', '', label), dd);
  }
  return list;
}

function planSection(plan: RunPlanView): HTMLElement {
  const section = element('section', 'plan');
  section.append(element('h2', '', 'Plan'));
  const rows: [string, string, string][] = [
    ['model', 'Model', plan.model],
    ['fallbacks', 'Fallback models', plan.fallbackModels.length ? plan.fallbackModels.join(', ') : 'none'],
    ['count', 'Images', String(plan.numVariations)],
    ['aspect-ratio', 'Aspect ratio', plan.aspectRatio],
    ['seed', 'Seed', plan.seed === null ? 'random' : `${plan.seed} … ${plan.seed + plan.numVariations - 1}`],
    ['scoring', 'Scoring', `PickScore, CLIP-Score, ${plan.vqascore ? 'VQAScore, ' : ''}aesthetic (${plan.precision})`],
    ['output', 'Output folder', plan.outputFolder],
  ];
  section.append(definitionList('plan', rows));
  return section;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}
