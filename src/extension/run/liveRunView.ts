import { join } from 'node:path';
import type { RunEvent } from '../../core/run/events';
import type { ScorerProgress } from '../../shared/progress';
import type { RunImageView, RunNoticeView, RunView, ToWebviewEvent } from '../../shared/protocol';
import { comparisonView, costView, probability, runCostView } from '../views/coreViews';

const NO_IMAGE: Omit<RunImageView, 'index' | 'seed'> = {
  stage: 'queued',
  model: null,
  thumbnailUri: null,
  imageUri: null,
  width: null,
  height: null,
  scores: null,
  overall: null,
  preferenceProbability: null,
  rank: null,
  cost: null,
  error: null,
  savedAt: null,
};

/** Makes an image's preview in the run folder and answers its absolute path (null when it cannot). */
export type MakeThumbnail = (runDir: string, imageFile: string, index: number, seed: number) => Promise<string | null>;

/**
 * Reads a made preview as a data: URI (null: the panel loads it by its URI instead). A live image
 * then reaches the panel with its pixels, without a resource request through the webview.
 */
export type InlinePreview = (path: string) => Promise<string | null>;

/** Turns an absolute path into a URI the webview may load (asWebviewUri). */
export type WebviewUri = (path: string) => string;

/**
 * A live run as the panel sees it: turns each RunEvent into the protocol's run/* messages and
 * keeps the RunView they add up to, so a panel opened mid-run (or history/open on it) gets the
 * state the webview would have built. It outlives panels: the view keeps file paths, and each
 * panel gets them as its own webview URIs. Also remembers where each image file is now, for the
 * image actions. Callers feed events in order and await each (a preview is made before the image
 * is announced).
 */
export class LiveRunView {
  /** The run with absolute paths where the protocol has URIs (mapped per panel on the way out). */
  private state: RunView | null = null;
  private dir: string | null = null;
  private readonly files = new Map<number, string>();
  /** Images shown from their PNG because no preview could be made (the file had moved on). */
  private readonly withoutThumbnail = new Set<number>();
  private lastDetailAt = 0;

  constructor(
    private readonly makeThumbnail: MakeThumbnail,
    private readonly inlinePreview?: InlinePreview,
  ) {}

  /** The run as it stands, with paths in place of URIs (for counts and stages). */
  get view(): RunView | null {
    return this.state;
  }

  /** The run as a panel may show it: a copy with its webview URIs. */
  snapshot(uri: WebviewUri): RunView | null {
    if (!this.state) return null;
    const copy = structuredClone(this.state);
    for (const image of copy.images) {
      image.imageUri = image.imageUri && uri(image.imageUri);
      image.thumbnailUri = image.thumbnailUri && uri(image.thumbnailUri);
    }
    return copy;
  }

  get runDir(): string | null {
    return this.dir;
  }

  /** The image's file relative to the run folder (pending name, then ranked name), once on disk. */
  fileOf(index: number): string | null {
    return this.files.get(index) ?? null;
  }

  /**
   * Messages for one event, with `uri`'s webview URIs; `at` is when it arrived (for an image: when
   * it was on disk). The state moves on even when no panel listens (`uri` null: no messages).
   */
  async translate(e: RunEvent, at: number, uri: WebviewUri | null): Promise<ToWebviewEvent[]> {
    const messages = await this.apply(e, at);
    if (!uri) return [];
    return Promise.all(
      messages.map(async (m) => {
        const out = withUris(m, uri);
        // The state keeps the preview's path (a panel opened later loads it by URI); the live
        // message carries it inline.
        if (m.type === 'run/imageSaved' && out.type === 'run/imageSaved' && this.inlinePreview && !this.withoutThumbnail.has(m.index)) {
          const inline = await this.inlinePreview(m.thumbnailUri);
          if (inline) out.thumbnailUri = inline;
        }
        return out;
      }),
    );
  }

