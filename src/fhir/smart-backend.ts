/**
 * SMART Backend Services (https://hl7.org/fhir/smart-app-launch/backend-services.html): the client
 * authenticates with a short-lived JWT signed by its private key (RFC 7523 `private_key_jwt`);
 * the EHR verifies it with the public key registered for the client (a JWK Set, often by URL).
 *
 * The token endpoint is `FHIR_TOKEN_URL`, or, when unset, the `token_endpoint` of
 * `${FHIR_BASE_URL}/.well-known/smart-configuration`, discovered on first use and kept.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { AuthConfig } from '../config.ts';
import { AuthError, RetryableError } from '../errors.ts';
import type { TokenDeps, TokenGrant } from './auth.ts';
import type { SigningKey } from './jwks.ts';

/**
 * Scopes requested when `FHIR_SCOPE` is unset (SMART v2 syntax): read what the models read, and
 * create/read/update/search RiskAssessments (the write-back, `entered-in-error`, the /fhir facade).
 * No `d`: fhir-risk never deletes. SMART v1-only servers need `FHIR_SCOPE` (e.g. `system/*.read`).
 */
export const DEFAULT_SMART_SCOPE =
  'system/Patient.rs system/Observation.rs system/Condition.rs system/MedicationRequest.rs system/RiskAssessment.crus';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Assertion lifetime. SMART allows at most 5 minutes; 4 leaves room for a server clock running behind ours. */
export const ASSERTION_LIFETIME_SECONDS = 240;

export type SmartBackendAuth = Extract<AuthConfig, { kind: 'smart-backend' }>;

/**
 * The signed client assertion: iss = sub = client id, aud = token URL, a unique jti, exp within
 * 5 minutes, and the key's `kid` in the header so the server picks the right key from the JWKS.
 */
export async function createClientAssertion(options: {
  clientId: string;
  tokenUrl: string;
  key: SigningKey;
  /** Milliseconds since the epoch; default now. */
  now?: number;
}): Promise<string> {
  const issuedAt = Math.floor((options.now ?? Date.now()) / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: options.key.alg, kid: options.key.kid, typ: 'JWT' })
    .setIssuer(options.clientId)
    .setSubject(options.clientId)
    .setAudience(options.tokenUrl)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ASSERTION_LIFETIME_SECONDS)
    .setJti(randomUUID())
    .sign(options.key.privateKey);
}

/** The token grant of SMART Backend Services, for `cachedBearer` in `auth.ts`. */
export function smartBackendGrant(auth: SmartBackendAuth, deps: TokenDeps): TokenGrant {
  let tokenUrl: Promise<string> | undefined = auth.tokenUrl ? Promise.resolve(auth.tokenUrl) : undefined;
  return {
    clientId: auth.clientId,
    tokenUrl() {
      // Keep a discovered URL; forget a failed discovery so the next call tries again.
      tokenUrl ??= discoverTokenEndpoint(auth.fhirBaseUrl ?? '', auth.signingKey.alg, deps).catch((err: unknown) => {
        tokenUrl = undefined;
        throw err;
      });
      return tokenUrl;
    },
    async request(url) {
      const assertion = await createClientAssertion({ clientId: auth.clientId, tokenUrl: url, key: auth.signingKey, now: deps.now() });
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: assertion,
        scope: auth.scope,
      });
      return { form };
    },
  };
}

/** The SMART configuration members discovery reads. */
interface SmartConfiguration {
  token_endpoint?: unknown;
  token_endpoint_auth_methods_supported?: unknown;
  token_endpoint_auth_signing_alg_values_supported?: unknown;
}

/**
 * Reads `token_endpoint` from `${fhirBaseUrl}/.well-known/smart-configuration`. 5xx, 429 and
 * network failures are `RetryableError`; a missing document or member is `AuthError` (set
 * FHIR_TOKEN_URL). Warns, once, when the server says it does not support our method or algorithm.
 */
export async function discoverTokenEndpoint(fhirBaseUrl: string, alg: SigningKey['alg'], deps: TokenDeps): Promise<string> {
  const url = `${fhirBaseUrl.replace(/\/+$/, '')}/.well-known/smart-configuration`;
  let response: Response;
  try {
    response = await deps.fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(deps.timeoutMs) });
  } catch (err) {
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    deps.logger.warn({ url }, `SMART configuration ${url} unreachable: ${reason}`);
    throw new RetryableError(`SMART configuration ${url} unreachable`, { cause: err });
  }
  if (response.status >= 500 || response.status === 429) {
    deps.logger.warn({ url, status: response.status }, `SMART configuration ${url} answered HTTP ${response.status}`);
    throw new RetryableError(`SMART configuration ${url} answered HTTP ${response.status}`);
  }
  const document = response.ok ? ((await response.json().catch(() => undefined)) as SmartConfiguration | undefined) : undefined;
  const endpoint = document?.token_endpoint;
  if (typeof endpoint !== 'string' || !/^https?:\/\//.test(endpoint)) {
    const why = response.ok ? 'has no http(s) token_endpoint' : `answered HTTP ${response.status}`;
    deps.logger.error({ url, status: response.status }, `SMART configuration ${url} ${why}; set FHIR_TOKEN_URL`);
    throw new AuthError(`cannot discover the token endpoint: ${url} ${why}; set FHIR_TOKEN_URL`, 401);
  }
  const methods = document?.token_endpoint_auth_methods_supported;
  const algs = document?.token_endpoint_auth_signing_alg_values_supported;
  if (Array.isArray(methods) && !methods.includes('private_key_jwt')) {
    deps.logger.warn({ url, methods }, 'the EHR does not list private_key_jwt among its token endpoint auth methods');
  }
  if (Array.isArray(algs) && !algs.includes(alg)) {
    deps.logger.warn({ url, algs }, `the EHR does not list ${alg} among its signing algorithms; consider FHIR_SIGNING_ALG`);
  }
  deps.logger.info({ tokenUrl: endpoint }, 'token endpoint discovered from SMART configuration');
  return endpoint;
}
