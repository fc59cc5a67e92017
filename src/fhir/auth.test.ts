/**
 * EHR authentication against test doubles of the EHR's authorization server and FHIR server:
 * SMART Backend Services (RS384, ES384, discovery), client credentials, caching, renewal,
 * shared in-flight requests, refusals (one log line, no secrets) and transient failures.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express, { type Express } from 'express';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { pino } from 'pino';
import type { AuthConfig } from '../config.ts';
import { AuthError, RetryableError } from '../errors.ts';
import { createAuthHeaderProvider, type AuthProviderOptions } from './auth.ts';
import { FhirKitEhrClient } from './ehr-client.ts';
import { publicJwks, signingKey, type PublicJwks, type SigningAlg, type SigningKey } from './jwks.ts';
import { ASSERTION_LIFETIME_SECONDS, CLIENT_ASSERTION_TYPE, DEFAULT_SMART_SCOPE } from './smart-backend.ts';

const CLIENT_ID = 'fhir-risk-test-client';

type Answer =
  | { kind: 'token'; expiresIn?: number; delayMs?: number }
  | { kind: 'refuse'; status: number; body: unknown; headers?: Record<string, string> };

/**
 * Test double of the EHR's authorization server: verifies each client assertion as a SMART server
 * must (signature against the registered JWKS, iss, sub, aud, exp ≤ 5 min, jti never reused) and
 * issues a fresh token, or answers as `answer` says.
 */
class AuthorizationServerDouble {
  readonly app: Express = express();
  server!: Server;
  baseUrl = '';
  /** Every token request, in order. */
  readonly requests: { form: Record<string, string>; authorization?: string }[] = [];
  readonly issuedTokens: string[] = [];
  readonly assertions: string[] = [];
  readonly rejections: string[] = [];
  readonly seenJti = new Set<string>();
  answer: Answer = { kind: 'token', expiresIn: 300 };
  /** Served as `/.well-known/smart-configuration` when set. */
  smartConfiguration: Record<string, unknown> | undefined;

  constructor(private registeredJwks: PublicJwks | undefined) {
    this.app.use(express.urlencoded({ extended: false }));
    this.app.get('/fhir/.well-known/smart-configuration', (_req, res) => {
      if (!this.smartConfiguration) res.status(404).json({ error: 'not found' });
      else res.json(this.smartConfiguration);
    });
    this.app.post('/oauth2/token', (req, res) => {
      void this.token(req, res);
    });
  }