  private async apply(e: RunEvent, at: number): Promise<ToWebviewEvent[]> {
    if (e.type === 'run-started') return [this.start(e, at)];
    const run = this.state;
    if (!run) return [];
    const runId = run.runId;
    switch (e.type) {
      case 'phase':
        run.phase = e.phase;
        run.phaseDetail = null;
        return [{ type: 'run/phase', runId, phase: e.phase, detail: null }];
      case 'generation':
        return this.generation(run, e.event);
      case 'rate-limited': {
        const seconds = Math.max(1, Math.round(e.wait.wait_ms / 1000));
        const what = e.wait.lane === 'create' ? 'new predictions' : 'status checks';
        return [this.notice(run, { level: 'wait', message: `Rate limited by Replicate: ${what} wait ${seconds} s.`, at, until: Date.parse(e.wait.until) })];
      }
      case 'scorer-progress':
        return this.scorerProgress(run, e.progress, at);
      case 'image-saved': {
        const image = run.images[e.index];
        if (!image || !this.dir) return [];
        this.files.set(e.index, e.file);
        // A fast run may have given the image its ranked name before this event is shown: the
        // preview is then made from that name when the final ranking names it.
        const thumbnail = await this.makeThumbnail(this.dir, e.file, e.index, e.seed);
        if (thumbnail === null) this.withoutThumbnail.add(e.index);
        else this.withoutThumbnail.delete(e.index);
        const thumbnailUri = thumbnail ?? e.path;
        Object.assign(image, {
          seed: e.seed,
          model: e.model,
          thumbnailUri,
          imageUri: e.path,
          width: e.width,
          height: e.height,
          cost: costView(e.cost),
          savedAt: at,
          stage: image.stage === 'scored' ? 'scored' : 'scoring',
        });
        return [
          {
            type: 'run/imageSaved',
            runId,
            index: e.index,
            seed: e.seed,
            model: e.model,
            thumbnailUri,
            imageUri: image.imageUri!,
            width: e.width,
            height: e.height,
            cost: image.cost!,
            savedAt: at,
          },
        ];
      }
      case 'image-scored': {
        const image = run.images[e.index];
        if (!image) return [];
        Object.assign(image, { scores: e.scores, overall: e.overall, stage: 'scored' });
        return [{ type: 'run/imageScored', runId, index: e.index, scores: e.scores, overall: e.overall }];
      }
      case 'image-failed': {
        const image = run.images[e.index];
        if (!image) return [];
        Object.assign(image, { stage: 'failed', error: e.error, rank: null });
        return [{ type: 'run/imageFailed', runId, index: e.index, stage: e.stage, error: e.error }];
      }
      case 'ranked': {
        const final = e.final === true;
        const entries = [];
        for (const entry of e.entries ?? []) {
          const image = run.images[entry.index];
          const moved = final && entry.file && entry.file !== this.files.get(entry.index) && this.dir;
          if (moved) this.files.set(entry.index, entry.file!);
          if (image) Object.assign(image, { rank: entry.rank, overall: entry.overall, preferenceProbability: probability(entry.preference_probability) });
          if (moved && image) image.imageUri = join(this.dir!, entry.file!);
          let thumbnailUri: string | undefined;
          if (moved && image && this.withoutThumbnail.has(entry.index)) {
            thumbnailUri = (await this.makeThumbnail(this.dir!, entry.file!, entry.index, image.seed)) ?? image.imageUri!;
            image.thumbnailUri = thumbnailUri;
            this.withoutThumbnail.delete(entry.index);
          }
          entries.push({
            index: entry.index,
            rank: entry.rank,
            overall: entry.overall,
            preferenceProbability: probability(entry.preference_probability),
            ...(moved && image?.imageUri ? { imageUri: image.imageUri } : {}),
            ...(thumbnailUri ? { thumbnailUri } : {}),
          });
        }
        const ranked = new Set(entries.map((x) => x.index));
        for (const image of run.images) if (!ranked.has(image.index)) image.rank = null;
        run.rankingFinal = final;
        run.comparison = comparisonView(e.comparison);
        return [{ type: 'run/ranked', runId, final, entries, comparison: run.comparison }];
      }
      case 'cost':
        run.cost = runCostView(e.cost_so_far, run.cost.estimateUsd);
        return [{ type: 'run/cost', runId, cost: run.cost }];
      case 'warning':
        return [this.notice(run, { level: 'warning', message: e.message, at })];
      case 'run-finished': {
        if (e.cost_so_far) run.cost = runCostView(e.cost_so_far, run.cost.estimateUsd);
        Object.assign(run, { status: e.status, finishedAt: Date.parse(e.at), error: e.error ?? null, live: false, phase: 'done', phaseDetail: null });
        return [{ type: 'run/finished', runId, status: e.status, finishedAt: run.finishedAt!, cost: run.cost, error: run.error }];
      }
      default:
        return [];
    }
  }

  /** Ends a live run that stopped without its run-finished event (the engine threw). */
  abandon(error: { code: string; message: string; action?: string }, at: number): ToWebviewEvent[] {
    const run = this.state;
    if (!run || !run.live) return [];
    const serialized = { code: error.code, message: error.message, ...(error.action ? { action: error.action } : {}) };
    Object.assign(run, { status: 'failed', finishedAt: at, error: serialized, live: false, phase: 'done', phaseDetail: null });
    return [{ type: 'run/finished', runId: run.runId, status: 'failed', finishedAt: at, cost: run.cost, error: run.error }];
  }

