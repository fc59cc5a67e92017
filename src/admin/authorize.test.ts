/**
 * /admin behind the API auth: a token must carry a system-level scope; patient-context tokens,
 * even with every RiskAssessment permission, are refused. The check runs in front of Bull Board too.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import express, { type RequestHandler } from 'express';
import { createLocalJWKSet, exportJWK, SignJWT } from 'jose';
import request from 'supertest';
import { createApiAuth } from '../api/api-auth.ts';
import { errorHandler } from '../api/async-route.ts';
import { requireAdminScope } from './authorize.ts';

const ISSUER = 'https://auth.test/issuer';
const AUDIENCE = 'https://fhir-risk.test/fhir';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keySet = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] });
const token = (scope: string, patient?: string) =>
  new SignJWT({ scope, ...(patient ? { patient } : {}) })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime('5m')
    .sign(privateKey);

function adminApp(auth: RequestHandler) {
  const app = express();
  const router = express.Router();
  router.use(requireAdminScope);
  router.all('/{*rest}', (_req, res) => {
    res.json({ ok: true });
  });
  app.use('/admin', auth, router);
  app.use(errorHandler);
  return app;
}

describe('requireAdminScope', () => {
  const jwt = adminApp(createApiAuth({ mode: 'jwt', jwksUrl: 'http://127.0.0.1:9/jwks.json', issuer: ISSUER, audience: AUDIENCE }, { keySet }));

  it('refuses a request without a token (401) and a patient-context token (403)', async () => {
    assert.equal((await request(jwt).get('/admin/')).status, 401);
    const patientToken = await token('patient/RiskAssessment.* patient/*.cruds', 'p1');
    const res = await request(jwt).get('/admin/').set('authorization', `Bearer ${patientToken}`);
    assert.equal(res.status, 403);
    assert.match(res.get('www-authenticate') ?? '', /insufficient_scope/);
  });

  it('lets a system read scope read, but not act (Bull Board retry/remove need a write scope)', async () => {
    const reader = await token('system/RiskAssessment.rs');
    assert.equal((await request(jwt).get('/admin/queues/api/queues').set('authorization', `Bearer ${reader}`)).status, 200);
    assert.equal((await request(jwt).put('/admin/queues/api/queues/scores/retry/failed').set('authorization', `Bearer ${reader}`)).status, 403);
    const writer = await token('system/RiskAssessment.cruds');
    assert.equal((await request(jwt).put('/admin/queues/api/queues/scores/retry/failed').set('authorization', `Bearer ${writer}`)).status, 200);
  });

  it('allows everything with API_AUTH=none, and fails closed without the auth middleware', async () => {
    assert.equal((await request(adminApp(createApiAuth({ mode: 'none' }))).get('/admin/')).status, 200);
    assert.equal((await request(adminApp((_req, _res, next) => next())).get('/admin/')).status, 500);
  });
});
