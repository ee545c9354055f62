/**
 * `contact-sheet score IMAGE... --prompt-file P`: scores existing images with the local models and
 * prints the four metrics and the overall score — the scoring half of a run, without Replicate.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ContactSheetError, toContactSheetError } from '../../shared/errors';
import { streamLogger } from '../../core/log';
import { resolveModelsDir } from '../../core/models/modelsDir';
import { readPromptFile } from '../../core/prompt';
import { overallScore, preferenceProbabilities } from '../../core/run/rank';
import { createScorer } from '../../core/scoring/scorer';
import { DEFAULT_WEIGHTS, METRIC_IDS, type ImageScores, type MetricId, type ScorerConfig, type ScorerProgress } from '../../core/scoring/types';
import type { CliIO, Subcommand } from '../io';

const HELP = `Usage: contact-sheet score IMAGE... (--prompt-file FILE | --prompt TEXT) [options]

Scores images against a prompt with PickScore, CLIP-Score, VQAScore and the LAION aesthetic
predictor, on this machine. Models are downloaded on first use (see: contact-sheet models).

Options:
  --prompt-file FILE     Prompt file (.txt or .md, front matter allowed)
  --prompt TEXT          Prompt text instead of a file
  --models-dir DIR       Model cache (default: $CONTACT_SHEET_MODELS_DIR, else $XDG_CACHE_HOME/contact-sheet/models, ~/.cache/… without it)
  --precision P          fp32 (reference, default) or int8 (about 3x faster)
  --no-vqascore          Skip VQAScore
  --low-memory           Load, run and release one model at a time
  --offline              Never download; fail clearly when a model is missing
  --manifest FILE        Model manifest (default: the packaged models/manifest.json)
  --hub-endpoint URL     Model hub endpoint (default: https://huggingface.co or $HF_ENDPOINT)
  --json                 Print the scores as JSON
  -h, --help             Show this help`;

const LABELS: Record<MetricId, string> = { pickscore: 'PickScore', clip_score: 'CLIP-Score', vqascore: 'VQAScore', aesthetic: 'Aesthetic' };

export const score: Subcommand = async (argv, io) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'prompt-file': { type: 'string' },
        prompt: { type: 'string' },
        'models-dir': { type: 'string' },
        precision: { type: 'string', default: 'fp32' },
        'no-vqascore': { type: 'boolean', default: false },
        'low-memory': { type: 'boolean', default: false },
        offline: { type: 'boolean', default: false },
        manifest: { type: 'string' },
        'hub-endpoint': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new ContactSheetError('bad-usage', (e as Error).message, { action: 'Run `contact-sheet score --help`.' });
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  if (positionals.length === 0) throw new ContactSheetError('bad-usage', 'No image given.', { action: 'Run `contact-sheet score IMAGE... --prompt-file FILE`.' });
  if (!values['prompt-file'] === !values.prompt) {
    throw new ContactSheetError('bad-usage', 'Give exactly one of --prompt-file and --prompt.', { action: 'Run `contact-sheet score --help`.' });
  }
  if (values.precision !== 'fp32' && values.precision !== 'int8') {
    throw new ContactSheetError('bad-usage', `--precision must be fp32 or int8, not "${values.precision}".`);
  }
  const promptText = values.prompt ?? (await readPromptFile(resolve(io.cwd, values['prompt-file'] as string))).text;

  const config: ScorerConfig = {
    modelsDir: resolveModelsDir({ configured: values['models-dir'], env: io.env, cwd: io.cwd }),
    precision: values.precision,
    enabled: { pickscore: true, clip_score: true, aesthetic: true, vqascore: !values['no-vqascore'] },
    lowMemory: values['low-memory'],
    executionProviders: ['cpu'],
    intraOpNumThreads: 0,
    allowDownload: !values.offline,
    hubEndpoint: values['hub-endpoint'] ?? io.env.HF_ENDPOINT,
    ...(values.manifest ? { manifestPath: resolve(io.cwd, values.manifest) } : {}),
  };
  const logger = streamLogger((l) => io.stderr(l), 'warn');
  const scorer = createScorer(config, { logger, onProgress: (p) => reportProgress(io, p), startWorker: io.startScoringWorker });
  const results: { image: string; scores: ImageScores }[] = [];
  const failures: { image: string; error: ContactSheetError }[] = [];
  try {
    const info = await scorer.setPrompt(promptText, io.signal);
    if (info.truncated) io.stderr(`Note: the prompt is longer than CLIP's 77 tokens; the CLIP-based metrics scored: "${info.scoredText}"`);
    for (const image of positionals) {
      const path = resolve(io.cwd, image);
      try {
        const bytes = await readFile(path).catch((e) => {
          throw new ContactSheetError('image-unreadable', `Cannot read ${image}: ${(e as Error).message}`, { action: 'Check the path.' });
        });
        results.push({ image, scores: await scorer.scoreImage(bytes, io.signal) });
      } catch (e) {
        const err = toContactSheetError(e);
        if (err.code === 'canceled') throw err;
        failures.push({ image, error: err });
      }
    }
  } finally {
    await scorer.dispose();
  }

  const prefs = preferenceProbabilities(results.map((r) => (r.scores.pickscore.value === null ? null : r.scores.pickscore.raw)));
  const rows = results.map((r, i) => ({ ...r, overall: overallScore(r.scores, DEFAULT_WEIGHTS), preference_probability: prefs[i] }));
  if (values.json) {
    io.stdout(JSON.stringify({ schema_version: 1, prompt: promptText, images: rows, failures: failures.map((f) => ({ image: f.image, error: f.error.toJSON() })) }, null, 2));
  } else {
    printTable(io, rows);
    for (const f of failures) io.stderr(`${f.image}: error [${f.error.code}]: ${f.error.message}${f.error.action ? ` → ${f.error.action}` : ''}`);
  }
  return failures.length > 0 ? 1 : 0;
};

function printTable(io: CliIO, rows: { image: string; scores: ImageScores; overall: { value: number | null } }[]): void {
  const header = ['image', ...METRIC_IDS.map((m) => LABELS[m]), 'Overall'];
  const body = rows.map((r) => [
    r.image,
    ...METRIC_IDS.map((m) => {
      const s = r.scores[m];
      if (s.value === null) return '—';
      return m === 'pickscore' ? `${s.raw.toFixed(2)}` : s.value.toFixed(1);
    }),
    r.overall.value === null ? '—' : r.overall.value.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  io.stdout([line(header), ...body.map(line)].join('\n'));
  const absent = new Map<string, string>();
  for (const r of rows) for (const m of METRIC_IDS) if (r.scores[m].value === null) absent.set(LABELS[m], (r.scores[m] as { reason: string }).reason);
  for (const [label, reason] of absent) io.stdout(`${label} absent: ${reason}`);
  const models = rows[0] ? METRIC_IDS.map((m) => ('model' in rows[0].scores[m] ? `${LABELS[m]}: ${(rows[0].scores[m] as { model: string }).model}` : null)).filter(Boolean) : [];
  if (models.length) io.stdout(`Models: ${models.join('; ')}`);
  io.stdout('PickScore is shown raw (logit_scale · cos, typically 18–24); the other metrics on 0–100.');
}

function reportProgress(io: CliIO, p: ScorerProgress): void {
  switch (p.type) {
    case 'download': {
      const pct = p.totalBytes ? ` ${((100 * p.receivedBytes) / p.totalBytes).toFixed(0)}%` : '';
      const eta = p.etaSeconds !== null ? `, ETA ${Math.ceil(p.etaSeconds)} s` : '';
      io.stderr(`Downloading ${p.model}/${p.file}:${pct} ${(p.receivedBytes / 1e6).toFixed(1)} MB at ${(p.bytesPerSecond / 1e6).toFixed(1)} MB/s${eta}`);
      return;
    }
    case 'convert':
      io.stderr(`Preparing ${p.model}: ${p.step}`);
      return;
    case 'ready':
      io.stderr(`Loaded ${p.model} in ${(p.loadMs / 1000).toFixed(1)} s`);
      return;
    case 'unavailable':
      io.stderr(`Warning: ${p.reason}`);
      return;
    case 'load':
      return;
  }
}
