/**
 * The one rule for the Replicate API base URL, which every request carries the token to: https to
 * any host; plain http only to this machine (127.0.0.0/8, ::1, localhost), where a local fake or a
 * proxy listens and nothing crosses a network in clear text. Every face checks what the user gave
 * with it (the CLI's --api-base-url and REPLICATE_API_BASE_URL, the extension's setting), and so do
 * createEngine and the Replicate client, so no path skips it.
 */
import { ContactSheetError } from '../../shared/errors';

/**
 * Returns the URL without trailing slashes, or throws `bad-usage` naming `source` (the flag,
 * variable or setting the value came from) with what to do instead.
 */
export function checkApiBaseUrl(value: string, source: string): string {
  const refuse = (why: string) =>
    new ContactSheetError('bad-usage', `${source} ${why}: "${shown(value)}".`, {
      action: `Use an https:// URL (plain http:// only for a server on this machine: 127.0.0.1, ::1 or localhost), or leave ${source} unset for https://api.replicate.com.`,
      details: { source },
    });
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw refuse('is not a URL');
  }
  if (url.username || url.password) throw refuse('must not contain a user name or password');
  // Request paths are appended to the base: a query or fragment would end up in the middle of them.
  if (url.search || url.hash) throw refuse('must not carry a query or a fragment');
  if (url.protocol === 'https:') return url.href.replace(/\/+$/, '');
  if (url.protocol !== 'http:') throw refuse(`must be an https:// URL, not ${url.protocol}`);
  if (!isLoopbackHost(url.hostname)) throw refuse('sends the API token in clear text to another machine (plain http:// is only for loopback addresses)');
  return url.href.replace(/\/+$/, '');
}

/** 127.0.0.0/8, ::1 and localhost, as the WHATWG URL parser normalizes them (127.1 → 127.0.0.1). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === 'localhost' || host === '[::1]') return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return v4 !== null && v4[1] === '127' && v4.slice(2).every((o) => Number(o) <= 255);
}

/** The value as shown in a message: a URL's credentials are never repeated. */
function shown(value: string): string {
  return value.replace(/\/\/[^/@]*@/, '//…@').slice(0, 200);
}