  private start(e: Extract<RunEvent, { type: 'run-started' }>, at: number): ToWebviewEvent {
    this.dir = e.run_dir;
    this.files.clear();
    this.withoutThumbnail.clear();
    const seeds = e.seeds ?? [];
    this.state = {
      runId: e.run_id,
      prompt: e.prompt ?? '',
      status: 'running',
      live: true,
      demo: e.demo === true,
      model: e.models?.[0] ?? '',
      aspectRatio: e.aspect_ratio ?? '1:1',
      baseSeed: seeds[0] ?? 0,
      phase: 'generate',
      phaseDetail: null,
      startedAt: Date.parse(e.at) || at,
      finishedAt: null,
      images: seeds.map((seed, index) => ({ index, seed, ...NO_IMAGE })),
      rankingFinal: false,
      comparison: null,
      cost: { totalUsd: 0, unknownCount: 0, estimateUsd: e.estimate?.usd ?? null },
      notices: [],
      error: null,
    };
    return { type: 'run/show', run: this.state };
  }

  private generation(run: RunView, g: Extract<RunEvent, { type: 'generation' }>['event']): ToWebviewEvent[] {
    const status = (index: number, stage: 'starting' | 'processing' | 'downloading', model: string | null): ToWebviewEvent[] => {
      const image = run.images[index];
      if (!image || image.stage === 'failed' || image.stage === 'scoring' || image.stage === 'scored') return [];
      image.stage = stage;
      if (model) image.model = model;
      return [{ type: 'run/imageStatus', runId: run.runId, index, stage, model: image.model }];
    };
    switch (g.type) {
      case 'prediction-created':
        return status(g.index, 'starting', g.model);
      case 'prediction-status':
        if (g.status === 'processing') return status(g.index, 'processing', null);
        if (g.status === 'succeeded') return status(g.index, 'downloading', null);
        return [];
      default:
        return [];
    }
  }

  private scorerProgress(run: RunView, p: ScorerProgress, at: number): ToWebviewEvent[] {
    if (p.type === 'unavailable') return [this.notice(run, { level: 'warning', message: `${p.metrics.join(', ')} unavailable: ${p.reason}`, at })];
    const detail = scorerDetail(p);
    // Downloads report every chunk: a few updates a second are enough.
    if (p.type === 'download' && at - this.lastDetailAt < 250) return [];
    this.lastDetailAt = at;
    if (detail === run.phaseDetail) return [];
    run.phaseDetail = detail;
    return [{ type: 'run/phase', runId: run.runId, phase: run.phase, detail }];
  }

  private notice(run: RunView, notice: RunNoticeView): ToWebviewEvent {
    run.notices = [...run.notices, notice].slice(-50);
    return { type: 'run/notice', runId: run.runId, notice };
  }
}

/** A message as a panel gets it: a copy, paths turned into that panel's webview URIs. */
function withUris(message: ToWebviewEvent, uri: WebviewUri): ToWebviewEvent {
  switch (message.type) {
    case 'run/show': {
      const run = structuredClone(message.run);
      for (const image of run.images) {
        image.imageUri = image.imageUri && uri(image.imageUri);
        image.thumbnailUri = image.thumbnailUri && uri(image.thumbnailUri);
      }
      return { ...message, run };
    }
    case 'run/imageSaved':
      return { ...message, imageUri: uri(message.imageUri), thumbnailUri: uri(message.thumbnailUri) };
    case 'run/ranked':
      return { ...message, entries: message.entries.map((e) => ({ ...e, ...(e.imageUri ? { imageUri: uri(e.imageUri) } : {}), ...(e.thumbnailUri ? { thumbnailUri: uri(e.thumbnailUri) } : {}) })) };
    default:
      return structuredClone(message);
  }
}

/** The words under the phase while the scoring models get ready. */
export function scorerDetail(p: ScorerProgress): string | null {
  switch (p.type) {
    case 'download': {
      const pct = p.totalBytes ? ` ${Math.floor((100 * p.receivedBytes) / p.totalBytes)} %` : '';
      return `downloading ${p.model} (${p.file}${pct})`;
    }
    case 'convert':
      return `preparing ${p.model} (${p.step}, first use)`;
    case 'load':
      return `loading ${p.model} (${p.precision})`;
    default:
      return null;
  }
}
