/**
 * The CDS Hooks router over HTTP (supertest) with the real models, value sets and ONNX files;
 * the EHR is a recording test double (`RecordingEhr`) so each test controls what the FHIR server
 * holds, how slow it is, and can count what fhir-risk asked of it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import type { Bundle, BundleEntry, FhirResource, Patient, RiskAssessment } from 'fhir/r4.js';
import request from 'supertest';
import { BUNDLED_MODELS_DIR } from '../config.ts';
import { RetryableError } from '../errors.ts';
import { recordOf } from '../features/record.ts';
import { defaultValueSetsDir, loadValueSets, type ValueSetIndex } from '../features/value-sets.ts';
import type { EhrClient } from '../fhir/client-types.ts';
import { loadModelRegistry } from '../models/registry.ts';
import type { LoadedModel, ModelRegistry } from '../models/types.ts';
import { assessRecord } from '../pipeline/assess.ts';
import { CARD_EXTENSION_KEY, type CdsCard, type CdsResponse } from './cds-cards.ts';
import { createCdsHooksRouter, PATIENT_VIEW_SERVICE_ID, type CdsHooksDeps } from './cds-hooks.ts';
import { cdsDiscoverySchema, cdsResponseSchema } from './cds-schema.ts';

const FIXTURES = new URL('../../test/fixtures/cds-hooks/', import.meta.url);
const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as T;

interface HookRequest {
  hookInstance: string;
  hook: string;
  fhirServer?: string;
  fhirAuthorization?: Record<string, unknown>;
  context: { patientId: string; userId?: string };
  prefetch?: Record<string, unknown>;
}

const NOW = new Date('2025-06-01T12:00:00Z');
const PCE_REQUEST = fixture<HookRequest>('patient-view-pce-prefetch.json');

/** Every resource of the PCE patient, as the prefetch carries them. */
function pceResources(): FhirResource[] {
  const p = PCE_REQUEST.prefetch!;
  const fromBundle = (b: unknown) => ((b as Bundle).entry ?? []).map((e) => e.resource as FhirResource);
  return [p.patient as Patient, ...fromBundle(p.observations), ...fromBundle(p.conditions), ...fromBundle(p.medications)];
}

/** Test double of the EHR: answers the patient batch from `resources`, stored assessments from `stored`. */
class RecordingEhr implements EhrClient {
  readonly baseUrl = 'https://ehr.test/fhir';
  readonly calls: string[] = [];
  constructor(
    private readonly resources: FhirResource[],
    private readonly options: { stored?: RiskAssessment[]; batchDelayMs?: number; batchError?: Error } = {},
  ) {}
  get requestCount(): number {
    return this.calls.length;
  }
  read<T extends FhirResource>(): Promise<T | undefined> {
    this.calls.push('read');
    return Promise.resolve(undefined);
  }
  search<T extends FhirResource>(resourceType: T['resourceType']): Promise<T[]> {
    this.calls.push(`search ${resourceType}`);
    return Promise.resolve((resourceType === 'RiskAssessment' ? (this.options.stored ?? []) : []) as T[]);
  }
  async batch(bundle: Bundle): Promise<Bundle> {
    this.calls.push('batch');
    if (this.options.batchDelayMs) await new Promise((r) => setTimeout(r, this.options.batchDelayMs));
    if (this.options.batchError) throw this.options.batchError;
    const entry = (bundle.entry ?? []).map((e): BundleEntry => {
      const url = e.request?.url ?? '';
      const type = url.split(/[/?]/)[0];
      if (url.startsWith('Patient/')) {
        const patient = this.resources.find((r) => r.resourceType === 'Patient');
        return patient ? { resource: patient, response: { status: '200 OK' } } : { response: { status: '404 Not Found' } };
      }
      const matches = this.resources.filter((r) => r.resourceType === type);
      return { resource: { resourceType: 'Bundle', type: 'searchset', entry: matches.map((resource) => ({ resource, search: { mode: 'match' } })) }, response: { status: '200 OK' } };
    });
    return { resourceType: 'Bundle', type: 'batch-response', entry };
  }
  update<T>(): Promise<T> {
    throw new Error('the CDS service never writes');
  }
  createIfNoneExist<T>(): Promise<{ resource: T; created: boolean }> {
    throw new Error('the CDS service never writes');
  }
}

