/**
 * "owner/name[:version]" parsing. Model references come from users (settings, front matter, CLI
 * flags), so a malformed one is a usage error with an example, not a failed HTTP call later.
 */
import { ContactSheetError } from '../../shared/errors';
import type { ModelRef } from './types';

// Replicate owner and model names: lowercase letters, digits, '-', '_', '.'; versions are 64 hex.
const NAME_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const VERSION = /^[0-9a-f]{64}$/;

export function parseModelRef(s: string): ModelRef {
  const text = s.trim();
  const [path, version, ...rest] = text.split(':');
  const parts = path.split('/');
  const bad = (why: string) =>
    new ContactSheetError('bad-usage', `"${s}" is not a Replicate model reference: ${why}.`, {
      action: 'Write the model as owner/name or owner/name:version, e.g. black-forest-labs/flux-schnell.',
    });
  if (rest.length > 0) throw bad('more than one ":"');
  if (parts.length !== 2) throw bad('expected exactly one "/" between owner and name');
  const [owner, name] = parts;
  if (!NAME_PART.test(owner)) throw bad('the owner is empty or has characters Replicate does not allow');
  if (!NAME_PART.test(name)) throw bad('the name is empty or has characters Replicate does not allow');
  if (version !== undefined) {
    if (!VERSION.test(version)) throw bad('the version must be 64 lowercase hex characters');
    return { owner, name, version };
  }
  return { owner, name };
}

/** "owner/name" (no version): the key used for pricing, fallback bookkeeping and outputs. */
export function modelName(ref: ModelRef): string {
  return `${ref.owner}/${ref.name}`;
}

/** "owner/name[:version]", the inverse of parseModelRef. */
export function formatModelRef(ref: ModelRef): string {
  return ref.version ? `${modelName(ref)}:${ref.version}` : modelName(ref);
}
