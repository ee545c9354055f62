/**
 * Prompt file → Prompt.
 *
 * A prompt file is UTF-8 text (.txt or .md, at most 100 KB) with optional front matter between
 * two `---` lines at the very top:
 *
 *   ---
 *   original: a cat                      # the prompt before enhancement (kept in the outputs)
 *   negative: blurry, text               # negative prompt (used where the model takes one)
 *   model: black-forest-labs/flux-schnell
 *   aspect_ratio: 16:9
 *   seed: 42
 *   num_variations: 8
 *   ---
 *   A photo of a cat wearing a tiny crown, studio lighting
 *
 * Front matter is a strict subset of YAML: one `key: value` per line, values plain or wrapped in
 * matching single or double quotes, `#` starts a comment only on its own line (so prompts may
 * contain `#`), blank lines allowed. Unknown or repeated keys are errors: a typo must not silently
 * run 8 paid predictions with the wrong settings.
 *
 * Markdown: the body is the prompt, except that a first line `# Title` (a level-1 ATX heading) is
 * taken as the document's title and not sent to the model — it names the prompt, it does not
 * describe the image. Everything else (including further headings) is prompt text.
 * In both formats the text is trimmed and CRLF becomes LF; interior text is kept as written.
 */
import { constants as fsConstants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { dirname, extname, isAbsolute, relative, resolve } from 'node:path';
import { ContactSheetError } from '../shared/errors';
import { ASPECT_RATIOS, type AspectRatio } from '../shared/aspectRatios';

export const MAX_PROMPT_FILE_BYTES = 100 * 1024;
export const MIN_VARIATIONS = 1;
export const MAX_VARIATIONS = 16;
/** Replicate models take 32-bit unsigned seeds. */
export const MAX_SEED = 2 ** 32 - 1;

/** Settings a prompt file may carry; the CLI's flags override them. */
export interface PromptOverrides {
  model?: string;
  aspectRatio?: AspectRatio;
  seed?: number;
  numVariations?: number;
}

export interface Prompt {
  /** The prompt sent to the model (after enhancement, if the author enhanced it). */
  text: string;
  /** The prompt before enhancement, when the front matter gives it. */
  original: string | null;
  negative: string | null;
  /** Markdown `# Title` line, when present (not part of the prompt). */
  title: string | null;
  overrides: PromptOverrides;
}

export interface PromptFile extends Prompt {
  /** Absolute path of the file read. */
  path: string;
  format: 'txt' | 'md';
  /**
   * The text came from an editor buffer with changes not yet saved to `path` (the extension runs
   * what the user sees); recorded in the trace as `prompts.unsaved_edits`.
   */
  unsavedEdits?: boolean;
}

const FRONT_MATTER_KEYS = ['original', 'negative', 'model', 'aspect_ratio', 'seed', 'num_variations'] as const;
type FrontMatterKey = (typeof FRONT_MATTER_KEYS)[number];

export interface ReadPromptOptions {
  /**
   * The folder the prompt must really live in (the extension's workspace folder). Default: the
   * folder the path names. A symbolic link resolving outside it is refused, so a link planted in a
   * shared folder cannot make a run read (and send to Replicate) a file from elsewhere.
   */
  within?: string;
}

/**
 * Reads and parses a prompt file, with a typed error for every way it can be unusable. The file is
 * opened once (its real path, not following a link at the last moment, not waiting on a FIFO) and
 * checked through that handle: a regular file of at most MAX_PROMPT_FILE_BYTES, read no further.
 */
export async function readPromptFile(path: string, options: ReadPromptOptions = {}): Promise<PromptFile> {
  const format = promptFormat(path);
  const bytes = await readPromptBytes(path, options.within ?? dirname(resolve(path)));
  return { ...parsePromptBytes(bytes, format, path), path, format };
}

async function readPromptBytes(path: string, within: string): Promise<Buffer> {
  let handle: FileHandle | undefined;
  try {
    const real = await realpath(path);
    const root = await realpath(within).catch(() => resolve(within));
    const back = relative(root, real);
    if (back === '' || back.startsWith('..') || isAbsolute(back)) {
      throw new ContactSheetError('prompt-unreadable', `${path} is a symbolic link to a file outside ${within} (${real}).`, {
        action: 'Copy the prompt into that folder, or give the path of the file itself.',
      });
    }
    handle = await open(real, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0));
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new ContactSheetError('prompt-unreadable', `${path} is not a file.`, { action: 'Pass the path of a .txt or .md prompt file.' });
    }
    if (info.size > MAX_PROMPT_FILE_BYTES) throw tooLarge(path, info.size);
    // One byte more than allowed tells a file that grew since the stat.
    const buffer = Buffer.alloc(MAX_PROMPT_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_PROMPT_FILE_BYTES) throw tooLarge(path, length);
    }
    return buffer.subarray(0, length);
  } catch (e) {
    if (e instanceof ContactSheetError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ContactSheetError('prompt-missing', `Prompt file not found: ${path}`, { action: 'Check the path, or create the file with your prompt in it.' });
    }
    throw new ContactSheetError('prompt-unreadable', `Cannot read the prompt file ${path} (${code ?? String(e)}).`, {
      action: 'Check that the file exists and that you may read it.',
      cause: e,
    });
  } finally {
    await handle?.close();
  }
}

