/**
 * One candidate in the grid: a placeholder while its prediction runs, the thumbnail as soon as it
 * is on disk, scores as they arrive, its rank (top 3 badged) and its actions. Built once per
 * image and updated in place (keyed by index), so a live run never re-renders the grid.
 */
import type { PlanAspectRatio, RunImageView } from '../shared/protocol';
import { formatCost, formatPercent, formatScore, imageName, METRICS, ordinal, shortModel, STAGE_TEXT } from './displayFormat';
import { el, icon, iconButton, setAttr, setText } from './elements';
import { ScoreBars } from './scoreBars';

export type CardAction = 'open' | 'reveal' | 'copySeed' | 'copyPath' | 'rerun';

export interface CardHandlers {
  toggleSelected(index: number): void;
  enlarge(index: number): void;
  action(action: CardAction, index: number): void;
  /** The thumbnail finished loading (img `load`). */
  shown(index: number, src: string): void;
}

export interface CardContext {
  aspectRatio: PlanAspectRatio;
  rankingFinal: boolean;
  rankedCount: number;
  selected: boolean;
  /** False when the selection is full (4) and this card is not in it. */
  selectable: boolean;
}

const STAGE_ICON: Partial<Record<RunImageView['stage'], string>> = {
  queued: 'clock',
  starting: 'loading',
  processing: 'loading',
  downloading: 'cloud-download',
  failed: 'error',
};

export class ImageCard {
  readonly root: HTMLLIElement;
  private readonly media: HTMLElement;
  private readonly img: HTMLImageElement;
  private readonly status: HTMLElement;
  private statusIcon: HTMLElement;
  private readonly statusText: HTMLElement;
  private readonly statusDetail: HTMLElement;
  private readonly scoringPill: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly select: HTMLButtonElement;
  private readonly rank: HTMLElement;
  private readonly overall: HTMLElement;
  private readonly preference: HTMLElement;
  private readonly bars = new ScoreBars(METRICS.map((m) => m.id));
  private readonly meta: HTMLElement;
  private readonly metaSeed = el('span', { className: 'meta-line', testid: 'meta-seed' });
  private readonly metaCost = el('span', { className: 'meta-line', testid: 'meta-cost' });
  private readonly actions: Record<CardAction, HTMLButtonElement>;
  private statusIconName = '';
  /** A picture has loaded (until then the status stays over the empty frame). */
  private loaded = false;
  /** Picture URIs that failed to load (a preview whose file has moved): not tried again. */
  private readonly broken = new Set<string>();
  private fullUri: string | null = null;

  constructor(
    readonly index: number,
    private readonly handlers: CardHandlers,
  ) {
    this.img = el('img', { className: 'card-image', attrs: { alt: '', decoding: 'async', draggable: 'false' } });
    this.img.hidden = true;
    this.img.addEventListener('load', () => {
      this.img.hidden = false;
      this.loaded = true;
      if (this.root.dataset.stage !== 'failed') this.status.hidden = true;
      else this.status.classList.add('over-image');
      this.scoringPill.hidden = this.root.dataset.stage !== 'scoring';
      handlers.shown(index, this.img.src);
    });
    this.img.addEventListener('error', () => {
      // A preview that cannot load: the full image instead (once), rather than a spinner forever.
      const failed = this.img.getAttribute('src');
      if (failed) this.broken.add(failed);
      if (this.fullUri && !this.broken.has(this.fullUri)) this.img.src = this.fullUri;
    });
    this.img.addEventListener('click', () => handlers.enlarge(index));
    this.statusIcon = el('span');
    this.statusText = el('span', { className: 'card-status-text' });
    this.statusDetail = el('span', { className: 'card-status-detail' });
    this.status = el('div', { className: 'card-status', testid: 'card-status' }, [this.statusIcon, this.statusText, this.statusDetail]);
    this.scoringPill = el('span', { className: 'scoring-pill', attrs: { 'aria-hidden': 'true' } }, [icon('loading', 'codicon-modifier-spin'), el('span', { text: 'Scoring' })]);
    this.badge = el('span', { className: 'rank-badge', testid: 'rank-badge' });
    this.select = el('button', { className: 'select-toggle', attrs: { type: 'button', role: 'checkbox', 'aria-checked': 'false', 'aria-label': `Select ${imageName(index)} to compare` }, testid: 'select' }, [
      icon('check'),
    ]);
    this.select.addEventListener('click', (e) => {
      e.stopPropagation();
      handlers.toggleSelected(index);
    });
    this.media = el('div', { className: 'card-media' }, [this.img, this.status, this.scoringPill, this.select, this.badge]);

    this.rank = el('span', { className: 'card-rank', testid: 'rank' });
    this.overall = el('span', { className: 'overall-value', testid: 'overall' });
    this.preference = el('span', { className: 'preference', testid: 'preference' });
    const headline = el('div', { className: 'card-headline' }, [
      this.rank,
      el('span', { className: 'overall' }, [this.overall, el('span', { className: 'overall-label', text: 'overall' })]),
      this.preference,
    ]);
    this.meta = el('div', { className: 'card-meta', testid: 'meta' }, [this.metaSeed, this.metaCost]);
    const act = (action: CardAction, iconName: string, label: string) => iconButton(iconName, label, () => handlers.action(action, index), `action-${action}`);
    this.actions = {
      open: act('open', 'go-to-file', 'Open image in editor'),
      reveal: act('reveal', 'folder-opened', 'Reveal in explorer'),
      copySeed: act('copySeed', 'symbol-numeric', 'Copy seed'),
      copyPath: act('copyPath', 'copy', 'Copy path'),
      rerun: act('rerun', 'debug-rerun', 'Re-run from this seed'),
    };
    const toolbar = el('div', { className: 'card-actions', attrs: { role: 'toolbar', 'aria-label': `${imageName(index)} actions` } }, Object.values(this.actions));
    const body = el('div', { className: 'card-body' }, [headline, this.bars.root, this.meta, toolbar]);
    this.root = el('li', { className: 'card', attrs: { tabindex: '-1' }, testid: 'card' }, [this.media, body]);
    this.root.dataset.index = String(index);
  }