/** The real registry, counting ONNX runs (to prove a stored assessment was not recomputed). */
function countingRegistry(inner: ModelRegistry): ModelRegistry & { predictions: number } {
  const wrapped = new Map<string, LoadedModel>();
  const counter = {
    predictions: 0,
    problems: inner.problems,
    list: () => inner.list().map((m) => counter.get(m.manifest.id)!),
    get(id: string): LoadedModel | undefined {
      const m = inner.get(id);
      if (!m) return undefined;
      if (!wrapped.has(id)) {
        wrapped.set(id, {
          manifest: m.manifest,
          dir: m.dir,
          onnxSha256: m.onnxSha256,
          predict: (rows) => {
            counter.predictions += 1;
            return m.predict(rows);
          },
        });
      }
      return wrapped.get(id);
    },
    close: () => inner.close(),
  };
  return counter;
}

let registry: ModelRegistry;
let valueSets: ValueSetIndex;

before(async () => {
  registry = await loadModelRegistry({ dir: BUNDLED_MODELS_DIR });
  valueSets = await loadValueSets(defaultValueSetsDir());
});
after(async () => {
  await registry?.close();
});

function appWith(ehr: EhrClient, overrides: Partial<CdsHooksDeps> = {}) {
  const models = countingRegistry(registry);
  const app = express();
  app.use('/cds-services', createCdsHooksRouter({ ehr, results: ehr, models, valueSets, now: () => NOW, ...overrides }));
  return { app, models };
}

function withoutPrefetch(req: HookRequest): HookRequest {
  const { prefetch: _prefetch, ...rest } = req;
  return rest;
}

function cardFor(body: CdsResponse, modelId: string): CdsCard | undefined {
  return body.cards.find((c) => c.source.topic?.code === modelId);
}

function extensionOf(card: CdsCard): Record<string, unknown> {
  return card.extension?.[CARD_EXTENSION_KEY] as Record<string, unknown>;
}

/** The PCE probability fhir-risk computes for the fixture patient, the way `$risk-assess` does. */
async function expectedPceAssessment(): Promise<RiskAssessment> {
  const resources = pceResources();
  const record = recordOf(resources[0] as Patient, resources.slice(1));
  const [result] = await assessRecord(record, [registry.get('ascvd-pce')!], NOW, { valueSets });
  assert.ok(result && 'assessment' in result, 'the fixture patient is scorable');
  return result.assessment;
}

describe('GET /cds-services (discovery)', () => {
  it('has the shape of the spec example and one patient-view service with prefetch derived from the models', async () => {
    // The spec's own example passes the schema the test uses, so the schema is not too strict.
    cdsDiscoverySchema.parse(fixture('spec-discovery-example.json'));

    const { app } = appWith(new RecordingEhr([]));
    const res = await request(app).get('/cds-services').expect(200).expect('content-type', /application\/json/);
    const doc = cdsDiscoverySchema.parse(res.body);
    assert.equal(doc.services.length, 1);
    const service = doc.services[0]!;
    assert.equal(service.hook, 'patient-view');
    assert.equal(service.id, PATIENT_VIEW_SERVICE_ID);
    assert.ok(service.title && service.description.includes('ascvd-pce'));
    const prefetch = service.prefetch!;
    assert.deepEqual(Object.keys(prefetch).sort(), ['conditions', 'medications', 'observations', 'patient', 'riskAssessments']);
    assert.equal(prefetch.patient, 'Patient/{{context.patientId}}');
    const obs = decodeURIComponent(prefetch.observations!);
    assert.ok(obs.startsWith('Observation?patient={{context.patientId}}&code='), obs.slice(0, 80));
    for (const code of ['2093-3', '2085-9', '8480-6', '85354-9', '72166-2', '9279-1']) assert.ok(obs.includes(`http://loinc.org|${code}`), code);
    assert.equal(prefetch.conditions, 'Condition?patient={{context.patientId}}&_count=1000');
    assert.equal(prefetch.medications, 'MedicationRequest?patient={{context.patientId}}&_count=1000');
    assert.equal(
      prefetch.riskAssessments,
      'RiskAssessment?subject=Patient/{{context.patientId}}&identifier=http://fhir-risk.org/fhir/sid/assessment|&_sort=-date&_count=100',
    );
  });

  it('lists no shadow model and asks nothing for them', async () => {
    const { app } = appWith(new RecordingEhr([]), { shadow: new Set(registry.list().map((m) => m.manifest.id)) });
    const res = await request(app).get('/cds-services').expect(200);
    const service = cdsDiscoverySchema.parse(res.body).services[0]!;
    assert.equal(service.prefetch, undefined);
    assert.match(service.description, /none loaded/);
  });
});

