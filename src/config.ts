/**
 * Environment → typed, validated configuration.
 *
 * Every variable is documented here (and in README "Configuration"). `loadConfig` collects every
 * problem before failing, so an operator fixes a bad deployment in one round: one line per problem.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { ApiAuthConfig } from './api/api-auth.ts';
import { ConfigError } from './errors.ts';
import { SIGNING_ALGS, signingKeyFromConfig, type SigningKey } from './fhir/jwks.ts';
import { DEFAULT_SMART_SCOPE } from './fhir/smart-backend.ts';

/** The bundled models shipped with fhir-risk (`models/` at the repository root). */
export const BUNDLED_MODELS_DIR = fileURLToPath(new URL('../models/', import.meta.url));
/** The bundled conformance resources (`fhir-profiles/`). */
export const BUNDLED_PROFILES_DIR = fileURLToPath(new URL('../fhir-profiles/', import.meta.url));

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** One check, so a bad URL is one line, not two. */
function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

const httpUrl = z
  .string()
  .refine(isHttpUrl, 'must be an http(s) URL, e.g. https://ehr.example.org/fhir')
  .transform((u) => u.replace(/\/+$/, ''));

const bytes = z
  .string()
  .regex(/^\d+(kb|mb|b)?$/i, 'a size such as 5mb, 512kb or 1048576')
  .transform((v) => {
    const m = /^(\d+)(kb|mb|b)?$/i.exec(v)!;
    const n = Number(m[1]);
    const unit = (m[2] ?? 'b').toLowerCase();
    return unit === 'mb' ? n * 1024 * 1024 : unit === 'kb' ? n * 1024 : n;
  });

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * A period as an ISO 8601 duration (`PT15M`, `P30D`, `P1W`, `PT1H30M`) or milliseconds (`900000`).
 * Years and months are refused: their length varies, so `P1M` would not say how long it waits.
 * With `allowOff`, `0` or `off` turn the task off (→ 0).
 */
const duration = (allowOff: boolean) =>
  z
    .string()
    .trim()
    .transform((v, ctx) => {
      const ms = parseDurationMs(v);
      if (ms === 0 && allowOff) return 0;
      if (ms === undefined || ms < 100) {
        ctx.addIssue({
          code: 'custom',
          message: `an ISO 8601 duration such as PT15M or P30D, or milliseconds (at least 100)${allowOff ? ', or 0/off to turn it off' : ''}`,
        });
        return z.NEVER;
      }
      return ms;
    });

/** `PnW`, `PnDTnHnMnS` (fractional seconds allowed), plain milliseconds, `off`/`0` → 0; else undefined. */
export function parseDurationMs(text: string): number | undefined {
  const v = text.trim();
  if (/^(off|0)$/i.test(v)) return 0;
  if (/^\d+$/.test(v)) return Number(v);
  const m = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(v);
  if (!m || v.toUpperCase() === 'P' || /T$/i.test(v)) return undefined;
  const [w, d, h, min, sec] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number];
  return Math.round(((((w * 7 + d) * 24 + h) * 60 + min) * 60 + sec) * 1000);
}

