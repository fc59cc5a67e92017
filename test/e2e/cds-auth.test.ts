/**
 * CDS Hooks callers authenticate with the EHR's own JWT (CDS_AUTH=jwt): no token → 401, a token
 * from another issuer → 401, the EHR's token → the discovery document. The JWKS server here is a
 * test double of the EHR's key endpoint.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startHarness, type Harness } from '../support/harness.ts';

const ISSUER = 'https://ehr.example.org';
let h: Harness;
let jwks: Server;
let sign: (claims: { iss: string; aud: string }) => Promise<string>;

before(async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES384');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'ehr-1', alg: 'ES384', use: 'sig' };
  const app = express().get('/jwks.json', (_req, res) => {
    res.json({ keys: [jwk] });
  });
  jwks = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (jwks.address() as { port: number }).port;
  sign = (claims) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid: 'ehr-1' })
      .setIssuer(claims.iss)
      .setAudience(claims.aud)
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti(crypto.randomUUID())
      .sign(privateKey);
  h = await startHarness({
    CDS_AUTH: 'jwt',
    CDS_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
    CDS_ISSUER: ISSUER,
    CDS_AUDIENCE: 'https://fhir-risk.example.org/cds-services',
  });
});

after(async () => {
  await h?.stop();
  await new Promise((r) => jwks?.close(r));
});

describe('CDS Hooks authentication (CDS_AUTH=jwt)', () => {
  it('refuses a call without a token with 401 and WWW-Authenticate', async () => {
    const res = await fetch(`${h.serviceUrl}/cds-services`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(((await res.json()) as { resourceType: string }).resourceType, 'OperationOutcome');
  });

  it('refuses a token from another issuer', async () => {
    const token = await sign({ iss: 'https://intruder.example.org', aud: 'https://fhir-risk.example.org/cds-services' });
    const res = await fetch(`${h.serviceUrl}/cds-services`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401);
  });

  it("serves discovery to the EHR's token", async () => {
    const token = await sign({ iss: ISSUER, aud: 'https://fhir-risk.example.org/cds-services' });
    const res = await fetch(`${h.serviceUrl}/cds-services`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { services: { id: string; hook: string }[] };
    assert.ok(body.services.some((s) => s.hook === 'patient-view'));
  });
});
