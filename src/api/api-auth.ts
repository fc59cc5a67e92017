/**
 * Authentication and SMART scopes for the results API (`/fhir`, and whatever else the app puts
 * behind it).
 *
 * `API_AUTH=none` (the default, development only): every request may do anything; one warning is
 * logged at start-up. `API_AUTH=jwt`: a bearer access token issued by the hospital's authorization
 * server, verified with its JWKS (`API_JWKS_URL`), issuer (`API_ISSUER`), audience (`API_AUDIENCE`)
 * and expiry (`exp` is required). Its `scope` claim (space separated) decides what the caller may
 * do, in the SMART App Launch v1 (`.read`, `.write`, `.*`) and v2 (`.cruds` letters) forms:
 *
 * - `system/…` and `user/…` scopes on `RiskAssessment` or `*` reach every patient;
 * - `patient/…` scopes reach only the patient in the token's `patient` claim (none → nothing);
 * - v2 scopes with a query (`patient/RiskAssessment.rs?category=…`) grant nothing here: we cannot
 *   enforce their filter, and reading less than asked is safer than reading more.
 *
 * The middleware only authenticates (401) and attaches the caller's {@link ApiAccess}; each route
 * decides what it needs with {@link requireAccess} / {@link searchRestriction} (403). A 401 carries
 * `WWW-Authenticate: Bearer …` (RFC 6750), and so does a 403 for a missing scope.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AuthError, RetryableError } from '../errors.ts';
import { logger } from '../observability/logger.ts';

/** How the results API authenticates its callers (`API_AUTH` and friends). */
export type ApiAuthConfig =
  | { mode: 'none' }
  | {
      mode: 'jwt';
      /** The authorization server's JSON Web Key Set (`API_JWKS_URL`). */
      jwksUrl: string;
      /** Expected `iss` (`API_ISSUER`). */
      issuer: string;
      /** Expected `aud` (`API_AUDIENCE`), usually fhir-risk's public `/fhir` URL. */
      audience: string;
    };

/** SMART v2 interactions (v1 `read` = `rs`, `write` = `cud`, `*` = all). */
export type Interaction = 'c' | 'r' | 'u' | 'd' | 's';

/** One scope that concerns RiskAssessment. */
export interface RiskAssessmentGrant {
  /** `patient` grants reach only {@link ApiAccess.patient}; `user` and `system` reach everyone. */
  readonly context: 'patient' | 'user' | 'system';
  readonly interactions: ReadonlySet<Interaction>;
}

/** What the caller may do, attached to `res.locals` by the middleware. */
export interface ApiAccess {
  /** False when `API_AUTH=none`: everything is allowed. */
  readonly authenticated: boolean;
  /** The token's `sub` (for logs), when there is one. */
  readonly subject?: string;
  /** The token's `patient` claim (the launch context of patient scopes). */
  readonly patient?: string;
  readonly grants: readonly RiskAssessmentGrant[];
}

/** Accepted signature algorithms: asymmetric only (a shared-secret HS* token cannot come from a JWKS). */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Clock skew tolerated on `exp`/`nbf`/`iat` between us and the authorization server. */
const CLOCK_TOLERANCE_SECONDS = 30;
const REALM = 'fhir-risk';
const ACCESS_KEY = 'apiAccess';

const UNRESTRICTED: ApiAccess = {
  authenticated: false,
  grants: [{ context: 'system', interactions: new Set<Interaction>(['c', 'r', 'u', 'd', 's']) }],
};

let warnedUnauthenticated = false;

/**
 * The authentication middleware. Create it once and mount it in front of every router that needs
 * it (`/fhir`, `/cds-services`, `/admin`): it fetches and caches the JWKS per instance.
 * @param config - from `loadConfig` (`config.apiAuth`).
 * @param options.keySet - a key set to verify with instead of fetching `jwksUrl` (tests).
 */
export function createApiAuth(config: ApiAuthConfig, options: { keySet?: JWTVerifyGetKey } = {}): RequestHandler {
  if (config.mode === 'none') {
    if (!warnedUnauthenticated) {
      warnedUnauthenticated = true;
      logger.warn('API_AUTH=none: the results API (/fhir) is unauthenticated; development only (set API_AUTH=jwt)');
    }
    return (_req, res, next) => {
      res.locals[ACCESS_KEY] = UNRESTRICTED;
      next();
    };
  }
  const keySet = options.keySet ?? createRemoteJWKSet(new URL(config.jwksUrl));
  return (req: Request, res: Response, next: NextFunction) => {
    const token = bearerToken(req.get('authorization'));
    if (token === undefined) {
      res.set('WWW-Authenticate', `Bearer realm="${REALM}"`);
      next(new AuthError('This API needs an access token: Authorization: Bearer <token>'));
      return;
    }
    jwtVerify(token, keySet, {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: ALGORITHMS,
      requiredClaims: ['exp'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    }).then(
      ({ payload }) => {
        res.locals[ACCESS_KEY] = accessFromClaims(payload);
        next();
      },
      (err: unknown) => {
        const rejected = tokenRejection(err);
        if (rejected) {
          res.set('WWW-Authenticate', `Bearer realm="${REALM}", error="invalid_token", error_description="${rejected.replace(/["\\]/g, "'")}"`);
          next(new AuthError(`Invalid access token: ${rejected}`));
          return;
        }
        // The authorization server's key set could not be had: our problem, not the caller's.
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'API auth: the JWKS could not be fetched');
        next(new RetryableError('Cannot verify access tokens now: the authorization server key set is unavailable', { cause: err, retryAfterSeconds: 5 }));
      },
    );
  };
}

