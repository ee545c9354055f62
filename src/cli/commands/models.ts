/**
 * `contact-sheet models list|pull [ids…]|verify [ids…]` — the model store from the command line:
 * what is on disk, fetch what is missing (resumable, verified), re-hash what is there; and
 * `models check-precision` (modelsCheckPrecision.ts), int8 against fp32 on the user's images.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ContactSheetError, toContactSheetError } from '../../shared/errors';
import { streamLogger } from '../../core/log';
import { resolveModelsDir } from '../../core/models/modelsDir';
import { loadManifest, ModelStore, type ModelStatus } from '../../core/models/store';
import type { ScorerProgress } from '../../core/scoring/types';
import type { CliIO, Subcommand } from '../io';
import { formatError } from '../formatError';
import { checkPrecision } from './modelsCheckPrecision';

const HELP = `Usage: contact-sheet models <list|pull|verify|check-precision> [model ids…] [options]

  list              Show each scoring model: state, download size, license
  pull [ids…]       Download missing files (all models by default); resumes, verifies sha256
  verify [ids…]     Re-hash the files on disk against the manifest (no network)
  check-precision   How far int8 moves the scores of your images from fp32 (see its --help)

Options:
  --models-dir DIR     Model cache (default: $CONTACT_SHEET_MODELS_DIR, else $XDG_CACHE_HOME/contact-sheet/models, ~/.cache/… without it)
  --manifest FILE      Model manifest (default: the one shipped with Contact Sheet)
  --hub-endpoint URL   Hugging Face endpoint or mirror (default: $HF_ENDPOINT or https://huggingface.co)
  --json               list: print JSON instead of a table
  -h, --help           Show this help

Files already in the Python Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or
~/.cache/huggingface/hub) are reused when their checksums match.`;

interface ModelsArgs {
  action: 'list' | 'pull' | 'verify';
  ids: string[];
  modelsDir: string;
  manifest?: string;
  hubEndpoint?: string;
  json: boolean;
}

const PROGRESS_EVERY_MS = 1000;

export const models: Subcommand = async (argv, io) => {
  if (argv[0] === 'check-precision') return checkPrecision(argv.slice(1), io);
  if (argv.includes('-h') || argv.includes('--help')) {
    io.stdout(HELP);
    return 0;
  }
  const args = parseModelsArgs(argv, io);
  const manifest = await loadManifest(args.manifest);
  const store = new ModelStore({
    modelsDir: args.modelsDir,
    manifest,
    hubEndpoint: args.hubEndpoint,
    allowDownload: args.action === 'pull',
    env: io.env,
    logger: streamLogger((line) => io.stderr(line), 'warn'),
  });
  for (const id of args.ids) store.model(id); // unknown ids are a usage error before any work
  switch (args.action) {
    case 'list':
      return list(store, args, io);
    case 'pull':
      return pull(store, withDependencies(store, args.ids.length ? args.ids : store.ids), io);
    case 'verify':
      return verify(store, args.ids, io);
  }
};

function parseModelsArgs(argv: string[], io: CliIO): ModelsArgs {
  const usage = (why: string) => new ContactSheetError('bad-usage', why, { action: 'Run `contact-sheet models --help`.' });
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'models-dir': { type: 'string' },
        manifest: { type: 'string' },
        'hub-endpoint': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw usage((e as Error).message.split('\n')[0]);
  }
  const { values, positionals: positional } = parsed;
  const modelsDir = resolveModelsDir({ configured: values['models-dir'], env: io.env, cwd: io.cwd });
  const manifest = values.manifest === undefined ? undefined : resolve(io.cwd, values.manifest);
  const hubEndpoint = values['hub-endpoint'];
  const json = Boolean(values.json);
  const [action, ...ids] = positional;
  if (action !== 'list' && action !== 'pull' && action !== 'verify') {
    throw usage(action ? `Unknown models action "${action}" (use list, pull or verify).` : 'Say what to do: list, pull or verify.');
  }
  if (action === 'list' && ids.length) throw usage('`models list` takes no model ids.');
  if (hubEndpoint && !/^https?:\/\//.test(hubEndpoint)) throw usage(`--hub-endpoint must be an http(s) URL, got "${hubEndpoint}".`);
  return { action, ids, modelsDir, manifest, hubEndpoint, json };
}

/** The requested ids plus what they need at run time (aesthetic → clip), in manifest order. */
function withDependencies(store: ModelStore, ids: string[]): string[] {
  const wanted = new Set<string>();
  const add = (id: string) => {
    if (wanted.has(id)) return;
    wanted.add(id);
    for (const dep of store.model(id).depends_on ?? []) add(dep);
  };
  ids.forEach(add);
  return store.ids.filter((id) => wanted.has(id));
}

