/**
 * The signing key: start-up validation (one config line per problem), the public JWK Set served at
 * `/.well-known/jwks.json` (public members only, kid = the assertion's kid), RFC 7638 thumbprints.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import request from 'supertest';
import { createApp, type AppDeps } from '../app.ts';
import { loadConfig, type Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { EventSink } from '../ingress/resource-event.ts';
import { jwkThumbprint, publicJwks, signingKey } from './jwks.ts';
import { createClientAssertion, DEFAULT_SMART_SCOPE } from './smart-backend.ts';

const pkcs8 = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const RSA_PEM = pkcs8(rsa.privateKey);
const EC_PEM = pkcs8(ec.privateKey);

const BASE_ENV = { FHIR_BASE_URL: 'https://ehr.example.org/fhir', FHIR_AUTH: 'smart-backend', FHIR_CLIENT_ID: 'fhir-risk' };
const load = (env: Record<string, string>): Config => loadConfig({ ...BASE_ENV, ...env }, { requireFhir: true });

/** The ConfigError's problem lines, or fails when loading succeeded. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describe('FHIR_AUTH=smart-backend configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fhir-risk-jwks-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a PKCS#8 RSA key with the defaults: RS384, thumbprint kid, default scope, discovery', async () => {
    const config = load({ FHIR_PRIVATE_KEY: RSA_PEM });
    assert.equal(config.auth.kind, 'smart-backend');
    if (config.auth.kind !== 'smart-backend') return;
    assert.equal(config.auth.signingKey.alg, 'RS384');
    assert.equal(config.auth.scope, DEFAULT_SMART_SCOPE);
    assert.equal(config.auth.tokenUrl, undefined);
    assert.equal(config.auth.fhirBaseUrl, 'https://ehr.example.org/fhir');
    assert.equal(config.auth.signingKey.kid, await calculateJwkThumbprint(rsa.publicKey.export({ format: 'jwk' }) as never, 'sha256'));
    assert.ok(!JSON.stringify(config).includes('PRIVATE KEY'), 'the config carries no PEM text');
  });

  it('reads FHIR_PRIVATE_KEY_FILE, ES384, FHIR_KEY_ID, FHIR_TOKEN_URL and FHIR_SCOPE', () => {
    const file = join(dir, 'key.pem');
    writeFileSync(file, EC_PEM);
    const config = load({
      FHIR_PRIVATE_KEY_FILE: file,
      FHIR_SIGNING_ALG: 'ES384',
      FHIR_KEY_ID: 'fhir-risk-2025',
      FHIR_TOKEN_URL: 'https://ehr.example.org/oauth2/token',
      FHIR_SCOPE: 'system/*.read',
    });
    assert.ok(config.auth.kind === 'smart-backend');
    assert.equal(config.auth.signingKey.alg, 'ES384');
    assert.equal(config.auth.signingKey.kid, 'fhir-risk-2025');
    assert.equal(config.auth.tokenUrl, 'https://ehr.example.org/oauth2/token');
    assert.equal(config.auth.scope, 'system/*.read');
  });

  it('accepts a one-line PEM with \\n escapes (as env files often carry it)', () => {
    const config = load({ FHIR_PRIVATE_KEY: RSA_PEM.trim().replace(/\n/g, '\\n') });
    assert.equal(config.auth.kind, 'smart-backend');
  });

  it('a missing key is one line', () => {
    assert.deepEqual(problemsOf({}), [
      'FHIR_PRIVATE_KEY: required when FHIR_AUTH=smart-backend (PEM PKCS#8 text, or a file path in FHIR_PRIVATE_KEY_FILE)',
    ]);
  });

  it('each missing variable is its own line', () => {
    const problems = loadConfigProblems({ FHIR_AUTH: 'smart-backend' });
    assert.equal(problems.length, 3);
    assert.match(problems[0]!, /^FHIR_CLIENT_ID: required when FHIR_AUTH=smart-backend/);
    assert.match(problems[1]!, /^FHIR_TOKEN_URL: required when FHIR_AUTH=smart-backend and FHIR_BASE_URL is unset/);
    assert.match(problems[2]!, /^FHIR_PRIVATE_KEY: required/);
  });

  it('ES384 with an RSA key is one clear line', () => {
    assert.deepEqual(problemsOf({ FHIR_PRIVATE_KEY: RSA_PEM, FHIR_SIGNING_ALG: 'ES384' }), [
      'FHIR_SIGNING_ALG: ES384 needs an EC P-384 key, but FHIR_PRIVATE_KEY is an RSA 2048-bit key (set FHIR_SIGNING_ALG=RS384 for an RSA key)',
    ]);
  });

  it('RS384 with an EC key, and ES384 with a P-256 key, are one line each', () => {
    const ecLines = problemsOf({ FHIR_PRIVATE_KEY: EC_PEM });
    assert.equal(ecLines.length, 1);
    assert.match(ecLines[0]!, /^FHIR_SIGNING_ALG: RS384 needs an RSA key, but FHIR_PRIVATE_KEY is an EC secp384r1 key/);
    const p256 = pkcs8(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const p256Lines = problemsOf({ FHIR_PRIVATE_KEY: p256, FHIR_SIGNING_ALG: 'ES384' });
    assert.equal(p256Lines.length, 1);
    assert.match(p256Lines[0]!, /ES384 needs an EC P-384 key, but FHIR_PRIVATE_KEY is an EC prime256v1 key/);
  });

  it('an unknown algorithm, a public key, garbage, both sources, an unreadable file: one line each, no key text', () => {
    const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const cases: [Record<string, string>, RegExp][] = [
      [{ FHIR_PRIVATE_KEY: RSA_PEM, FHIR_SIGNING_ALG: 'RS256' }, /^FHIR_SIGNING_ALG: /],
      [{ FHIR_PRIVATE_KEY: publicPem }, /^FHIR_PRIVATE_KEY: this is a public key or certificate/],
      [{ FHIR_PRIVATE_KEY: 'not-a-key' }, /^FHIR_PRIVATE_KEY: not a PEM private key/],
      [{ FHIR_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' }, /^FHIR_PRIVATE_KEY: the PEM private key cannot be parsed/],
      [{ FHIR_PRIVATE_KEY: RSA_PEM, FHIR_PRIVATE_KEY_FILE: '/x.pem' }, /^FHIR_PRIVATE_KEY_FILE: set either/],
      [{ FHIR_PRIVATE_KEY_FILE: join(dir, 'missing.pem') }, /^FHIR_PRIVATE_KEY_FILE: cannot read .*missing\.pem: ENOENT$/],
    ];
    for (const [env, expected] of cases) {
      const problems = problemsOf(env);
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.match(problems[0]!, expected);
      assert.ok(!problems[0]!.includes('MII'), 'no key material in the message');
    }
  });

  it('a short RSA key is refused', () => {
    const short = pkcs8(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey);
    assert.match(problemsOf({ FHIR_PRIVATE_KEY: short })[0]!, /RSA 1024-bit key is too short/);
  });
});

function loadConfigProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, { requireFhir: false });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

/** The smallest AppDeps that builds the app: the JWKS route touches none of the pipeline. */
function appDeps(extra: Partial<AppDeps>): AppDeps {
  const sink: EventSink = { enqueue: async () => ({ accepted: 0, duplicates: 0, ignored: 0 }), requestSweep: async () => undefined };
  return { sink, notifyBodyLimit: 1024, redisReady: async () => true, ...extra } as unknown as AppDeps;
}

