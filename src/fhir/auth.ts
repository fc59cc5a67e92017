/**
 * Credentials toward the EHR: a function that yields the Authorization header value for a request.
 *
 * Tokens from a token endpoint (client credentials with a secret, or SMART Backend Services with a
 * signed client assertion) are cached until shortly before they expire, and concurrent callers
 * share one in-flight request, so a burst of scorings makes one token request, not thousands.
 *
 * A refusing token endpoint is the most common misconfiguration in the field, so it gets exactly
 * one clear log line per token request (status, `error`, `error_description`) and never the
 * secret, the assertion or a token.
 */
import type { AuthConfig } from '../config.ts';
import { AuthError, RetryableError } from '../errors.ts';
import { logger as defaultLogger, type Logger } from '../observability/logger.ts';
import { smartBackendGrant } from './smart-backend.ts';

export type AuthHeaderProvider = () => Promise<string | undefined>;

/** The logger methods auth uses (tests inject a recorder). */
export type AuthLogger = Pick<Logger, 'error' | 'warn' | 'info' | 'debug'>;

export interface AuthProviderOptions {
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Default: the service logger. */
  logger?: AuthLogger;
  /** Clock in milliseconds; default `Date.now`. Drives token expiry and assertion times. */
  now?: () => number;
  /** Timeout of one token (or discovery) request; default 15 s. */
  timeoutMs?: number;
  /** After a refusal (4xx), answer with the same AuthError for this long without asking again; default 30 s. */
  refusalHoldMs?: number;
}

/** Resolved options shared by the token machinery and the grants. */
export interface TokenDeps {
  fetch: typeof fetch;
  logger: AuthLogger;
  now: () => number;
  timeoutMs: number;
}

/**
 * How one kind of client authenticates at the token endpoint: where the endpoint is, and the form
 * (and headers) of one token request. A grant builds a fresh request each time (a new assertion).
 */
export interface TokenGrant {
  readonly clientId: string;
  tokenUrl(): Promise<string>;
  request(tokenUrl: string): Promise<{ form: URLSearchParams; headers?: Record<string, string> }>;
}

/** Renew at most this long before `expires_in` runs out, so a token never expires in flight. */
const EXPIRY_MARGIN_MS = 60_000;
/** SMART recommends tokens of at most 5 minutes; assume that when `expires_in` is missing. */
const DEFAULT_EXPIRES_IN_S = 300;

/** Builds the provider for the configured kind of auth. */
export function createAuthHeaderProvider(auth: AuthConfig, options: AuthProviderOptions = {}): AuthHeaderProvider {
  const deps: TokenDeps = {
    fetch: options.fetch ?? fetch,
    logger: options.logger ?? defaultLogger,
    now: options.now ?? Date.now,
    timeoutMs: options.timeoutMs ?? 15_000,
  };
  switch (auth.kind) {
    case 'none':
      return async () => undefined;
    case 'bearer':
      return async () => `Bearer ${auth.token}`;
    case 'client-credentials':
      return cachedBearer(clientSecretGrant(auth), deps, options.refusalHoldMs);
    case 'smart-backend':
      return cachedBearer(smartBackendGrant(auth, deps), deps, options.refusalHoldMs);
  }
}

