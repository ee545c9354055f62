/**
 * The run shown in the grid, kept up to date from the host's run messages. Pure data (no DOM):
 * each update says what it changed, so the views touch only those cards.
 */
import type { ImageStage, RunUpdateMessage, RunView } from '../shared/protocol';

export interface RunChange {
  /** Indices of images whose card must be redrawn. */
  images: number[];
  /** The display order may have changed. */
  order: boolean;
}

/** How far along each stage is; status messages never move an image backwards. */
const STAGE_ORDER: Record<ImageStage, number> = { queued: 0, starting: 1, processing: 2, downloading: 3, scoring: 4, scored: 5, failed: 6 };

const MAX_NOTICES = 50;

/** Applies one run message to `run` (in place). Null when the message is for another run or names no image of it. */
export function applyRunUpdate(run: RunView, message: RunUpdateMessage): RunChange | null {
  if (message.runId !== run.runId) return null;
  const none: RunChange = { images: [], order: false };
  switch (message.type) {
    case 'run/phase':
      run.phase = message.phase;
      run.phaseDetail = message.detail;
      return none;
    case 'run/imageStatus': {
      const image = run.images[message.index];
      if (!image) return null;
      if (message.model) image.model = message.model;
      if (STAGE_ORDER[message.stage] > STAGE_ORDER[image.stage]) image.stage = message.stage;
      return { images: [image.index], order: false };
    }
    case 'run/imageSaved': {
      const image = run.images[message.index];
      if (!image) return null;
      Object.assign(image, {
        seed: message.seed,
        model: message.model,
        thumbnailUri: message.thumbnailUri,
        imageUri: message.imageUri,
        width: message.width,
        height: message.height,
        cost: message.cost,
        savedAt: message.savedAt,
      });
      if (STAGE_ORDER[image.stage] < STAGE_ORDER.scoring) image.stage = 'scoring';
      return { images: [image.index], order: true };
    }
    case 'run/imageScored': {
      const image = run.images[message.index];
      if (!image) return null;
      image.scores = message.scores;
      image.overall = message.overall;
      image.stage = 'scored';
      return { images: [image.index], order: true };
    }
    case 'run/imageFailed': {
      const image = run.images[message.index];
      if (!image) return null;
      image.stage = 'failed';
      image.error = message.error;
      image.rank = null;
      return { images: [image.index], order: true };
    }
    case 'run/ranked': {
      const changed = new Set<number>();
      const ranked = new Map(message.entries.map((e) => [e.index, e]));
      for (const image of run.images) {
        const entry = ranked.get(image.index);
        const before = [image.rank, image.overall, image.preferenceProbability, image.imageUri, image.thumbnailUri].join('|');
        if (entry) {
          image.rank = entry.rank;
          image.overall = entry.overall;
          image.preferenceProbability = entry.preferenceProbability;
          if (entry.imageUri) image.imageUri = entry.imageUri;
          if (entry.thumbnailUri) image.thumbnailUri = entry.thumbnailUri;
        } else {
          image.rank = null;
        }
        if ([image.rank, image.overall, image.preferenceProbability, image.imageUri, image.thumbnailUri].join('|') !== before) changed.add(image.index);
      }
      // Final ranking changes every card's badge style even when no rank moved.
      if (message.final !== run.rankingFinal) for (const image of run.images) changed.add(image.index);
      run.rankingFinal = message.final;
      run.comparison = message.comparison;
      return { images: [...changed], order: true };
    }
    case 'run/cost':
      run.cost = message.cost;
      return none;
    case 'run/notice':
      run.notices = [...run.notices, message.notice].slice(-MAX_NOTICES);
      return none;
    case 'run/finished':
      run.status = message.status;
      run.finishedAt = message.finishedAt;
      run.cost = message.cost;
      run.error = message.error;
      run.live = false;
      run.phase = 'done';
      run.phaseDetail = null;
      return { images: run.images.map((i) => i.index), order: true };
  }
}

/**
 * Cards in display order: ranked images by rank, then the rest by index (still arriving), then
 * failed ones. Stable, so a card only moves when its rank or state moves it.
 */
export function displayOrder(run: RunView): number[] {
  const group = (stage: ImageStage, rank: number | null) => (rank !== null ? 0 : stage === 'failed' ? 2 : 1);
  return [...run.images]
    .sort((a, b) => group(a.stage, a.rank) - group(b.stage, b.rank) || (a.rank ?? 0) - (b.rank ?? 0) || a.index - b.index)
    .map((i) => i.index);
}

/** The run is still going in this window (Cancel applies, more events will come). */
export function isRunActive(run: RunView | null): boolean {
  return !!run && run.live && (run.status === 'running' || run.status === 'finalizing');
}

export interface RunCounts {
  planned: number;
  onDisk: number;
  scored: number;
  failed: number;
}

export function runCounts(run: RunView): RunCounts {
  let onDisk = 0;
  let scored = 0;
  let failed = 0;
  for (const image of run.images) {
    if (image.imageUri) onDisk++;
    if (image.stage === 'scored') scored++;
    if (image.stage === 'failed') failed++;
  }
  return { planned: run.images.length, onDisk, scored, failed };
}
