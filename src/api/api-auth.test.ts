import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import express from 'express';
import { createLocalJWKSet, exportJWK, SignJWT, type JWTPayload } from 'jose';
import request, { type Response as TestResponse } from 'supertest';
import { ConfigError } from '../errors.ts';
import { loadConfig } from '../config.ts';
import { createApiAuth, parseRiskAssessmentScope, requireAccess, searchRestriction, type ApiAuthConfig } from './api-auth.ts';
import { errorHandler } from './async-route.ts';

const ISSUER = 'https://auth.test/issuer';
const AUDIENCE = 'https://fhir-risk.test/fhir';
const jwtConfig: ApiAuthConfig = { mode: 'jwt', jwksUrl: 'http://127.0.0.1:9/jwks.json', issuer: ISSUER, audience: AUDIENCE };
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keySet = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] });

/** `exp: null` leaves the expiry out. */
function sign(claims: JWTPayload, exp: string | number | null = '5m'): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUDIENCE);
  return (exp === null ? jwt : jwt.setExpirationTime(exp)).sign(privateKey);
}

/** An app with the middleware and two probe routes that ask what a route would ask. */
function probeApp(config: ApiAuthConfig, options: Parameters<typeof createApiAuth>[1] = { keySet }) {
  const app = express();
  app.use(createApiAuth(config, options));
  app.get('/search', (_req, res) => {
    res.json(searchRestriction(res));
  });
  app.get('/read/:patient', (req, res) => {
    requireAccess(res, ['r'], String(req.params.patient), 'system/RiskAssessment.rs');
    res.json({ ok: true });
  });
  app.use(errorHandler);
  return app;
}

describe('parseRiskAssessmentScope', () => {
  const cases: [string, string | undefined, string?][] = [
    ['system/RiskAssessment.read', 'system', 'rs'],
    ['system/RiskAssessment.rs', 'system', 'rs'],
    ['system/*.read', 'system', 'rs'],
    ['user/RiskAssessment.*', 'user', 'cruds'],
    ['patient/RiskAssessment.rs', 'patient', 'rs'],
    ['system/RiskAssessment.write', 'system', 'cud'],
    ['system/RiskAssessment.cruds', 'system', 'cruds'],
    ['system/RiskAssessment.c', 'system', 'c'],
    ['system/Patient.read', undefined],
    ['system/RiskAssessment.sr', undefined], // v2 letters out of order
    ['patient/RiskAssessment.rs?category=x', undefined], // granular: its filter cannot be enforced here
    ['launch/patient', undefined],
    ['openid', undefined],
  ];
  for (const [scope, context, letters] of cases) {
    it(`${scope} → ${context ? `${context} ${letters}` : 'nothing'}`, () => {
      const grant = parseRiskAssessmentScope(scope);
      if (!context) return assert.equal(grant, undefined);
      assert.equal(grant?.context, context);
      assert.deepEqual([...(grant?.interactions ?? [])].sort().join(''), [...letters!].sort().join(''));
    });
  }
});

