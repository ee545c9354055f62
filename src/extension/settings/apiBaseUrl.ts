import { ContactSheetError } from '../../shared/errors';

export const REPLICATE_API_BASE_URL = 'https://api.replicate.com';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * The `contactSheet.apiBaseUrl` setting, checked: the token travels with every request, so only
 * https is accepted, except plain http to this machine (a local fake Replicate in tests and the
 * DEMO). Empty means Replicate itself.
 */
export function parseApiBaseUrl(setting: string | undefined): string {
  const raw = setting?.trim();
  if (!raw) return REPLICATE_API_BASE_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badUrl(`"${raw}" is not a URL`);
  }
  const loopback = LOOPBACK_HOSTS.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw badUrl(`${url.protocol}//${url.host} would send the API token unencrypted`);
  }
  if (url.username || url.password || url.search || url.hash) throw badUrl('it may not carry credentials, a query or a fragment');
  return url.toString().replace(/\/+$/, '');
}

function badUrl(why: string): ContactSheetError {
  return new ContactSheetError('bad-usage', `The contactSheet.apiBaseUrl setting is not usable: ${why}.`, {
    action: 'Use an https:// URL (http:// only for 127.0.0.1 or localhost), or clear the setting to use Replicate.',
  });
}