const envSchema = z.object({
  /** The EHR's FHIR R4 base URL: where patient data is read (and, by default, results written). */
  FHIR_BASE_URL: httpUrl.optional(),
  /** Where RiskAssessments are written and read back, when the EHR does not accept them. */
  RESULTS_FHIR_BASE_URL: httpUrl.optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .default('redis://127.0.0.1:6379'),
  PORT: int(0, 65535).default(8080),
  /** Prefix of every BullMQ key. Wrapped in {} for Redis Cluster so a queue's keys share a slot. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.{}-]+$/, 'letters, digits, _ . - { } only')
    .default('fhir-risk'),
  MODELS_DIR: z.string().min(1).default(BUNDLED_MODELS_DIR),
  /** Fail start-up when any model is broken, instead of disabling just that model. */
  MODELS_STRICT: bool.default(false),
  /** Comma-separated model ids not to run. */
  MODELS_DISABLED: z.string().default(''),
  /**
   * Shadow mode, comma-separated: `id` writes that model's assessments with status
   * `preliminary`; `id:measure` only measures (metrics and logs, nothing written).
   */
  MODELS_SHADOW: z
    .string()
    .regex(/^(\s*[a-z0-9-]+(:measure)?\s*(,|$))*$/, 'comma-separated model ids, each optionally with :measure')
    .default(''),
  /** Longest one ONNX inference may take before the scoring fails (and is retried). */
  MODEL_TIMEOUT_MS: int(10, 600_000).default(5000),
  /** Shared secret notifications must prove (X-Signature HMAC, Bearer or ?token=). */
  NOTIFY_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  NOTIFY_BODY_LIMIT: bytes.default(5 * 1024 * 1024),
  /** A burst of events for one patient and model within this window becomes one scoring. */
  SCORE_DEBOUNCE_MS: int(0, 600_000).default(2000),
  WORKER_CONCURRENCY: int(1, 256).default(8),
  /** Reconciliation sweep on a schedule (one across all pods); `0`/`off` turns it off. */
  SWEEP_INTERVAL: duration(true).default(15 * 60_000),
  /** How often the re-scoring of assessments older than RESCORE_MAX_AGE runs; `0`/`off` turns it off. */
  RESCORE_INTERVAL: duration(true).default(3600_000),
  /** A (patient, model) whose newest assessment is older than this is re-scored. */
  RESCORE_MAX_AGE: duration(false).default(30 * 24 * 3600_000),
  /** How RiskAssessments are written: PUT with a deterministic id, or conditional create. */
  /**
   * Retry budget of every job (validated here so a bad value is one line at start-up; the queue
   * code reads them in src/pipeline/jobs.ts).
   */
  JOB_ATTEMPTS: int(1, 100).default(12),
  JOB_BACKOFF_MS: int(10, 3600_000).default(2000),
  WRITE_MODE: z.enum(['put', 'conditional-create']).default('put'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The public URL of this service, used in paging links of the /fhir facade. */
  PUBLIC_BASE_URL: httpUrl.optional(),
  FHIR_AUTH: z.enum(['none', 'bearer', 'client-credentials', 'smart-backend']).default('none'),
  FHIR_BEARER_TOKEN: z.string().min(1).optional(),
  FHIR_TOKEN_URL: httpUrl.optional(),
  FHIR_CLIENT_ID: z.string().min(1).optional(),
  FHIR_CLIENT_SECRET: z.string().min(1).optional(),
  FHIR_SCOPE: z.string().min(1).optional(),
  /** smart-backend: the PEM (PKCS#8) private key that signs client assertions, or a file holding it. */
  FHIR_PRIVATE_KEY: z.string().min(1).optional(),
  FHIR_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  /** smart-backend: `kid` of the key (default: its RFC 7638 thumbprint). */
  FHIR_KEY_ID: z.string().min(1).optional(),
  FHIR_SIGNING_ALG: z.enum(SIGNING_ALGS).default('RS384'),
  /** EHR request timeout. */
  FHIR_TIMEOUT_MS: int(100, 600_000).default(15_000),
  /** Authentication of the results API (/fhir): none (development only) or jwt (SMART access tokens). */
  API_AUTH: z.enum(['none', 'jwt']).default('none'),
  /** jwt: the authorization server's JSON Web Key Set. */
  API_JWKS_URL: httpUrl.optional(),
  /** jwt: the expected `iss` of access tokens. */
  API_ISSUER: z.string().min(1).optional(),
  /** jwt: the expected `aud` of access tokens (usually this service's public /fhir URL). */
  API_AUDIENCE: z.string().min(1).optional(),
  /**
   * CDS Hooks callers (the EHR) authenticate with their own JWT: `CDS_AUTH=jwt` checks it against
   * the EHR's key set (`CDS_JWKS_URL`), issuer (`CDS_ISSUER`) and audience (`CDS_AUDIENCE`, our
   * `/cds-services` URL as the EHR names it). `none` for development only.
   */
  CDS_AUTH: z.enum(['none', 'jwt']).default('none'),
  CDS_JWKS_URL: httpUrl.optional(),
  CDS_ISSUER: z.string().min(1).optional(),
  CDS_AUDIENCE: z.string().min(1).optional(),
});

export type AuthConfig =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | { kind: 'client-credentials'; tokenUrl: string; clientId: string; clientSecret: string; scope?: string }
  | {
      kind: 'smart-backend';
      /** Unset: discovered from `${fhirBaseUrl}/.well-known/smart-configuration`. */
      tokenUrl?: string;
      fhirBaseUrl?: string;
      clientId: string;
      scope: string;
      signingKey: SigningKey;
    };

export interface Config {
  fhirBaseUrl?: string;
  resultsBaseUrl?: string;
  redisUrl: string;
  port: number;
  queuePrefix: string;
  modelsDir: string;
  modelsStrict: boolean;
  modelsDisabled: string[];
  /** Shadow models written as `preliminary`. */
  modelsShadow: string[];
  /** Shadow models only measured, never written. */
  modelsMeasureOnly: string[];
  modelTimeoutMs: number;
  notifySecret?: string;
  notifyBodyLimit: number;
  scoreDebounceMs: number;
  workerConcurrency: number;
  /** Milliseconds between scheduled sweeps; 0 = off. */
  sweepIntervalMs: number;
  /** Milliseconds between max-age re-scoring passes; 0 = off. */
  rescoreIntervalMs: number;
  rescoreMaxAgeMs: number;
  writeMode: 'put' | 'conditional-create';
  logLevel: string;
  publicBaseUrl?: string;
  auth: AuthConfig;
  fhirTimeoutMs: number;
  apiAuth: ApiAuthConfig;
  /** Authentication of CDS Hooks callers (the EHR's own JWT). */
  cdsAuth: ApiAuthConfig;
}

export interface LoadConfigOptions {
  /** The command needs the EHR (`start`, `serve`, `worker`, `sweep`, …). */
  requireFhir: boolean;
}

function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Reads and validates the environment. Throws ConfigError with one line per problem. */
export function loadConfig(env: NodeJS.ProcessEnv, options: LoadConfigOptions): Config {
  // Empty strings are "unset": Helm and docker-compose render absent values as "".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.')}: ${issue.message}`);
    }
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  if (options.requireFhir && !e.FHIR_BASE_URL) problems.push('FHIR_BASE_URL: required (the EHR FHIR R4 base URL)');

  const need = (name: keyof typeof e, why: string): string => {
    const value = e[name];
    if (typeof value !== 'string' || value === '') {
      problems.push(`${name}: required when ${why}`);
      return '';
    }
    return value;
  };
  let auth: AuthConfig = { kind: 'none' };
  switch (e.FHIR_AUTH) {
    case 'none':
      break;
    case 'bearer':
      auth = { kind: 'bearer', token: need('FHIR_BEARER_TOKEN', 'FHIR_AUTH=bearer') };
      break;
    case 'client-credentials':
      auth = {
        kind: 'client-credentials',
        tokenUrl: need('FHIR_TOKEN_URL', 'FHIR_AUTH=client-credentials'),
        clientId: need('FHIR_CLIENT_ID', 'FHIR_AUTH=client-credentials'),
        clientSecret: need('FHIR_CLIENT_SECRET', 'FHIR_AUTH=client-credentials'),
        ...(e.FHIR_SCOPE ? { scope: e.FHIR_SCOPE } : {}),
      };
      break;
    case 'smart-backend': {
      const clientId = need('FHIR_CLIENT_ID', 'FHIR_AUTH=smart-backend');
      // When FHIR_BASE_URL is required, its own line already says what to fix.
      if (!e.FHIR_TOKEN_URL && !e.FHIR_BASE_URL && !options.requireFhir) {
        problems.push('FHIR_TOKEN_URL: required when FHIR_AUTH=smart-backend and FHIR_BASE_URL is unset (nothing to discover it from)');
      }
      const key = signingKeyFromConfig({
        pem: e.FHIR_PRIVATE_KEY,
        file: e.FHIR_PRIVATE_KEY_FILE,
        alg: e.FHIR_SIGNING_ALG,
        kid: e.FHIR_KEY_ID,
      });
      if (key.problems) problems.push(...key.problems);
      else {
        auth = {
          kind: 'smart-backend',
          ...(e.FHIR_TOKEN_URL ? { tokenUrl: e.FHIR_TOKEN_URL } : {}),
          ...(e.FHIR_BASE_URL ? { fhirBaseUrl: e.FHIR_BASE_URL } : {}),
          clientId,
          scope: e.FHIR_SCOPE ?? DEFAULT_SMART_SCOPE,
          signingKey: key.key,
        };
      }
      break;
    }
  }
  const apiAuth: ApiAuthConfig =
    e.API_AUTH === 'jwt'
      ? {
          mode: 'jwt',
          jwksUrl: need('API_JWKS_URL', 'API_AUTH=jwt'),
          issuer: need('API_ISSUER', 'API_AUTH=jwt'),
          audience: need('API_AUDIENCE', 'API_AUTH=jwt'),
        }
      : { mode: 'none' };
  const cdsAuth: ApiAuthConfig =
    e.CDS_AUTH === 'jwt'
      ? {
          mode: 'jwt',
          jwksUrl: need('CDS_JWKS_URL', 'CDS_AUTH=jwt'),
          issuer: need('CDS_ISSUER', 'CDS_AUTH=jwt'),
          audience: need('CDS_AUDIENCE', 'CDS_AUTH=jwt'),
        }
      : { mode: 'none' };
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    ...(e.FHIR_BASE_URL ? { fhirBaseUrl: e.FHIR_BASE_URL } : {}),
    ...(e.RESULTS_FHIR_BASE_URL ?? e.FHIR_BASE_URL ? { resultsBaseUrl: e.RESULTS_FHIR_BASE_URL ?? e.FHIR_BASE_URL } : {}),
    redisUrl: e.REDIS_URL,
    port: e.PORT,
    queuePrefix: e.QUEUE_PREFIX,
    modelsDir: e.MODELS_DIR,
    modelsStrict: e.MODELS_STRICT,
    modelsDisabled: list(e.MODELS_DISABLED),
    modelsShadow: list(e.MODELS_SHADOW).filter((m) => !m.endsWith(':measure')),
    modelsMeasureOnly: list(e.MODELS_SHADOW)
      .filter((m) => m.endsWith(':measure'))
      .map((m) => m.slice(0, -':measure'.length)),
    modelTimeoutMs: e.MODEL_TIMEOUT_MS,
    ...(e.NOTIFY_SECRET ? { notifySecret: e.NOTIFY_SECRET } : {}),
    notifyBodyLimit: e.NOTIFY_BODY_LIMIT,
    scoreDebounceMs: e.SCORE_DEBOUNCE_MS,
    workerConcurrency: e.WORKER_CONCURRENCY,
    sweepIntervalMs: e.SWEEP_INTERVAL,
    rescoreIntervalMs: e.RESCORE_INTERVAL,
    rescoreMaxAgeMs: e.RESCORE_MAX_AGE,
    writeMode: e.WRITE_MODE,
    logLevel: e.LOG_LEVEL,
    ...(e.PUBLIC_BASE_URL ? { publicBaseUrl: e.PUBLIC_BASE_URL } : {}),
    auth,
    fhirTimeoutMs: e.FHIR_TIMEOUT_MS,
    apiAuth,
    cdsAuth,
  };
}