describe('createApiAuth (API_AUTH=jwt)', () => {
  it('401 with WWW-Authenticate: Bearer without a token, or with a malformed Authorization header', async () => {
    for (const header of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b']) {
      const req = request(probeApp(jwtConfig)).get('/search');
      const res = await (header ? req.set('authorization', header) : req).expect(401);
      assert.match(res.headers['www-authenticate'] ?? '', /^Bearer realm="fhir-risk"/);
      assert.equal((JSON.parse(res.text) as { resourceType: string }).resourceType, 'OperationOutcome');
    }
  });

  it('401 for a token without exp, an expired one, a wrong issuer, or a symmetric (HS256) one', async () => {
    const hs256 = await new SignJWT({ scope: 'system/RiskAssessment.rs' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('a-shared-secret-of-enough-length!!'));
    const wrongIssuer = await new SignJWT({ scope: 'system/RiskAssessment.rs' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://someone-else.test')
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(privateKey);
    const tokens = {
      'no exp': await sign({ scope: 'system/RiskAssessment.rs' }, null),
      expired: await sign({ scope: 'system/RiskAssessment.rs' }, Math.floor(Date.now() / 1000) - 120),
      'wrong issuer': wrongIssuer,
      hs256,
    };
    for (const [what, token] of Object.entries(tokens)) {
      const res: TestResponse = await request(probeApp(jwtConfig)).get('/search').set('authorization', `Bearer ${token}`);
      assert.equal(res.status, 401, what);
      assert.match(res.headers['www-authenticate'] ?? '', /error="invalid_token"/, what);
    }
  });

  it('503 with Retry-After when the JWKS cannot be fetched (not the caller’s fault)', async () => {
    const token = await sign({ scope: 'system/RiskAssessment.rs' });
    const res = await request(probeApp(jwtConfig, {})).get('/search').set('authorization', `Bearer ${token}`).expect(503);
    assert.ok(res.headers['retry-after']);
  });

  it('system and user scopes search everything; patient scopes only their patient; others 403 with insufficient_scope', async () => {
    const app = probeApp(jwtConfig);
    const ask = async (claims: JWTPayload, path: string) => request(app).get(path).set('authorization', `Bearer ${await sign(claims)}`);

    assert.deepEqual((await ask({ scope: 'system/RiskAssessment.rs' }, '/search')).body, {});
    assert.deepEqual((await ask({ scope: 'user/RiskAssessment.read' }, '/search')).body, {});
    assert.deepEqual((await ask({ scope: 'patient/RiskAssessment.rs', patient: 'p1' }, '/search')).body, { patient: 'p1' });

    const none = await ask({ scope: 'system/Observation.rs' }, '/search');
    assert.equal(none.status, 403);
    assert.match(none.headers['www-authenticate'] ?? '', /error="insufficient_scope"/);
    assert.equal((await ask({ scope: 'patient/RiskAssessment.rs' }, '/search')).status, 403, 'a patient scope without a patient claim reaches no one');
    assert.equal((await ask({ scope: 'system/RiskAssessment.r' }, '/search')).status, 403, 'read without search');

    assert.equal((await ask({ scope: 'patient/RiskAssessment.rs', patient: 'p1' }, '/read/p1')).status, 200);
    assert.equal((await ask({ scope: 'patient/RiskAssessment.rs', patient: 'p1' }, '/read/p2')).status, 403);
    assert.equal((await ask({ scope: 'system/RiskAssessment.s' }, '/read/p2')).status, 403, 'search without read');
    assert.equal((await ask({ scope: 'system/RiskAssessment.rs' }, '/read/p2')).status, 200);
  });
});

describe('createApiAuth (API_AUTH=none)', () => {
  it('lets everything through', async () => {
    const app = probeApp({ mode: 'none' });
    assert.deepEqual((await request(app).get('/search').expect(200)).body, {});
    await request(app).get('/read/anyone').expect(200);
  });
});

describe('API_AUTH configuration', () => {
  it('defaults to none; jwt needs the JWKS URL, issuer and audience, one line each', () => {
    assert.deepEqual(loadConfig({}, { requireFhir: false }).apiAuth, { mode: 'none' });
    try {
      loadConfig({ API_AUTH: 'jwt' }, { requireFhir: false });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.problems.map((p) => p.split(':')[0]),
        ['API_JWKS_URL', 'API_ISSUER', 'API_AUDIENCE'],
      );
    }
    const ok = loadConfig({ API_AUTH: 'jwt', API_JWKS_URL: 'https://auth.test/jwks', API_ISSUER: ISSUER, API_AUDIENCE: AUDIENCE }, { requireFhir: false });
    assert.deepEqual(ok.apiAuth, { mode: 'jwt', jwksUrl: 'https://auth.test/jwks', issuer: ISSUER, audience: AUDIENCE });
    assert.throws(() => loadConfig({ API_AUTH: 'oauth' }, { requireFhir: false }), ConfigError);
  });
});
