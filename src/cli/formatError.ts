import { redact } from '../core/log';
import type { ContactSheetError } from '../shared/errors';

/** One error as the CLI prints it: code, message and the action on its own line, redacted. */
export function formatError(err: ContactSheetError): string {
  const action = err.action ? `\n  → ${err.action}` : '';
  return redact(`contact-sheet: error [${err.code}]: ${err.message}${action}`);
}
