/**
 * `contact-sheet models check-precision --images a.png,b.png --prompt TEXT`: scores the user's own
 * images with the real models at fp32 and at int8 (converting each on first use) and prints, per
 * metric, Kendall's τ between the two rankings and the largest score difference, so int8's
 * accuracy can be judged where it matters. Random test weights cannot answer this.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ContactSheetError, toContactSheetError } from '../../shared/errors';
import { streamLogger } from '../../core/log';
import { defaultModelsDir } from '../../core/models/modelsDir';
import { readPromptFile } from '../../core/prompt';
import { comparePrecisions, type MetricAgreement } from '../../core/scoring/precisionAgreement';
import { createScorer } from '../../core/scoring/scorer';
import type { ImageScores, MetricId, Precision, ScorerConfig } from '../../core/scoring/types';
import type { CliIO } from '../io';

export const CHECK_PRECISION_HELP = `Usage: contact-sheet models check-precision --images A,B[,…] (--prompt TEXT | --prompt-file FILE) [options]

Scores your images with the scoring models at fp32 and at int8 and shows how far int8 moves
them: per metric, Kendall's τ between the two rankings (1 = the same order) and the largest
score difference (PickScore raw, the others on 0–100). VQAScore is left out: its precision is
that of the published SmolVLM files, not this setting. Models are converted on first use.

Options:
  --images LIST        Two or more image files, comma-separated
  --prompt TEXT        The prompt the images were made for
  --prompt-file FILE   …or a prompt file (.txt or .md, front matter allowed)
  --models-dir DIR     Model cache (default: $CONTACT_SHEET_MODELS_DIR or ~/.cache/contact-sheet/models)
  --manifest FILE      Model manifest (default: the one shipped with Contact Sheet)
  --hub-endpoint URL   Hugging Face endpoint or mirror
  --offline            Never download; fail clearly when a model is missing
  --json               Print JSON instead of a table
  -h, --help           Show this help`;

/** The metrics whose models follow the precision setting. */
const CHECKED: MetricId[] = ['pickscore', 'clip_score', 'aesthetic'];
const LABELS: Record<MetricId, string> = { pickscore: 'PickScore', clip_score: 'CLIP-Score', vqascore: 'VQAScore', aesthetic: 'Aesthetic' };

export async function checkPrecision(argv: string[], io: CliIO): Promise<number> {
  const usage = (why: string) => new ContactSheetError('bad-usage', why, { action: 'Run `contact-sheet models check-precision --help`.' });
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        images: { type: 'string' },
        prompt: { type: 'string' },
        'prompt-file': { type: 'string' },
        'models-dir': { type: 'string' },
        manifest: { type: 'string' },
        'hub-endpoint': { type: 'string' },
        offline: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw usage((e as Error).message);
  }
  if (values.help) {
    io.stdout(CHECK_PRECISION_HELP);
    return 0;
  }
  const images = (values.images ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (images.length < 2) throw usage('Give at least two images with --images a.png,b.png (a ranking needs two).');
  if (!values.prompt === !values['prompt-file']) throw usage('Give exactly one of --prompt and --prompt-file.');
  const prompt = values.prompt ?? (await readPromptFile(resolve(io.cwd, values['prompt-file'] as string))).text;
  const files = await Promise.all(
    images.map(async (image) => {
      try {
        return await readFile(resolve(io.cwd, image));
      } catch (e) {
        throw new ContactSheetError('image-unreadable', `Cannot read ${image}: ${(e as Error).message}`, { action: 'Check the path.' });
      }
    }),
  );

  const base: Omit<ScorerConfig, 'precision'> = {
    modelsDir: values['models-dir'] ? resolve(io.cwd, values['models-dir']) : defaultModelsDir(io.env),
    enabled: { pickscore: true, clip_score: true, aesthetic: true, vqascore: false },
    lowMemory: false,
    executionProviders: ['cpu'],
    intraOpNumThreads: 0,
    allowDownload: !values.offline,
    hubEndpoint: values['hub-endpoint'] ?? io.env.HF_ENDPOINT,
    ...(values.manifest ? { manifestPath: resolve(io.cwd, values.manifest) } : {}),
  };
  const scores: Record<Precision, ImageScores[]> = { fp32: [], int8: [] };
  for (const precision of ['fp32', 'int8'] as const) {
    io.stderr(`Scoring ${images.length} images at ${precision}…`);
    const scorer = createScorer({ ...base, precision }, { logger: streamLogger((l) => io.stderr(l), 'warn'), startWorker: io.startScoringWorker });
    try {
      await scorer.setPrompt(prompt, io.signal);
      for (const [i, bytes] of files.entries()) {
        try {
          scores[precision].push(await scorer.scoreImage(bytes, io.signal));
        } catch (e) {
          const err = toContactSheetError(e);
          if (err.code === 'image-unreadable') throw new ContactSheetError(err.code, `${images[i]}: ${err.message}`, { action: err.action });
          throw err;
        }
      }
    } finally {
      await scorer.dispose();
    }
  }
  const agreement = comparePrecisions(scores.fp32, scores.int8, CHECKED);
  const missing = agreement.filter((a) => a.images < 2);
  if (values.json) {
    io.stdout(JSON.stringify({ schema_version: 1, prompt, images, metrics: agreement.map(jsonRow), scores }, null, 2));
  } else {
    printTable(io, agreement, images.length);
  }
  for (const m of missing) {
    const reason = scores.fp32.map((s) => s[m.metric]).find((r) => r.value === null);
    io.stderr(`${LABELS[m.metric]}: not compared${reason && reason.value === null ? ` (${reason.reason})` : ''}`);
  }
  return missing.length === agreement.length ? 1 : 0;
}

function jsonRow(a: MetricAgreement): Record<string, unknown> {
  return { metric: a.metric, images: a.images, kendall_tau: Number.isNaN(a.tau) ? null : a.tau, max_abs_difference: a.maxAbsDifference, same_best: a.sameBest };
}

function printTable(io: CliIO, rows: MetricAgreement[], imageCount: number): void {
  const header = ['metric', 'Kendall τ', 'max |Δ|', 'same best', 'images'];
  const body = rows.map((a) => [
    LABELS[a.metric],
    Number.isNaN(a.tau) ? 'n/a' : a.tau.toFixed(3),
    a.images ? a.maxAbsDifference.toFixed(a.metric === 'pickscore' ? 4 : 3) : 'n/a',
    a.images ? (a.sameBest ? 'yes' : 'no') : 'n/a',
    `${a.images}/${imageCount}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  io.stdout([line(header), ...body.map(line)].join('\n'));
  io.stdout('τ: Kendall τ-b of the image rankings at fp32 and int8 (1 = same order). |Δ|: PickScore raw (logit_scale · cos), the others on 0–100.');
}