  get tokenUrl(): string {
    return `${this.baseUrl}/oauth2/token`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => {
      this.server = this.app.listen(0, '127.0.0.1', () => resolve());
    });
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async token(req: express.Request, res: express.Response): Promise<void> {
    const form = req.body as Record<string, string>;
    this.requests.push({ form, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const answer = this.answer;
    if (answer.kind === 'refuse') {
      res.status(answer.status).set(answer.headers ?? {}).json(answer.body);
      return;
    }
    if (this.registeredJwks) {
      const problem = await this.verifyAssertion(form);
      if (problem) {
        this.rejections.push(problem);
        res.status(400).json({ error: 'invalid_client', error_description: problem });
        return;
      }
    } else if (req.headers.authorization !== `Basic ${Buffer.from(`${CLIENT_ID}:s3cret%2Fvalue`).toString('base64')}`) {
      res.status(401).json({ error: 'invalid_client', error_description: 'bad client secret' });
      return;
    }
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    const token = `token-${this.issuedTokens.length + 1}-${Math.random().toString(36).slice(2)}`;
    this.issuedTokens.push(token);
    res.json({ access_token: token, token_type: 'bearer', expires_in: answer.expiresIn ?? 300, scope: form.scope });
  }

  private async verifyAssertion(form: Record<string, string>): Promise<string | undefined> {
    if (form.grant_type !== 'client_credentials') return 'grant_type must be client_credentials';
    if (form.client_assertion_type !== CLIENT_ASSERTION_TYPE) return 'wrong client_assertion_type';
    if (!form.scope) return 'scope missing';
    const assertion = form.client_assertion ?? '';
    this.assertions.push(assertion);
    try {
      const { payload } = await jwtVerify(assertion, createLocalJWKSet(this.registeredJwks!), {
        issuer: CLIENT_ID,
        subject: CLIENT_ID,
        audience: this.tokenUrl,
        algorithms: ['RS384', 'ES384'],
        requiredClaims: ['exp', 'jti'],
      });
      if (payload.exp! - Math.floor(Date.now() / 1000) > 300) return 'exp more than 5 minutes ahead';
      if (this.seenJti.has(payload.jti!)) return 'jti reused';
      this.seenJti.add(payload.jti!);
      return undefined;
    } catch (err) {
      return `client assertion rejected: ${(err as Error).message}`;
    }
  }
}

/** Test double of the EHR's FHIR server: answers `GET /fhir/Patient/:id` only with a token the authorization server issued. */
async function startFhirServerDouble(validTokens: () => string[]): Promise<{ url: string; seen: (string | undefined)[]; stop: () => Promise<void> }> {
  const seen: (string | undefined)[] = [];
  const app = express();
  app.get('/fhir/Patient/:id', (req, res) => {
    seen.push(req.headers.authorization);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !validTokens().includes(token)) {
      res.status(401).type('application/fhir+json').send({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
      return;
    }
    res.type('application/fhir+json').send({ resourceType: 'Patient', id: req.params.id });
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`,
    seen,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A pino logger writing into an array: what an operator would see, line by line. */
function capturedLogger(): { logger: NonNullable<AuthProviderOptions['logger']>; lines: () => { level: number; msg: string; raw: string }[] } {
  const raw: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void raw.push(line) });
  return {
    logger,
    lines: () =>
      raw
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => ({ ...(JSON.parse(line) as { level: number; msg: string }), raw: line })),
  };
}

const ERROR = 50;
const WARN = 40;

function keyPair(alg: SigningAlg): KeyObject {
  return alg === 'RS384'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    : generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
}

function smartAuth(key: SigningKey, tokenUrl: string | undefined, fhirBaseUrl?: string): AuthConfig {
  return {
    kind: 'smart-backend',
    ...(tokenUrl ? { tokenUrl } : {}),
    ...(fhirBaseUrl ? { fhirBaseUrl } : {}),
    clientId: CLIENT_ID,
    scope: DEFAULT_SMART_SCOPE,
    signingKey: key,
  };
}

for (const alg of ['RS384', 'ES384'] as const) {
  describe(`SMART Backend Services with ${alg}`, () => {
    const key = signingKey(keyPair(alg), alg);
    let as: AuthorizationServerDouble;
    before(async () => {
      as = await new AuthorizationServerDouble(publicJwks(key)).start();
    });
    after(() => as.stop());

    it('gets a token with a valid assertion and caches it: two calls, one token request', async () => {
      as.answer = { kind: 'token', expiresIn: 300 };
      const before = as.requests.length;
      const provider = createAuthHeaderProvider(smartAuth(key, as.tokenUrl));
      const first = await provider();
      const second = await provider();
      assert.deepEqual(as.rejections, []);
      assert.equal(as.requests.length - before, 1);
      assert.equal(first, `Bearer ${as.issuedTokens.at(-1)}`);
      assert.equal(second, first);
      const form = as.requests.at(-1)!.form;
      assert.equal(form.grant_type, 'client_credentials');
      assert.equal(form.scope, DEFAULT_SMART_SCOPE);
      assert.equal(as.requests.at(-1)!.authorization, undefined, 'no secret is sent with an assertion');
      const claims = decodeJwt(as.assertions.at(-1)!);
      assert.ok(claims.exp! - claims.iat! <= 300 && claims.exp! - claims.iat! === ASSERTION_LIFETIME_SECONDS);
    });

    it('renews once the token nears expiry, with a new jti', async () => {
      let clock = Date.now();
      as.answer = { kind: 'token', expiresIn: 2 };
      const before = as.requests.length;
      const provider = createAuthHeaderProvider(smartAuth(key, as.tokenUrl), { now: () => clock });
      const first = await provider();
      clock += 1000;
      assert.equal(await provider(), first, 'still fresh after 1 s of 2 s');
      clock += 1000;
      const renewed = await provider();
      assert.notEqual(renewed, first);
      assert.equal(as.requests.length - before, 2);
      assert.deepEqual(as.rejections, [], 'the server saw no reused jti');
    });

    it('lets concurrent callers share one in-flight token request', async () => {
      as.answer = { kind: 'token', expiresIn: 300, delayMs: 50 };
      const before = as.requests.length;
      const provider = createAuthHeaderProvider(smartAuth(key, as.tokenUrl));
      const headers = await Promise.all(Array.from({ length: 8 }, () => provider()));
      assert.equal(as.requests.length - before, 1);
      assert.equal(new Set(headers).size, 1);
    });
  });
}

describe('token endpoint failures', () => {
  const key = signingKey(keyPair('ES384'), 'ES384');
  const otherKey = signingKey(keyPair('ES384'), 'ES384');
  let as: AuthorizationServerDouble;
  before(async () => {
    // Registered with another key: every assertion fails verification, as with a wrong registration.
    as = await new AuthorizationServerDouble(publicJwks(otherKey)).start();
  });
  after(() => as.stop());

  it('a refusal (400 invalid_client) is an AuthError with exactly one error line and no secrets', async () => {
    as.answer = { kind: 'token' };
    const log = capturedLogger();
    const provider = createAuthHeaderProvider(smartAuth(key, as.tokenUrl), { logger: log.logger });
    await assert.rejects(provider(), (err: unknown) => err instanceof AuthError && /invalid_client/.test(err.message));
    const errors = log.lines().filter((l) => l.level >= ERROR);
    assert.equal(errors.length, 1);
    assert.equal(log.lines().filter((l) => l.level >= WARN).length, 1);
    const line = errors[0]!;
    assert.match(line.msg, /refused client fhir-risk-test-client: HTTP 400 invalid_client: client assertion rejected/);
    assert.ok(as.assertions.length > 0);
    for (const assertion of as.assertions) assert.ok(!line.raw.includes(assertion), 'the assertion is never logged');
    assert.ok(!/PRIVATE KEY|"d":/.test(line.raw));
  });

  it('a refusal is remembered briefly: no second request, no second line', async () => {
    as.answer = { kind: 'token' };
    let clock = Date.now();
    const log = capturedLogger();
    const provider = createAuthHeaderProvider(smartAuth(key, as.tokenUrl), { logger: log.logger, now: () => clock, refusalHoldMs: 30_000 });
    const before = as.requests.length;
    await assert.rejects(provider(), AuthError);
    await assert.rejects(provider(), AuthError);
    assert.equal(as.requests.length - before, 1);
    assert.equal(log.lines().length, 1);
    clock += 30_001;
    await assert.rejects(provider(), AuthError);
    assert.equal(as.requests.length - before, 2, 'asks again once the hold is over');
  });

  it('masks an assertion the server echoes back in error_description', async () => {
    const echoed = 'eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJmaGlyLXJpc2sifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    as.answer = { kind: 'refuse', status: 401, body: { error: 'invalid_client', error_description: `bad assertion ${echoed}` } };
    const log = capturedLogger();
    const provider = createAuthHeaderProvider(smartAuth(key, as.tokenUrl), { logger: log.logger });
    await assert.rejects(provider(), AuthError);
    const lines = log.lines();
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]!.raw.includes(echoed));
    assert.match(lines[0]!.msg, /bad assertion \[jwt\]/);
  });

  it('503 is a RetryableError with Retry-After, and the next call asks again', async () => {
    as.answer = { kind: 'refuse', status: 503, body: '<html>maintenance</html>', headers: { 'retry-after': '7' } };
    const log = capturedLogger();
    const provider = createAuthHeaderProvider(smartAuth(key, as.tokenUrl), { logger: log.logger });
    const before = as.requests.length;
    await assert.rejects(provider(), (err: unknown) => err instanceof RetryableError && err.retryAfterSeconds === 7);
    await assert.rejects(provider(), RetryableError);
    assert.equal(as.requests.length - before, 2);
    const lines = log.lines();
    assert.equal(lines.length, 2, 'one line per failed attempt');
    assert.ok(lines.every((l) => l.level === WARN && /HTTP 503/.test(l.msg)));
    assert.ok(!lines.some((l) => l.raw.includes('maintenance')), 'HTML bodies are summarized, not logged');
  });

  it('429 is a RetryableError', async () => {
    as.answer = { kind: 'refuse', status: 429, body: { error: 'slow_down' } };
    const provider = createAuthHeaderProvider(smartAuth(key, as.tokenUrl), { logger: capturedLogger().logger });
    await assert.rejects(provider(), RetryableError);
  });

  it('an unreachable token endpoint is a RetryableError', async () => {
    const closed = await new AuthorizationServerDouble(undefined).start();
    const url = closed.tokenUrl;
    await closed.stop();
    const log = capturedLogger();
    const provider = createAuthHeaderProvider(smartAuth(key, url), { logger: log.logger });
    await assert.rejects(provider(), RetryableError);
    assert.equal(log.lines().length, 1);
  });
});

describe('token endpoint discovery', () => {
  const key = signingKey(keyPair('RS384'), 'RS384');
  let as: AuthorizationServerDouble;
  before(async () => {
    as = await new AuthorizationServerDouble(publicJwks(key)).start();
  });
  after(() => as.stop());

  it('reads token_endpoint from FHIR_BASE_URL/.well-known/smart-configuration once', async () => {
    as.smartConfiguration = {
      token_endpoint: as.tokenUrl,
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    };
    as.answer = { kind: 'token', expiresIn: 2 };
    let clock = Date.now();
    const log = capturedLogger();
    const provider = createAuthHeaderProvider(smartAuth(key, undefined, `${as.baseUrl}/fhir`), { logger: log.logger, now: () => clock });
    assert.equal(await provider(), `Bearer ${as.issuedTokens.at(-1)}`);
    clock += 5000;
    await provider();
    assert.deepEqual(as.rejections, [], 'aud is the discovered token URL');
    assert.equal(log.lines().filter((l) => /discovered/.test(l.msg)).length, 1);
    assert.equal(log.lines().filter((l) => l.level >= WARN).length, 0);
  });

  it('a server without SMART configuration is an AuthError that says to set FHIR_TOKEN_URL', async () => {
    as.smartConfiguration = undefined;
    const log = capturedLogger();
    const provider = createAuthHeaderProvider(smartAuth(key, undefined, `${as.baseUrl}/fhir`), { logger: log.logger });
    await assert.rejects(provider(), (err: unknown) => err instanceof AuthError && /FHIR_TOKEN_URL/.test(err.message));
    const lines = log.lines();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!.msg, /HTTP 404; set FHIR_TOKEN_URL/);
  });
});

describe('client credentials (shared secret)', () => {
  let as: AuthorizationServerDouble;
  before(async () => {
    as = await new AuthorizationServerDouble(undefined).start();
  });
  after(() => as.stop());
  const auth = (secret: string): AuthConfig => ({ kind: 'client-credentials', tokenUrl: as.tokenUrl, clientId: CLIENT_ID, clientSecret: secret, scope: 'system/*.rs' });

  it('sends the secret as HTTP Basic and caches the token', async () => {
    as.answer = { kind: 'token', expiresIn: 300 };
    const before = as.requests.length;
    const provider = createAuthHeaderProvider(auth('s3cret/value'));
    const [a, b] = [await provider(), await provider()];
    assert.equal(a, `Bearer ${as.issuedTokens.at(-1)}`);
    assert.equal(b, a);
    assert.equal(as.requests.length - before, 1);
    assert.equal(as.requests.at(-1)!.form.scope, 'system/*.rs');
  });

  it('a wrong secret is an AuthError with one error line that never shows the secret', async () => {
    const log = capturedLogger();
    const provider = createAuthHeaderProvider(auth('wrong-secret-value'), { logger: log.logger });
    await assert.rejects(provider(), AuthError);
    const lines = log.lines();
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, ERROR);
    assert.match(lines[0]!.msg, /HTTP 401 invalid_client: bad client secret/);
    assert.ok(!lines[0]!.raw.includes('wrong-secret-value'));
    assert.ok(!lines[0]!.raw.includes(Buffer.from(`${CLIENT_ID}:wrong-secret-value`).toString('base64')));
  });
});

describe('FhirKitEhrClient with SMART Backend Services', () => {
  it('sends Authorization: Bearer <token> from the token endpoint to the FHIR server', async () => {
    const key = signingKey(keyPair('ES384'), 'ES384');
    const as = await new AuthorizationServerDouble(publicJwks(key)).start();
    const fhir = await startFhirServerDouble(() => as.issuedTokens);
    try {
      const client = new FhirKitEhrClient({ baseUrl: fhir.url, authHeader: createAuthHeaderProvider(smartAuth(key, as.tokenUrl)) });
      const patient = await client.read('Patient', 'p1');
      const again = await client.read('Patient', 'p2');
      assert.equal(patient?.id, 'p1');
      assert.equal(again?.id, 'p2');
      assert.equal(as.issuedTokens.length, 1);
      assert.deepEqual(fhir.seen, [`Bearer ${as.issuedTokens[0]}`, `Bearer ${as.issuedTokens[0]}`]);
    } finally {
      await fhir.stop();
      await as.stop();
    }
  });
});