/** OAuth client credentials with a shared secret (HTTP Basic, RFC 6749 §2.3.1). */
function clientSecretGrant(auth: Extract<AuthConfig, { kind: 'client-credentials' }>): TokenGrant {
  const basic = Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`).toString('base64');
  return {
    clientId: auth.clientId,
    tokenUrl: async () => auth.tokenUrl,
    request: async () => {
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      if (auth.scope) form.set('scope', auth.scope);
      return { form, headers: { authorization: `Basic ${basic}` } };
    },
  };
}

/**
 * Caches the grant's token until shortly before it expires; concurrent callers share one request;
 * a refusal is remembered for `refusalHoldMs`, so a queue of jobs neither hammers the token
 * endpoint nor floods the log with the same line.
 */
export function cachedBearer(grant: TokenGrant, deps: TokenDeps, refusalHoldMs = 30_000): AuthHeaderProvider {
  let cached: { token: string; renewAt: number } | undefined;
  let refused: { error: AuthError; until: number } | undefined;
  let inflight: Promise<string> | undefined;

  async function renew(): Promise<string> {
    try {
      const issued = await requestToken(grant, deps);
      const lifetimeMs = issued.expiresInSeconds * 1000;
      cached = { token: issued.accessToken, renewAt: deps.now() + lifetimeMs - Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 5) };
      return issued.accessToken;
    } catch (err) {
      if (err instanceof AuthError) refused = { error: err, until: deps.now() + refusalHoldMs };
      throw err;
    }
  }

  return async () => {
    const now = deps.now();
    if (cached && cached.renewAt > now) return `Bearer ${cached.token}`;
    if (refused && refused.until > now) throw refused.error;
    inflight ??= renew().finally(() => {
      inflight = undefined;
    });
    return `Bearer ${await inflight}`;
  };
}

/** A token endpoint's answer, reduced to what the cache needs. */
export interface IssuedToken {
  accessToken: string;
  expiresInSeconds: number;
  scope?: string;
}

/**
 * One token request: POST the grant's form, classify the answer. 5xx, 429 and network failures
 * are `RetryableError`; any other refusal is `AuthError`. Each failure logs exactly one line.
 */
export async function requestToken(grant: TokenGrant, deps: TokenDeps): Promise<IssuedToken> {
  const tokenUrl = await grant.tokenUrl();
  const { form, headers } = await grant.request(tokenUrl);
  const context = { tokenUrl, clientId: grant.clientId };
  let response: Response;
  try {
    response = await deps.fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
      body: form,
      signal: AbortSignal.timeout(deps.timeoutMs),
    });
  } catch (err) {
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    deps.logger.warn(context, `token endpoint ${tokenUrl} unreachable for client ${grant.clientId}: ${reason}`);
    throw new RetryableError(`token endpoint ${tokenUrl} unreachable`, { cause: err });
  }
  const text = await response.text().catch(() => '');
  const json = parseJsonObject(text);

  if (!response.ok) {
    const error = stringField(json, 'error');
    const description = stringField(json, 'error_description');
    // Non-JSON bodies (HTML error pages) are summarized, never logged whole.
    const detail = [error, description].filter(Boolean).join(': ') || (json ? 'no error code' : `non-JSON answer (${response.headers.get('content-type') ?? 'no content-type'})`);
    const line = `token endpoint refused client ${grant.clientId}: HTTP ${response.status} ${detail}`;
    const fields = { ...context, status: response.status, ...(error ? { error } : {}), ...(description ? { error_description: description } : {}) };
    if (response.status >= 500 || response.status === 429) {
      deps.logger.warn(fields, line);
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new RetryableError(`token endpoint answered HTTP ${response.status}`, {
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
      });
    }
    deps.logger.error(fields, line);
    throw new AuthError(`token endpoint refused client ${grant.clientId} (HTTP ${response.status}${error ? ` ${error}` : ''})`, 401);
  }

  const accessToken = stringField(json, 'access_token');
  const tokenType = stringField(json, 'token_type');
  if (!accessToken || (tokenType !== undefined && tokenType.toLowerCase() !== 'bearer')) {
    const problem = !accessToken ? 'without access_token' : `with token_type ${tokenType} (expected bearer)`;
    deps.logger.error({ ...context, status: response.status }, `token endpoint answered client ${grant.clientId} ${problem}`);
    throw new AuthError(`token endpoint answered ${problem}`, 401);
  }
  const expiresIn = Number(json?.expires_in);
  const scope = stringField(json, 'scope');
  const issued: IssuedToken = {
    accessToken,
    expiresInSeconds: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : DEFAULT_EXPIRES_IN_S,
    ...(scope ? { scope } : {}),
  };
  deps.logger.debug({ ...context, expiresIn: issued.expiresInSeconds, scope }, 'access token issued');
  return issued;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A string member, shortened, with anything shaped like a JWT masked (servers sometimes echo the assertion). */
function stringField(json: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = json?.[name];
  if (typeof value !== 'string' || value === '') return undefined;
  if (name === 'access_token') return value;
  return value.replace(/[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, '[jwt]').slice(0, 300);
}