describe('GET /.well-known/jwks.json', () => {
  for (const [alg, pair] of [['RS384', rsa], ['ES384', ec]] as const) {
    it(`${alg}: serves only the public members, and the kid of every assertion`, async () => {
      const key = signingKey(pair.privateKey, alg);
      const app = createApp(appDeps({ jwks: publicJwks(key) }));
      const res = await request(app).get('/.well-known/jwks.json').expect(200);
      assert.match(res.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(res.headers['cache-control'], 'public, max-age=3600');
      const body = res.body as { keys: Record<string, unknown>[] };
      assert.equal(body.keys.length, 1);
      const jwk = body.keys[0]!;
      for (const member of PRIVATE_MEMBERS) assert.ok(!(member in jwk), `no private member ${member}`);
      assert.deepEqual(Object.keys(jwk).sort(), alg === 'RS384' ? ['alg', 'e', 'kid', 'kty', 'n', 'use'] : ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      assert.equal(jwk.alg, alg);
      assert.equal(jwk.use, 'sig');

      // What the EHR does with it: pick the key by the assertion's kid and verify the signature.
      const tokenUrl = 'https://ehr.example.org/oauth2/token';
      const assertion = await createClientAssertion({ clientId: 'fhir-risk', tokenUrl, key });
      assert.equal(decodeProtectedHeader(assertion).kid, jwk.kid);
      const { payload } = await jwtVerify(assertion, createLocalJWKSet(body as never), { audience: tokenUrl, issuer: 'fhir-risk' });
      assert.equal(payload.sub, 'fhir-risk');
    });
  }

  it('is a 404 OperationOutcome without a signing key', async () => {
    const res = await request(createApp(appDeps({}))).get('/.well-known/jwks.json').expect(404);
    const body = JSON.parse(res.text) as { resourceType: string; issue: { code: string; diagnostics: string }[] };
    assert.equal(body.resourceType, 'OperationOutcome');
    assert.equal(body.issue[0]!.code, 'not-found');
    assert.match(body.issue[0]!.diagnostics, /No signing key/);
  });
});

describe('jwkThumbprint', () => {
  it('matches jose (RFC 7638) for RSA and EC keys', async () => {
    for (const pair of [rsa, ec]) {
      const key = signingKey(pair.privateKey, pair === rsa ? 'RS384' : 'ES384');
      const { kid: _kid, alg: _alg, use: _use, ...members } = key.publicJwk;
      assert.equal(jwkThumbprint(members), await calculateJwkThumbprint(members, 'sha256'));
      assert.equal(key.kid, jwkThumbprint(members));
    }
  });
});
