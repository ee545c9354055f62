/**
 * `contact-sheet` — the command-line face of the engine.
 * Each subcommand lives in its own file under commands/ and exports `run(argv, io)`.
 * Exit codes: 0 ok, 1 failed run, 2 bad usage.
 */
import { toContactSheetError } from '../shared/errors';
import { redact } from '../core/log';
import { VERSION } from '../core/version';
import { formatError } from './formatError';
import type { CliIO, Subcommand } from './io';
import { processIO } from './io';

// Subcommands load on demand (so `--help` does not load onnxruntime or sharp). `require`, not
// `import()`: the bundler inlines it, and tests running the TypeScript through tsx resolve it too.
/* eslint-disable @typescript-eslint/no-require-imports */
const SUBCOMMANDS: Record<string, { summary: string; load: () => Subcommand }> = {
  generate: { summary: 'Generate, score and rank image variations of a prompt file', load: () => (require('./commands/generate') as typeof import('./commands/generate')).generate },
  resume: { summary: 'Finish an interrupted run without paying twice', load: () => (require('./commands/resume') as typeof import('./commands/resume')).resume },
  score: { summary: 'Score existing images against a prompt', load: () => (require('./commands/score') as typeof import('./commands/score')).score },
  models: { summary: 'List, download or verify the scoring models, or check int8 against fp32 (list|pull|verify|check-precision)', load: () => (require('./commands/models') as typeof import('./commands/models')).models },
};
/* eslint-enable @typescript-eslint/no-require-imports */

export function usage(): string {
  const lines = [
    `contact-sheet ${VERSION}`,
    '',
    'Usage: contact-sheet <command> [options]',
    '',
    'Commands:',
    ...Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`),
    '',
    'Options:',
    '  -h, --help     Show help (also: contact-sheet <command> --help)',
    '  -V, --version  Show the version',
    '',
    'Environment: REPLICATE_API_TOKEN, REPLICATE_API_BASE_URL, CONTACT_SHEET_MODELS_DIR',
  ];
  return lines.join('\n');
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    io.stdout(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === '-V' || first === '--version') {
    io.stdout(VERSION);
    return 0;
  }
  const entry = SUBCOMMANDS[first];
  if (!entry) {
    io.stderr(`contact-sheet: unknown command "${first}".\n\n${usage()}`);
    return 2;
  }
  try {
    const command = entry.load();
    return await command(rest, io);
  } catch (e) {
    const err = toContactSheetError(e);
    io.stderr(formatError(err));
    return err.code === 'bad-usage' ? 2 : 1;
  }
}

if (require.main === module || process.env.CONTACT_SHEET_CLI_MAIN === '1' || isBundledEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(redact(String(e)) + '\n');
      process.exitCode = 1;
    },
  );
}

function isBundledEntry(): boolean {
  // In dist/cli.js `require.main` is bin/contact-sheet.js, which requires us directly.
  const parent = require.main?.filename ?? '';
  return /[\\/]bin[\\/]contact-sheet(\.js)?$/.test(parent);
}
