import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUNDLED_MODELS_DIR, loadConfig } from './config.ts';
import { ConfigError } from './errors.ts';

function problems(env: Record<string, string>, requireFhir = true): string[] {
  try {
    loadConfig(env, { requireFhir });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({ FHIR_BASE_URL: 'https://ehr.example.org/fhir/' }, { requireFhir: true });
    assert.equal(c.fhirBaseUrl, 'https://ehr.example.org/fhir', 'trailing slash removed');
    assert.equal(c.resultsBaseUrl, c.fhirBaseUrl, 'results go to the EHR unless told otherwise');
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(c.port, 8080);
    assert.equal(c.queuePrefix, 'fhir-risk');
    assert.equal(c.modelsDir, BUNDLED_MODELS_DIR);
    assert.equal(c.scoreDebounceMs, 2000);
    assert.equal(c.writeMode, 'put');
    assert.deepEqual(c.auth, { kind: 'none' });
    assert.deepEqual(c.apiAuth, { mode: 'none' });
  });

  it('reports every bad variable, one line each, naming the variable', () => {
    const lines = problems({
      FHIR_BASE_URL: 'ftp://ehr.example.org',
      PORT: 'eighty',
      REDIS_URL: 'localhost:6379',
      NOTIFY_SECRET: 'short',
      WRITE_MODE: 'post',
      MODELS_SHADOW: 'news2:maybe',
    });
    assert.equal(lines.length, 6, lines.join('\n'));
    for (const name of ['FHIR_BASE_URL', 'PORT', 'REDIS_URL', 'NOTIFY_SECRET', 'WRITE_MODE', 'MODELS_SHADOW']) {
      assert.equal(lines.filter((l) => l.startsWith(`${name}:`)).length, 1, `${name} in ${lines.join(' | ')}`);
    }
  });

  it('requires FHIR_BASE_URL only for commands that talk to the EHR', () => {
    assert.deepEqual(problems({}, true), ['FHIR_BASE_URL: required (the EHR FHIR R4 base URL)']);
    assert.deepEqual(problems({}, false), []);
  });

  it('treats empty strings as unset (Helm and compose render absent values as "")', () => {
    const c = loadConfig({ FHIR_BASE_URL: 'http://h/fhir', NOTIFY_SECRET: '', PORT: '' }, { requireFhir: true });
    assert.equal(c.notifySecret, undefined);
    assert.equal(c.port, 8080);
  });

  it('names what an auth mode still needs', () => {
    assert.deepEqual(problems({ FHIR_BASE_URL: 'http://h/fhir', FHIR_AUTH: 'bearer' }), ['FHIR_BEARER_TOKEN: required when FHIR_AUTH=bearer']);
    const cc = problems({ FHIR_BASE_URL: 'http://h/fhir', FHIR_AUTH: 'client-credentials' });
    assert.deepEqual(cc.map((l) => l.split(':')[0]).sort(), ['FHIR_CLIENT_ID', 'FHIR_CLIENT_SECRET', 'FHIR_TOKEN_URL']);
    const api = problems({ FHIR_BASE_URL: 'http://h/fhir', API_AUTH: 'jwt' });
    assert.deepEqual(api.map((l) => l.split(':')[0]).sort(), ['API_AUDIENCE', 'API_ISSUER', 'API_JWKS_URL']);
  });

  it('splits shadow models into preliminary and measure-only', () => {
    const c = loadConfig({ FHIR_BASE_URL: 'http://h/fhir', MODELS_SHADOW: 'news2, qsofa:measure' }, { requireFhir: true });
    assert.deepEqual(c.modelsShadow, ['news2']);
    assert.deepEqual(c.modelsMeasureOnly, ['qsofa']);
  });
});
