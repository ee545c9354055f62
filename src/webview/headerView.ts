/**
 * The panel's header: the editable prompt, the plan controls with Run / Run again / Cancel, and,
 * when there is no usable token, the call to action (Set token, or run the labelled DEMO).
 */
import type { PlanChoice, PromptView, RunPlanView, TokenView } from '../shared/protocol';
import { el, icon, setButtonContent, setText, textButton } from './elements';
import { PlanControls } from './planControls';
import { PromptEditor } from './promptEditor';

export interface HeaderHandlers {
  edit(text: string): Promise<unknown>;
  save(): void;
  openPrompt(): void;
  run(plan: PlanChoice, demo: boolean): void;
  cancel(): void;
  setToken(): void;
}

export type RunButtonState = 'idle' | 'starting' | 'running' | 'canceling';

export class HeaderView {
  readonly root: HTMLElement;
  readonly prompt: PromptEditor;
  readonly plan = new PlanControls();
  private readonly runButton: HTMLButtonElement;
  private readonly cancelButton: HTMLButtonElement;
  private readonly problem = el('p', { className: 'plan-problem', attrs: { role: 'alert' }, testid: 'plan-problem' });
  private readonly tokenBanner: HTMLElement;
  private readonly tokenText = el('span', { testid: 'token-text' });
  private readonly demoButton: HTMLButtonElement;
  private readonly demoNote = el('span', { className: 'banner-note', text: 'DEMO uses a local fake Replicate and tiny random models: the whole loop, no cost, meaningless scores.' });
  private state: RunButtonState = 'idle';

  constructor(private readonly handlers: HeaderHandlers) {
    this.prompt = new PromptEditor({ edit: handlers.edit, save: handlers.save, open: handlers.openPrompt, run: () => this.startRun(false) });
    this.runButton = textButton('Run', 'primary', () => this.startRun(false), { icon: 'play', testid: 'run-button' });
    this.cancelButton = textButton('Cancel', 'secondary', () => handlers.cancel(), { icon: 'debug-stop', testid: 'cancel-button' });
    this.cancelButton.hidden = true;
    const setToken = textButton('Set token', 'primary', () => handlers.setToken(), { icon: 'key', testid: 'set-token' });
    this.demoButton = textButton('Run DEMO', 'secondary', () => this.startRun(true), { icon: 'beaker', testid: 'run-demo' });
    this.tokenBanner = el('div', { className: 'banner banner-info', attrs: { role: 'region', 'aria-label': 'Replicate token' }, testid: 'token-banner' }, [
      icon('info'),
      el('span', { className: 'banner-text' }, [this.tokenText, this.demoNote]),
      el('span', { className: 'banner-actions' }, [setToken, this.demoButton]),
    ]);
    this.tokenBanner.hidden = true;
    const runRow = el('div', { className: 'plan-row' }, [this.plan.root, el('div', { className: 'run-buttons' }, [this.runButton, this.cancelButton])]);
    this.problem.hidden = true;
    this.root = el('header', { className: 'panel-header' }, [this.prompt.root, runRow, this.plan.detailsLine, this.problem, this.tokenBanner]);
  }

  showPrompt(prompt: PromptView, dirty: boolean): void {
    this.prompt.show(prompt, dirty);
  }

  showPlan(plan: RunPlanView): void {
    this.plan.show(plan);
  }

  showToken(token: TokenView): void {
    const needed = token.status === 'missing' || token.status === 'invalid';
    this.tokenBanner.hidden = !needed;
    setText(
      this.tokenText,
      token.status === 'invalid'
        ? 'Replicate did not accept the stored API token. Set a new one to generate images. '
        : 'No Replicate API token is set. Contact Sheet needs one to generate images on Replicate. ',
    );
    this.demoButton.hidden = !token.demoAvailable;
    this.demoNote.hidden = !token.demoAvailable;
  }

  /** Run / Run again / Starting… / Cancel, from the run's state. */
  setRunState(state: RunButtonState, hasRun: boolean): void {
    this.state = state;
    const active = state === 'running' || state === 'canceling';
    this.cancelButton.hidden = !active;
    this.cancelButton.disabled = state === 'canceling';
    setButtonContent(this.cancelButton, state === 'canceling' ? 'Canceling…' : 'Cancel', state === 'canceling' ? 'loading' : 'debug-stop', state === 'canceling');
    this.runButton.hidden = active;
    this.runButton.disabled = state === 'starting';
    if (state === 'starting') setButtonContent(this.runButton, 'Starting…', 'loading', true);
    else setButtonContent(this.runButton, hasRun ? 'Run again' : 'Run', hasRun ? 'debug-rerun' : 'play');
  }

  showProblem(problem: string | null): void {
    this.problem.hidden = !problem;
    setText(this.problem, problem ?? '');
  }

  /** The controls' plan, or null after showing what is wrong (and focusing that control). */
  readPlan(): PlanChoice | null {
    const reading = this.plan.read();
    if (!reading.ok) {
      this.showProblem(reading.problem);
      reading.field.focus();
      return null;
    }
    this.showProblem(null);
    return reading.plan;
  }

  get canStart(): boolean {
    return this.state === 'idle';
  }

  /** Starts a run with the controls' values (after sending a pending prompt edit). */
  private startRun(demo: boolean): void {
    if (!this.canStart) return;
    const plan = this.readPlan();
    if (plan) void this.prompt.flush().then(() => this.handlers.run(plan, demo));
  }
}
