/**
 * The plan controls (model, number of images, aspect ratio, base seed), pre-filled from the
 * host's plan. A new plan from the host (settings or front matter changed) refreshes only the
 * fields the user has not changed; what the user typed wins until the next run.
 */
import { MAX_IMAGES, MAX_SEED, MIN_IMAGES, PLAN_ASPECT_RATIOS, type PlanAspectRatio, type PlanChoice, type RunPlanView } from '../shared/protocol';
import { el, setText } from './elements';

type Field = 'model' | 'count' | 'aspect' | 'seed';

export type PlanReading = { ok: true; plan: PlanChoice } | { ok: false; problem: string; field: HTMLElement };

export class PlanControls {
  readonly root: HTMLElement;
  readonly model: HTMLInputElement;
  readonly count: HTMLInputElement;
  readonly aspect: HTMLSelectElement;
  readonly seed: HTMLInputElement;
  private readonly models = el('datalist', { attrs: { id: 'plan-models' } });
  private readonly details = el('p', { className: 'plan-details', testid: 'plan' });
  private readonly fallbacks = el('span', { testid: 'plan-fallbacks' });
  private readonly seedRange = el('span', { testid: 'plan-seed-range' });
  private readonly scoring = el('span', { testid: 'plan-scoring' });
  private readonly output = el('span', { testid: 'plan-output' });
  /** The host's last value per field, to tell a user edit from a stale pre-fill. */
  private readonly hostValues: Record<Field, string> = { model: '', count: '', aspect: '', seed: '' };
  private plan: RunPlanView | null = null;
  private filled = false;

  constructor() {
    this.model = el('input', { className: 'input', attrs: { id: 'plan-model', type: 'text', list: 'plan-models', spellcheck: 'false', autocomplete: 'off' }, testid: 'plan-model' });
    this.count = el('input', {
      className: 'input input-narrow',
      attrs: { id: 'plan-count', type: 'number', min: String(MIN_IMAGES), max: String(MAX_IMAGES), step: '1', inputmode: 'numeric' },
      testid: 'plan-count',
    });
    this.aspect = el(
      'select',
      { className: 'select', attrs: { id: 'plan-aspect-ratio' }, testid: 'plan-aspect-ratio' },
      PLAN_ASPECT_RATIOS.map((r) => el('option', { text: r, attrs: { value: r } })),
    );
    this.seed = el('input', {
      className: 'input input-seed',
      attrs: { id: 'plan-seed', type: 'number', min: '0', max: String(MAX_SEED), step: '1', placeholder: 'random', inputmode: 'numeric' },
      testid: 'plan-seed',
    });
    for (const input of [this.count, this.seed]) input.addEventListener('input', () => this.describe());
    const field = (id: string, label: string, control: HTMLElement, className = '') => el('div', { className: `field ${className}` }, [el('label', { attrs: { for: id }, text: label }), control]);
    const fields = el('div', { className: 'plan-fields' }, [
      field('plan-model', 'Model', this.model, 'field-model'),
      field('plan-count', 'Images', this.count),
      field('plan-aspect-ratio', 'Aspect ratio', this.aspect),
      field('plan-seed', 'Seed', this.seed),
    ]);
    this.details.append('Fallbacks: ', this.fallbacks, ' · Seeds ', this.seedRange, ' · ', this.scoring, ' · Output: ', this.output);
    this.root = el('div', { className: 'plan' }, [fields, this.models]);
  }

  /** The details line (fallbacks, seeds, scoring, output folder), placed by the header. */
  get detailsLine(): HTMLElement {
    return this.details;
  }

  show(plan: RunPlanView): void {
    this.plan = plan;
    this.prefill('model', this.model, plan.model);
    this.prefill('count', this.count, String(plan.numVariations));
    this.prefill('aspect', this.aspect, plan.aspectRatio);
    this.prefill('seed', this.seed, plan.seed === null ? '' : String(plan.seed));
    this.models.replaceChildren(...[plan.model, ...plan.fallbackModels].map((m) => el('option', { attrs: { value: m } })));
    setText(this.fallbacks, plan.fallbackModels.length ? plan.fallbackModels.join(', ') : 'none');
    setText(this.scoring, `PickScore, CLIP-Score, ${plan.vqascore ? 'VQAScore, ' : ''}aesthetic (${plan.precision})`);
    setText(this.output, plan.outputFolder);
    this.filled = true;
    this.describe();
  }

  /** Puts values in the controls as if the user chose them (re-run from an image's seed). */
  set(values: Partial<PlanChoice>): void {
    if (values.model !== undefined) this.model.value = values.model;
    if (values.numVariations !== undefined) this.count.value = String(values.numVariations);
    if (values.aspectRatio !== undefined) this.aspect.value = values.aspectRatio;
    if (values.seed !== undefined) this.seed.value = values.seed === null ? '' : String(values.seed);
    this.describe();
  }

  read(): PlanReading {
    const model = this.model.value.trim();
    if (!/^[\w.-]+\/[\w.-]+(:[\w.-]+)?$/.test(model)) return { ok: false, problem: 'Model must be owner/name or owner/name:version.', field: this.model };
    const count = Number(this.count.value);
    if (!Number.isInteger(count) || count < MIN_IMAGES || count > MAX_IMAGES) return { ok: false, problem: `Images must be a whole number from ${MIN_IMAGES} to ${MAX_IMAGES}.`, field: this.count };
    const aspectRatio = this.aspect.value as PlanAspectRatio;
    if (!PLAN_ASPECT_RATIOS.includes(aspectRatio)) return { ok: false, problem: 'Choose an aspect ratio.', field: this.aspect };
    const seedText = this.seed.value.trim();
    const seed = seedText === '' ? null : Number(seedText);
    if (seed !== null && (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED)) {
      return { ok: false, problem: `Seed must be empty (random) or a whole number from 0 to ${MAX_SEED}.`, field: this.seed };
    }
    return { ok: true, plan: { model, numVariations: count, aspectRatio, seed } };
  }

  private prefill(field: Field, control: HTMLInputElement | HTMLSelectElement, value: string): void {
    if (!this.filled || control.value === this.hostValues[field]) control.value = value;
    this.hostValues[field] = value;
  }

  /** Seeds the run will use, as "42 … 49", or "random". */
  private describe(): void {
    const seed = this.seed.value.trim() === '' ? null : Number(this.seed.value);
    const count = Number(this.count.value) || this.plan?.numVariations || 1;
    setText(this.seedRange, seed === null || !Number.isInteger(seed) ? 'random' : count > 1 ? `${seed} … ${seed + count - 1}` : String(seed));
  }
}