/** The access the middleware attached. Throws (500) when the middleware was not mounted: fail closed. */
export function apiAccess(res: Response): ApiAccess {
  const access = res.locals[ACCESS_KEY] as ApiAccess | undefined;
  if (!access) throw new Error('API auth middleware is not mounted in front of this route');
  return access;
}

/** Reads the access from verified claims. Exported for tests. */
export function accessFromClaims(claims: JWTPayload): ApiAccess {
  const scope = typeof claims.scope === 'string' ? claims.scope : Array.isArray(claims.scp) ? claims.scp.join(' ') : '';
  const grants = scope
    .split(/\s+/)
    .map(parseRiskAssessmentScope)
    .filter((g): g is RiskAssessmentGrant => g !== undefined);
  return {
    authenticated: true,
    ...(typeof claims.sub === 'string' ? { subject: claims.sub } : {}),
    ...(typeof claims.patient === 'string' && claims.patient !== '' ? { patient: claims.patient } : {}),
    grants,
  };
}

/**
 * Parses one SMART scope; undefined unless it grants something on RiskAssessment.
 * `system/RiskAssessment.read`, `user/*.rs`, `patient/RiskAssessment.*`, `system/RiskAssessment.cruds`…
 */
export function parseRiskAssessmentScope(scope: string): RiskAssessmentGrant | undefined {
  const match = /^(patient|user|system)\/(RiskAssessment|\*)\.([A-Za-z*]+)$/.exec(scope);
  if (!match) return undefined;
  const context = match[1] as RiskAssessmentGrant['context'];
  const permissions = match[3]!;
  let interactions: Interaction[];
  if (permissions === 'read') interactions = ['r', 's'];
  else if (permissions === 'write') interactions = ['c', 'u', 'd'];
  else if (permissions === '*') interactions = ['c', 'r', 'u', 'd', 's'];
  // v2: a non-empty subset of c, r, u, d, s in that order.
  else if (/^c?r?u?d?s?$/.test(permissions)) interactions = [...permissions] as Interaction[];
  else return undefined;
  return { context, interactions: new Set(interactions) };
}

/**
 * Throws 403 unless the caller may do one of `interactions` on RiskAssessments of `patientId`.
 * @param interactions - any of these suffices (e.g. `['c', 'u']` for a write).
 * @param scopeHint - the scope to name in the error and `WWW-Authenticate` (e.g. `system/RiskAssessment.rs`).
 */
export function requireAccess(res: Response, interactions: readonly Interaction[], patientId: string, scopeHint: string): void {
  const access = apiAccess(res);
  const allowed = access.grants.some(
    (g) => interactions.some((i) => g.interactions.has(i)) && (g.context !== 'patient' || (access.patient !== undefined && access.patient === patientId)),
  );
  if (!allowed) throw forbidden(res, `This access token does not allow this on RiskAssessments of Patient/${patientId} (needs ${scopeHint})`, scopeHint);
}

/**
 * What a search may reach: `{ patient: undefined }` for every patient, `{ patient: id }` when only
 * patient-context scopes allow searching (the caller's search is then forced to that patient).
 * Throws 403 when no scope allows searching RiskAssessments at all.
 */
export function searchRestriction(res: Response): { patient: string | undefined } {
  const access = apiAccess(res);
  const searching = access.grants.filter((g) => g.interactions.has('s'));
  if (searching.some((g) => g.context !== 'patient')) return { patient: undefined };
  if (access.patient !== undefined && searching.length > 0) return { patient: access.patient };
  const hint = 'system/RiskAssessment.rs, user/RiskAssessment.rs or patient/RiskAssessment.rs with a patient';
  throw forbidden(res, `This access token does not allow searching RiskAssessments (needs ${hint})`, 'system/RiskAssessment.rs');
}

/** A 403 with RFC 6750's `insufficient_scope` challenge. */
export function forbidden(res: Response, message: string, scope: string): AuthError {
  if (apiAccess(res).authenticated) res.set('WWW-Authenticate', `Bearer realm="${REALM}", error="insufficient_scope", scope="${scope}"`);
  return new AuthError(message, 403);
}

function bearerToken(authorization: string | undefined): string | undefined {
  const match = authorization === undefined ? null : /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(authorization);
  return match?.[1];
}

/** Why the token itself is refused (401), in words safe to return; undefined when it is not the token's fault. */
function tokenRejection(err: unknown): string | undefined {
  if (err instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim ${err.claim} is not acceptable (${err.reason})`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the authorization server matches the token';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) return 'the signature algorithm is not accepted';
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return 'the token is malformed';
  }
  return undefined;
}
