import * as vscode from 'vscode';
import { redact, type Logger } from '../core/log';

/** The one "Contact Sheet" log channel, seen through the engine's Logger port (redacted). */
export function createLogChannel(): { channel: vscode.LogOutputChannel; logger: Logger } {
  const channel = vscode.window.createOutputChannel('Contact Sheet', { log: true });
  const format = (message: string, args: unknown[]) =>
    redact(args.length ? `${message} ${args.map(describe).join(' ')}` : message);
  const logger: Logger = {
    trace: (m, ...a) => channel.trace(format(m, a)),
    debug: (m, ...a) => channel.debug(format(m, a)),
    info: (m, ...a) => channel.info(format(m, a)),
    warn: (m, ...a) => channel.warn(format(m, a)),
    error: (m, ...a) => channel.error(format(m, a)),
  };
  return { channel, logger };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
