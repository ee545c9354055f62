import { randomBytes } from 'node:crypto';

/** A fresh CSP nonce per HTML document (crypto, never Math.random). */
export function createNonce(): string {
  return randomBytes(18).toString('base64');
}