/** Parses prompt file bytes (exposed for callers that hold the text, e.g. an open editor). */
export function parsePromptBytes(bytes: Buffer, format: 'txt' | 'md', label = 'prompt'): Prompt {
  if (bytes.includes(0)) {
    throw new ContactSheetError('prompt-binary', `${label} contains NUL bytes: it looks like a binary file, not a text prompt.`, {
      action: 'Pass a UTF-8 .txt or .md file with your prompt.',
    });
  }
  let content: string;
  try {
    content = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ContactSheetError('prompt-binary', `${label} is not valid UTF-8.`, { action: 'Save the prompt file as UTF-8 text.' });
  }
  return parsePromptText(content, format, label);
}

export function parsePromptText(content: string, format: 'txt' | 'md', label = 'prompt'): Prompt {
  const text = content.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const { fields, body } = splitFrontMatter(text, label);
  let promptBody = body;
  let title: string | null = null;
  if (format === 'md') {
    const lines = body.replace(/^\s*\n/, '').split('\n');
    const heading = /^#[ \t]+(.+?)[ \t#]*$/.exec(lines[0] ?? '');
    if (heading) {
      title = heading[1].trim();
      promptBody = lines.slice(1).join('\n');
    }
  }
  const prompt = promptBody.trim();
  if (!prompt) {
    throw new ContactSheetError('prompt-empty', `${label} has no prompt text${title ? ' (only a title)' : ''}.`, {
      action: 'Write the image description in the file (below the front matter, if any).',
    });
  }
  return {
    text: prompt,
    original: fields.original ?? null,
    negative: fields.negative ?? null,
    title,
    overrides: toOverrides(fields, label),
  };
}

/**
 * Where the prompt text (Prompt.text) sits in `content`, as [start, end) offsets into `content`
 * itself (BOM and CRLF kept): after the front matter and a markdown title, without surrounding
 * whitespace. An editor replaces exactly this span to change the prompt and nothing else.
 * When there is no text yet, start === end where text would go. Throws like parsePromptText.
 */
