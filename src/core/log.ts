/**
 * The engine logs through this port; the extension implements it with a LogOutputChannel,
 * the CLI with stderr. Implementations must pass every message through `redact`.
 */
export interface Logger {
  trace(message: string, ...args: unknown[]): void;
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

const secrets = new Set<string>();

/** Registers a secret (the API token) so that `redact` removes it from any text. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 4) secrets.add(secret);
}

const TOKEN_PATTERNS: RegExp[] = [
  /\br8_[A-Za-z0-9]{8,}\b/g, // Replicate tokens
  /(authorization\s*[:=]\s*(?:bearer|token)\s+)[^\s"',]+/gi,
  /(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
];

/** Removes registered secrets and anything shaped like a Replicate token or auth header. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('[REDACTED]');
  for (const p of TOKEN_PATTERNS) {
    out = out.replace(p, (_m, prefix?: string) => (typeof prefix === 'string' ? `${prefix}[REDACTED]` : '[REDACTED]'));
  }
  return out;
}

/** A logger that drops everything (for library callers that pass none). */
export const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** A logger writing redacted lines to a stream (the CLI's stderr). */
export function streamLogger(
  write: (line: string) => void,
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' = 'info',
): Logger {
  const order = ['trace', 'debug', 'info', 'warn', 'error'] as const;
  const min = order.indexOf(level);
  const make = (lvl: (typeof order)[number]) => (message: string, ...args: unknown[]) => {
    if (order.indexOf(lvl) < min) return;
    const extra = args.length ? ' ' + args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' ') : '';
    write(redact(`[${lvl}] ${message}${extra}`));
  };
  return { trace: make('trace'), debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}

function safeJson(v: unknown): string {
  if (v instanceof Error) return v.message;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