  /** Elements inside the card that Tab reaches when the card is the grid's active one. */
  get innerControls(): HTMLElement[] {
    return [this.select, ...Object.values(this.actions)];
  }

  update(image: RunImageView, context: CardContext): void {
    const { stage } = image;
    this.root.dataset.stage = stage;
    this.root.classList.toggle('selected', context.selected);
    this.media.style.setProperty('aspect-ratio', context.aspectRatio.replace(':', ' / '));

    // Picture: the thumbnail as soon as the host reports it saved.
    this.fullUri = image.imageUri;
    const thumb = [image.thumbnailUri, image.imageUri].find((u): u is string => !!u && !this.broken.has(u));
    if (thumb && this.img.getAttribute('src') !== thumb) this.img.src = thumb;
    setAttr(this.img, 'alt', `${imageName(image.index)}, seed ${image.seed}`);

    // Status overlay: everything before the picture has loaded, and failures.
    const showStatus = !this.loaded || stage === 'failed';
    this.status.hidden = !showStatus;
    if (showStatus) {
      const iconName = STAGE_ICON[stage] ?? 'loading';
      const spin = iconName === 'loading';
      const key = `${iconName}${spin}`;
      if (key !== this.statusIconName) {
        this.statusIconName = key;
        this.statusIcon.replaceWith((this.statusIcon = icon(iconName, spin ? 'codicon-modifier-spin' : '')));
      }
      setText(this.statusText, STAGE_TEXT[stage]);
      setText(this.statusDetail, stage === 'failed' ? (image.error?.message ?? '') : '');
      setAttr(this.status, 'title', stage === 'failed' && image.error?.action ? image.error.action : null);
    }
    this.status.classList.toggle('over-image', this.loaded);
    this.scoringPill.hidden = !(stage === 'scoring' && this.loaded);

    // Rank: every ranked card shows #n; the top 3 get a badge. Provisional until the final ranking.
    const rank = image.rank;
    setText(this.rank, rank !== null ? `#${rank}` : '');
    this.rank.hidden = rank === null;
    const badged = rank !== null && rank <= 3;
    this.badge.hidden = !badged;
    this.badge.className = `rank-badge${badged ? ` rank-${rank}` : ''}${context.rankingFinal ? '' : ' provisional'}`;
    if (badged) {
      this.badge.replaceChildren(...(rank === 1 ? [icon('star-full')] : []), el('span', { text: ordinal(rank) }));
      setAttr(this.badge, 'title', context.rankingFinal ? `Ranked ${ordinal(rank)}` : `Provisionally ${ordinal(rank)}: images are still arriving`);
    }

    // Scores.
    setText(this.overall, image.overall !== null ? formatScore(image.overall) : '—');
    this.overall.classList.toggle('empty', image.overall === null);
    setAttr(this.overall, 'title', image.overall !== null ? 'Overall score (weighted mean of the available metrics), 0–100' : 'Not scored yet');
    setText(this.preference, image.preferenceProbability !== null ? `${formatPercent(image.preferenceProbability)} preferred` : '');
    setAttr(this.preference, 'title', image.preferenceProbability !== null ? 'PickScore preference probability: the chance people prefer this image over the others of the run' : null);
    // Bars show "scoring" once the image is on disk; before that, just the metric names.
    this.bars.update(image.scores, stage === 'scoring');

    // Meta: seed, model, cost with its source.
    setText(this.metaSeed, [`seed ${image.seed}`, image.model ? shortModel(image.model) : null].filter(Boolean).join(' · '));
    setText(this.metaCost, image.cost ? `${formatCost(image.cost)} · ${image.cost.source}` : '');
    this.metaCost.hidden = !image.cost;
    setAttr(this.meta, 'title', [image.model, image.cost?.basis, image.cost ? `pricing of ${image.cost.pricingDate}` : null].filter(Boolean).join(' · ') || null);

    // Actions on the file need it on disk; the seed is known from the start.
    const onDisk = !!image.imageUri;
    this.actions.open.disabled = !onDisk;
    this.actions.reveal.disabled = !onDisk;
    this.actions.copyPath.disabled = !onDisk;

    // Selection.
    setAttr(this.select, 'aria-checked', String(context.selected));
    const blocked = !context.selected && !context.selectable;
    setAttr(this.select, 'aria-disabled', blocked ? 'true' : null);
    setAttr(this.select, 'title', blocked ? 'Up to 4 images can be compared' : context.selected ? 'Remove from comparison (Space)' : 'Select to compare (Space)');

    const label = [imageName(image.index)];
    if (rank !== null) label.push(`rank ${rank} of ${context.rankedCount}${context.rankingFinal ? '' : ' (provisional)'}`);
    if (image.overall !== null) label.push(`overall ${formatScore(image.overall)}`);
    else label.push(STAGE_TEXT[stage].replace('…', ''));
    if (context.selected) label.push('selected');
    setAttr(this.root, 'aria-label', label.join(', '));
  }
}