async function list(store: ModelStore, args: ModelsArgs, io: CliIO): Promise<number> {
  const all = await store.list();
  if (args.json) {
    io.stdout(JSON.stringify({ models_dir: args.modelsDir, models: all }, null, 2));
    return 0;
  }
  const rows = all.map((m) => [m.id, describeState(m), m.totalBytes === null ? '?' : formatBytes(m.totalBytes), m.license, m.name]);
  const header = ['MODEL', 'STATE', 'SIZE', 'LICENSE', 'NAME'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ');
  io.stdout([line(header), ...rows.map(line), '', `Models folder: ${args.modelsDir}`].join('\n'));
  return 0;
}

function describeState(m: ModelStatus): string {
  if (m.state !== 'partial') return m.state;
  const done = m.files.filter((f) => f.verified || (f.optional && f.absentAtSource)).length;
  return `partial (${done}/${m.files.length} files)`;
}

async function pull(store: ModelStore, ids: string[], io: CliIO): Promise<number> {
  let failed = 0;
  for (const id of ids) {
    // One line per second per file, plus the final one: stderr may be a log, not a terminal.
    const lastPrinted = new Map<string, number>();
    const finished = new Set<string>();
    const onProgress = (p: ScorerProgress) => {
      if (p.type !== 'download' || p.receivedBytes === 0 || finished.has(p.file)) return;
      const now = Date.now();
      const done = p.totalBytes !== null && p.receivedBytes >= p.totalBytes;
      if (!done && now - (lastPrinted.get(p.file) ?? 0) < PROGRESS_EVERY_MS) return;
      lastPrinted.set(p.file, now);
      if (done) finished.add(p.file);
      io.stderr(progressLine(p));
    };
    try {
      const folder = await store.ensure(id, { signal: io.signal, onProgress });
      io.stdout(`${id}: ready (${folder})`);
    } catch (e) {
      const err = toContactSheetError(e);
      io.stderr(formatError(err));
      if (err.code === 'canceled') return 1;
      failed += 1;
    }
  }
  return failed ? 1 : 0;
}

async function verify(store: ModelStore, requested: string[], io: CliIO): Promise<number> {
  let failed = 0;
  for (const id of requested.length ? requested : store.ids) {
    if (!requested.length && (await store.status(id)).files.every((f) => f.state === 'missing')) {
      io.stdout(`${id}: not downloaded (skipped)`);
      continue;
    }
    const report = await store.verify(id, { signal: io.signal });
    if (!report.ok) failed += 1;
    io.stdout(`${id}: ${report.ok ? 'OK' : 'FAILED'}`);
    for (const f of report.files) {
      const what = f.ok ? (f.state === 'present' ? `ok (${f.checkedAgainst})` : f.message ?? 'ok') : f.message ?? 'failed';
      io.stdout(`  ${f.ok ? '✓' : '✗'} ${f.path}: ${what}`);
    }
    if (!report.ok) io.stdout(`  → Run \`contact-sheet models pull ${id}\` to fetch the missing or damaged files again.`);
  }
  return failed ? 1 : 0;
}

export function progressLine(p: Extract<ScorerProgress, { type: 'download' }>): string {
  const total = p.totalBytes === null ? '?' : formatBytes(p.totalBytes);
  const pct = p.totalBytes ? ` ${Math.floor((100 * p.receivedBytes) / p.totalBytes)}%` : '';
  const eta = p.etaSeconds === null ? '' : `  ETA ${formatDuration(p.etaSeconds)}`;
  return `${p.model} ${p.file}: ${formatBytes(p.receivedBytes)} / ${total}${pct}  ${formatBytes(p.bytesPerSecond)}/s${eta}`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