export function locatePromptText(content: string, format: 'txt' | 'md', label = 'prompt'): { start: number; end: number } {
  // The same rules as parsePromptText, on lines that remember their offsets.
  const lines: { text: string; start: number; next: number }[] = [];
  const lineBreak = /\r\n|\r|\n/g;
  let from = content.startsWith('\uFEFF') ? 1 : 0;
  for (;;) {
    const m = lineBreak.exec(content);
    const end = m ? m.index : content.length;
    lines.push({ text: content.slice(from, end), start: from, next: m ? m.index + m[0].length : content.length });
    if (!m) break;
    from = m.index + m[0].length;
  }
  splitFrontMatter(lines.map((l) => l.text).join('\n'), label); // throws on bad front matter
  let first = 0;
  if (lines[0]?.text.trim() === '---') first = lines.findIndex((l, i) => i > 0 && l.text.trim() === '---') + 1;
  if (format === 'md') {
    let heading = first;
    while (heading < lines.length && !lines[heading].text.trim()) heading++;
    if (heading < lines.length && /^#[ \t]+(.+?)[ \t#]*$/.test(lines[heading].text)) first = heading + 1;
  }
  const bodyStart = first < lines.length ? lines[first].start : content.length;
  const body = content.slice(bodyStart);
  const lead = body.length - body.trimStart().length;
  const trimmed = body.trim();
  const start = bodyStart + lead;
  return { start, end: start + trimmed.length };
}

function promptFormat(path: string): 'txt' | 'md' {
  const ext = extname(path).toLowerCase();
  if (ext === '.md' || ext === '.markdown') return 'md';
  // Anything else is read as plain text: the content checks catch binaries.
  return 'txt';
}

function tooLarge(path: string, size: number): ContactSheetError {
  return new ContactSheetError('prompt-too-large', `${path} is ${size} bytes; a prompt file may have at most ${MAX_PROMPT_FILE_BYTES} bytes.`, {
    action: 'Shorten the prompt: image models read only the first few hundred characters anyway.',
  });
}

function splitFrontMatter(text: string, label: string): { fields: Partial<Record<FrontMatterKey, string>>; body: string } {
  const lines = text.split('\n');
  if (lines[0]?.trim() !== '---') return { fields: {}, body: text };
  const end = lines.findIndex((l, i) => i > 0 && l.trim() === '---');
  if (end < 0) throw frontMatterError(label, 1, 'the front matter starting at line 1 has no closing `---` line');
  const fields: Partial<Record<FrontMatterKey, string>> = {};
  for (let i = 1; i < end; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_-]*)\s*:\s*(.*)$/.exec(line);
    if (!m) throw frontMatterError(label, i + 1, `expected "key: value", got "${truncate(line)}"`);
    const key = m[1];
    if (!(FRONT_MATTER_KEYS as readonly string[]).includes(key)) {
      throw frontMatterError(label, i + 1, `unknown key "${key}" (allowed: ${FRONT_MATTER_KEYS.join(', ')})`);
    }
    if (fields[key as FrontMatterKey] !== undefined) throw frontMatterError(label, i + 1, `"${key}" is given twice`);
    fields[key as FrontMatterKey] = unquote(m[2], label, i + 1);
  }
  return { fields, body: lines.slice(end + 1).join('\n') };
}

function unquote(raw: string, label: string, line: number): string {
  const v = raw.trim();
  const q = v[0];
  if (q === '"' || q === "'") {
    if (v.length < 2 || v[v.length - 1] !== q) throw frontMatterError(label, line, `unterminated ${q === '"' ? 'double' : 'single'} quote`);
    const inner = v.slice(1, -1);
    // YAML-style escapes: '' inside single quotes, \" and \\ inside double quotes.
    return q === "'" ? inner.replace(/''/g, "'") : inner.replace(/\\(["\\])/g, '$1');
  }
  return v;
}

function toOverrides(fields: Partial<Record<FrontMatterKey, string>>, label: string): PromptOverrides {
  const out: PromptOverrides = {};
  if (fields.model !== undefined) {
    if (!/^[\w.-]+\/[\w.-]+(:[0-9a-f]{64})?$/.test(fields.model)) {
      throw frontMatterError(label, null, `model "${truncate(fields.model)}" is not "owner/name" or "owner/name:<64-hex version>"`);
    }
    out.model = fields.model;
  }
  if (fields.aspect_ratio !== undefined) {
    if (!(ASPECT_RATIOS as readonly string[]).includes(fields.aspect_ratio)) {
      throw frontMatterError(label, null, `aspect_ratio "${truncate(fields.aspect_ratio)}" is not one of ${ASPECT_RATIOS.join(', ')}`);
    }
    out.aspectRatio = fields.aspect_ratio as AspectRatio;
  }
  if (fields.seed !== undefined) out.seed = parseIntegerField(fields.seed, 'seed', 0, MAX_SEED, label);
  if (fields.num_variations !== undefined) {
    out.numVariations = parseIntegerField(fields.num_variations, 'num_variations', MIN_VARIATIONS, MAX_VARIATIONS, label);
  }
  if (fields.original !== undefined && !fields.original) throw frontMatterError(label, null, '"original" is empty');
  if (fields.negative !== undefined && !fields.negative) throw frontMatterError(label, null, '"negative" is empty');
  return out;
}

/** Parses a whole decimal integer in [min, max]; shared with the CLI's flag parsing. */
export function parseBoundedInteger(value: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(value.trim())) return null;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : null;
}

function parseIntegerField(value: string, key: string, min: number, max: number, label: string): number {
  const n = parseBoundedInteger(value, min, max);
  if (n === null) throw frontMatterError(label, null, `${key} "${truncate(value)}" must be a whole number from ${min} to ${max}`);
  return n;
}

function frontMatterError(label: string, line: number | null, what: string): ContactSheetError {
  return new ContactSheetError('prompt-front-matter', `${label}: front matter${line ? ` line ${line}` : ''}: ${what}.`, {
    action: `Fix the front matter (allowed keys: ${FRONT_MATTER_KEYS.join(', ')}), or remove it.`,
  });
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}
