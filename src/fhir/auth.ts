/**
 * Credentials toward the EHR: a function that yields the Authorization header value for a request.
 *
 * Tokens from a token endpoint are cached until shortly before they expire, so a burst of scorings
 * makes one token request, not thousands.
 */
import type { AuthConfig } from '../config.ts';
import { AuthError, RetryableError } from '../errors.ts';
import { logger } from '../observability/logger.ts';

export type AuthHeaderProvider = () => Promise<string | undefined>;

/** Renew this long before `expires_in` runs out, so a token never expires in flight. */
const EXPIRY_MARGIN_MS = 60_000;

export function createAuthHeaderProvider(auth: AuthConfig, fetchImpl: typeof fetch = fetch): AuthHeaderProvider {
  switch (auth.kind) {
    case 'none':
      return async () => undefined;
    case 'bearer':
      return async () => `Bearer ${auth.token}`;
    case 'client-credentials':
      return clientCredentials(auth, fetchImpl);
    case 'smart-backend':
      throw new AuthError('FHIR_AUTH=smart-backend is not implemented yet');
  }
}

function clientCredentials(
  auth: Extract<AuthConfig, { kind: 'client-credentials' }>,
  fetchImpl: typeof fetch,
): AuthHeaderProvider {
  let cached: { token: string; expiresAt: number } | undefined;
  let inflight: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope) body.set('scope', auth.scope);
    const basic = Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`).toString('base64');
    let response: Response;
    try {
      response = await fetchImpl(auth.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
        body,
      });
    } catch (err) {
      throw new RetryableError(`token endpoint ${auth.tokenUrl} unreachable`, { cause: err });
    }
    if (!response.ok) {
      const text = (await response.text()).slice(0, 200);
      // One clear line: this is the most common misconfiguration in the field.
      logger.error({ status: response.status, tokenUrl: auth.tokenUrl }, `token endpoint refused client ${auth.clientId}: ${text}`);
      if (response.status >= 500 || response.status === 429) throw new RetryableError(`token endpoint answered ${response.status}`);
      throw new AuthError(`token endpoint refused client ${auth.clientId} (${response.status})`, 401);
    }
    const json = (await response.json()) as { access_token?: string; expires_in?: number };
    if (!json.access_token) throw new AuthError('token endpoint answered without access_token');
    cached = { token: json.access_token, expiresAt: Date.now() + (json.expires_in ?? 300) * 1000 - EXPIRY_MARGIN_MS };
    return json.access_token;
  }

  return async () => {
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    inflight ??= fetchToken().finally(() => {
      inflight = undefined;
    });
    return `Bearer ${await inflight}`;
  };
}
