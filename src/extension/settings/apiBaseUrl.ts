import { checkApiBaseUrl } from '../../core/replicate/apiBaseUrl';

export const REPLICATE_API_BASE_URL = 'https://api.replicate.com';

/**
 * The `contactSheet.apiBaseUrl` setting, checked by the core's one rule for the URL the token
 * travels to (https anywhere, plain http only to this machine). Empty means Replicate itself.
 */
export function parseApiBaseUrl(setting: string | undefined): string {
  const raw = setting?.trim();
  if (!raw) return REPLICATE_API_BASE_URL;
  return checkApiBaseUrl(raw, 'The contactSheet.apiBaseUrl setting');
}