describe('POST /cds-services/fhir-risk-patient-view', () => {
  it('the spec response example passes the response schema (the schema is the spec)', () => {
    cdsResponseSchema.parse(fixture('spec-response-example.json'));
    assert.throws(() => cdsResponseSchema.parse({ cards: [{ summary: 'x'.repeat(140), indicator: 'info', source: { label: 's' } }] }));
    assert.throws(() => cdsResponseSchema.parse({ cards: [{ summary: 'x', indicator: 'urgent', source: { label: 's' } }] }));
  });

  it('answers the spec request example (foreign fhirServer and token ignored: fetches with our own client only)', async () => {
    const ehr = new RecordingEhr([]);
    let tokenClients = 0;
    const { app } = appWith(ehr, {
      clientWithToken: () => {
        tokenClients += 1;
        return ehr;
      },
    });
    // The spec's patient 1288992 is not on our EHR: no data anywhere → 412, as the spec says.
    const res = await request(app).post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`).send(fixture('spec-patient-view-request.json'));
    assert.equal(res.status, 412);
    assert.equal(res.body.resourceType, 'OperationOutcome');
    assert.equal(tokenClients, 0, 'the token for another host is never used');
    assert.deepEqual(
      ehr.calls.filter((c) => c === 'batch'),
      ['batch'],
      'one batch read on FHIR_BASE_URL',
    );
  });

  it('scores from the prefetch alone: a schema-valid card for ascvd-pce matching the direct computation, no EHR request', async () => {
    const ehr = new RecordingEhr([]);
    const { app } = appWith(ehr);
    const res = await request(app).post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`).send(PCE_REQUEST).expect(200).expect('content-type', /application\/json/);
    const body = cdsResponseSchema.parse(res.body) as CdsResponse;
    assert.deepEqual(ehr.calls, [], 'prefetch had everything (riskAssessments: null means none stored)');
    assert.equal(body.cards.length, 1, 'only ascvd-pce applies (no eGFR for PREVENT, no AF, no vitals)');
    const card = cardFor(body, 'ascvd-pce')!;
    const expected = await expectedPceAssessment();
    const probability = expected.prediction![0]!.probabilityDecimal!;
    assert.ok(Math.abs(probability - 0.232) < 0.005, `published vector 23.2 %, got ${probability}`);
    assert.ok(card.summary.includes(`${(probability * 100).toFixed(1)} %`), card.summary);
    assert.ok(card.summary.startsWith('ACC/AHA 2013 Pooled Cohort Equations'));
    assert.ok(card.summary.length < 140);
    assert.equal(card.indicator, 'critical', 'high band → risk-probability high → critical');
    assert.equal(card.source.label, 'fhir-risk');
    assert.equal(card.source.topic?.system, 'http://fhir-risk.org/fhir/CodeSystem/models');
    assert.deepEqual(extensionOf(card), {
      model: 'ascvd-pce',
      modelVersion: registry.get('ascvd-pce')!.manifest.version,
      origin: 'prefetch',
      assessedAt: NOW.toISOString(),
      identifier: expected.identifier![0]!.value,
    });
    const detail = card.detail ?? '';
    assert.match(detail, /Horizon: 10 years/);
    assert.match(detail, /\| totalCholesterol \| 200 mg\/dL \| 2025-05-02 \|/);
    assert.match(detail, /\| systolicBP \| 148 mmHg \| 2025-05-02 \|/);
    assert.match(detail, /\| diabetes \| yes \| 2015-01-01 \|/);
    assert.match(detail, /\| currentSmoker \| no \| 2025-05-02 \|/);
    assert.match(detail, /\| age \| 59 years \| — \|/);
  });

  it('without prefetch: one quick batch read of FHIR_BASE_URL and one stored-assessment search, same card', async () => {
    const ehr = new RecordingEhr(pceResources());
    const { app } = appWith(ehr);
    const res = await request(app).post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`).send(withoutPrefetch(PCE_REQUEST)).expect(200);
    const card = cardFor(cdsResponseSchema.parse(res.body) as CdsResponse, 'ascvd-pce')!;
    assert.equal(extensionOf(card).origin, 'fhir-server');
    assert.equal(extensionOf(card).identifier, (await expectedPceAssessment()).identifier![0]!.value);
    assert.deepEqual([...ehr.calls].sort(), ['batch', 'search RiskAssessment']);
  });

  it('uses the EHR token only when fhirServer is our FHIR_BASE_URL', async () => {
    const ehr = new RecordingEhr(pceResources());
    const tokens: string[] = [];
    const tokenEhr = new RecordingEhr(pceResources());
    const { app } = appWith(ehr, {
      clientWithToken: (token) => {
        tokens.push(token);
        return tokenEhr;
      },
    });
    const req = { ...withoutPrefetch(PCE_REQUEST), fhirServer: `${ehr.baseUrl}/`, fhirAuthorization: { access_token: 'tok-123', token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'fhir-risk' } };
    await request(app).post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`).send(req).expect(200);
    assert.deepEqual(tokens, ['tok-123']);
    assert.deepEqual(tokenEhr.calls, ['batch'], 'the patient read used the token');
    assert.deepEqual(ehr.calls, ['search RiskAssessment'], 'stored assessments come from our results store');
  });

  describe('stored assessments', () => {
    async function stored(occurrence: Date, changes: Partial<RiskAssessment> = {}): Promise<RiskAssessment> {
      const ra = await expectedPceAssessment();
      return { ...ra, occurrenceDateTime: occurrence.toISOString(), meta: { ...ra.meta, versionId: '1' }, ...changes };
    }
    const searchset = (ras: RiskAssessment[]): Bundle => ({ resourceType: 'Bundle', type: 'searchset', entry: ras.map((resource) => ({ resource })) });

    it('a fresh assessment of the current inputs is shown as stored, without running the model', async () => {
      const ra = await stored(new Date(NOW.getTime() - 3 * 3_600_000));
      const ehr = new RecordingEhr([]);
      const { app, models } = appWith(ehr);
      const req = { ...PCE_REQUEST, prefetch: { ...PCE_REQUEST.prefetch, riskAssessments: searchset([ra]) } };
      const res = await request(app).post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`).send(req).expect(200);
      const card = cardFor(cdsResponseSchema.parse(res.body) as CdsResponse, 'ascvd-pce')!;
      assert.equal(extensionOf(card).origin, 'stored');
      assert.equal(extensionOf(card).riskAssessment, `RiskAssessment/${ra.id}`);
      assert.equal(extensionOf(card).assessedAt, ra.occurrenceDateTime);
      assert.match(card.detail ?? '', new RegExp(`RiskAssessment/${ra.id}`));
      assert.equal(models.predictions, 0, 'no ONNX run');
      assert.deepEqual(ehr.calls, []);
    });

    it('a stored assessment older than the maximum age, withdrawn, or of other inputs is recomputed', async () => {
      const cases: [string, RiskAssessment][] = [
        ['older than 24 h', await stored(new Date(NOW.getTime() - 25 * 3_600_000))],
        ['entered-in-error', await stored(new Date(NOW.getTime() - 3_600_000), { status: 'entered-in-error' })],
        ['other inputs', await stored(new Date(NOW.getTime() - 3_600_000), { identifier: [{ system: 'http://fhir-risk.org/fhir/sid/assessment', value: 'f'.repeat(64) }] })],
      ];
      for (const [why, ra] of cases) {
        const { app, models } = appWith(new RecordingEhr([]));
        const req = { ...PCE_REQUEST, prefetch: { ...PCE_REQUEST.prefetch, riskAssessments: searchset([ra]) } };
        const res = await request(app).post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`).send(req).expect(200);
        const card = cardFor(res.body as CdsResponse, 'ascvd-pce')!;
        assert.equal(extensionOf(card).origin, 'prefetch', why);
        assert.equal(models.predictions, 1, why);
      }
    });

    it('the maximum age is configurable', async () => {
      const ra = await stored(new Date(NOW.getTime() - 2 * 3_600_000));
      const { app } = appWith(new RecordingEhr([]), { cdsMaxStoredAgeMs: 3_600_000 });
      const req = { ...PCE_REQUEST, prefetch: { ...PCE_REQUEST.prefetch, riskAssessments: searchset([ra]) } };
      const res = await request(app).post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`).send(req).expect(200);
      assert.equal(extensionOf(cardFor(res.body as CdsResponse, 'ascvd-pce')!).origin, 'prefetch');
    });

    it('an updated input (new version) makes the stored assessment stale', async () => {
      const ra = await stored(new Date(NOW.getTime() - 3_600_000));
      const prefetch = structuredClone(PCE_REQUEST.prefetch!) as Record<string, Bundle>;
      const tc = prefetch.observations!.entry!.find((e) => e.resource?.id?.endsWith('-tc'))!.resource!;
      tc.meta = { ...tc.meta, versionId: '2' };
      const { app } = appWith(new RecordingEhr([]));
      const res = await request(app)
        .post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`)
        .send({ ...PCE_REQUEST, prefetch: { ...prefetch, riskAssessments: searchset([ra]) } })
        .expect(200);
      assert.equal(extensionOf(cardFor(res.body as CdsResponse, 'ascvd-pce')!).origin, 'prefetch');
    });
  });

  describe('deadline', () => {
    it('answers by the deadline with what is ready: nothing when the quick fetch is slow', async () => {
      const ehr = new RecordingEhr(pceResources(), { batchDelayMs: 1_500 });
      const { app } = appWith(ehr, { cdsDeadlineMs: 150 });
      const started = Date.now();
      const res = await request(app).post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`).send(withoutPrefetch(PCE_REQUEST)).expect(200);
      const elapsed = Date.now() - started;
      assert.deepEqual(res.body, { cards: [] });
      assert.ok(elapsed < 1_000, `answered after ${elapsed} ms`);
    });

    it('prefetch-covered models still give their card when the fetch for the others is slow', async () => {
      const prefetch = { ...PCE_REQUEST.prefetch };
      delete prefetch.medications; // ascvd-pce and prevent-cvd read medications: they need the fetch
      const ehr = new RecordingEhr(pceResources(), { batchDelayMs: 1_500 });
      const { app } = appWith(ehr, { cdsDeadlineMs: 150, cdsExplainNotApplicable: true });
      const res = await request(app)
        .post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`)
        .send({ ...PCE_REQUEST, prefetch })
        .expect(200);
      const body = cdsResponseSchema.parse(res.body) as CdsResponse;
      assert.equal(cardFor(body, 'ascvd-pce'), undefined, 'timed out');
      const explained = body.cards.find((c) => (extensionOf(c).notApplicable as unknown[] | undefined) !== undefined);
      assert.ok(explained, 'the not-applicable card of the prefetch-covered models');
      const listed = (extensionOf(explained).notApplicable as { model: string; reason: string }[]).map((m) => m.model).sort();
      assert.deepEqual(listed, ['cha2ds2-vasc', 'news2', 'qsofa']);
      assert.equal(explained.indicator, 'info');
    });
  });

  it('412 when the data cannot be read from the prefetch nor the FHIR server', async () => {
    const ehr = new RecordingEhr([], { batchError: new RetryableError('EHR POST failed: HTTP 503') });
    const { app } = appWith(ehr);
    const res = await request(app).post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`).send(withoutPrefetch(PCE_REQUEST)).expect(412);
    assert.equal(res.body.resourceType, 'OperationOutcome');
    assert.match(res.body.issue[0].diagnostics, /HTTP 503/);
  });

  describe('malformed requests → 400 OperationOutcome', () => {
    const base = withoutPrefetch(PCE_REQUEST);
    const cases: [string, unknown, RegExp][] = [
      ['no hook', { ...base, hook: undefined }, /hook/],
      ['another hook', { ...base, hook: 'order-sign' }, /hook must be "patient-view"/],
      ['no hookInstance', { ...base, hookInstance: undefined }, /hookInstance/],
      ['no context', { ...base, context: undefined }, /context/],
      ['patientId not a FHIR id', { ...base, context: { patientId: 'p1&_include=*' } }, /context\.patientId/],
      ['fhirAuthorization without fhirServer', { ...base, fhirServer: undefined, fhirAuthorization: { access_token: 't', token_type: 'Bearer', expires_in: 1, scope: 's', subject: 'c' } }, /fhirServer is required/],
      ['a JSON array', [], /JSON object/],
    ];
    for (const [name, body, message] of cases) {
      it(name, async () => {
        const { app } = appWith(new RecordingEhr([]));
        const res = await request(app).post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`).send(body as object).expect(400);
        assert.equal(res.body.resourceType, 'OperationOutcome');
        assert.match(res.body.issue[0].diagnostics, message);
      });
    }

    it('invalid JSON', async () => {
      const { app } = appWith(new RecordingEhr([]));
      const res = await request(app).post(`/cds-services/${PATIENT_VIEW_SERVICE_ID}`).set('content-type', 'application/json').send('{"hook":').expect(400);
      assert.equal(res.body.resourceType, 'OperationOutcome');
    });

    it('an unknown service is 404', async () => {
      const { app } = appWith(new RecordingEhr([]));
      const res = await request(app).post('/cds-services/nope').send(base).expect(404);
      assert.equal(res.body.issue[0].code, 'not-found');
    });
  });
});
