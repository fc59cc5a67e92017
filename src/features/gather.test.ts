import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Bundle, BundleEntry, FhirResource, Medication, MedicationRequest } from 'fhir/r4.js';
import { InvalidInputError, NotFoundError, RetryableError } from '../errors.ts';
import type { EhrClient } from '../fhir/client-types.ts';
import { buildPatientQuery, gatherPatientRecord, parsePatientBatch, recordFromBundle } from './gather.ts';
import { AF_ONLY, EXF_PATIENT, PCE_LIKE, SMART_PATIENT, VITALS_LIKE, condition, patient, quantityObs, shippedManifest, shippedValueSets, syntheaBundle } from './test-fixtures.ts';

const valueSets = await shippedValueSets();

function searchset(resources: FhirResource[], next?: string): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(next ? { link: [{ relation: 'next', url: next }] } : {}),
    entry: resources.map((resource) => ({ resource, search: { mode: 'match' } })),
  };
}

function batchResponse(...entries: BundleEntry[]): Bundle {
  return { resourceType: 'Bundle', type: 'batch-response', entry: entries };
}

const ok = (resource: FhirResource): BundleEntry => ({ resource, response: { status: '200 OK' } });

describe('buildPatientQuery', () => {
  it('reads the Patient, Observations by every needed code (incl. BP panels for a component), Conditions and MedicationRequests', () => {
    const query = buildPatientQuery('p1', [PCE_LIKE], valueSets);
    assert.equal(query.type, 'batch');
    const urls = (query.entry ?? []).map((e) => e.request?.url ?? '');
    assert.ok((query.entry ?? []).every((e) => e.request?.method === 'GET'));
    assert.equal(urls[0], 'Patient/p1');
    const obs = new URL(`http://x/${urls[1]}`);
    assert.equal(obs.pathname, '/Observation');
    assert.equal(obs.searchParams.get('patient'), 'p1');
    assert.equal(obs.searchParams.get('_count'), '1000');
    assert.equal(obs.searchParams.get('_sort'), '-date');
    const codes = (obs.searchParams.get('code') ?? '').split(',');
    for (const code of ['2093-3', '14647-2', '2085-9', '14646-4', '85354-9', '55284-4', '8480-6', '72166-2']) assert.ok(codes.includes(`http://loinc.org|${code}`), code);
    assert.deepEqual(urls.slice(2), ['Condition?patient=p1&_count=1000', 'MedicationRequest?patient=p1&_count=1000']);
  });

  it('asks only for what the manifests use, and finds BP panels for the shipped manifests (systolic as component only)', () => {
    const urls = (buildPatientQuery('p1', [VITALS_LIKE], valueSets).entry ?? []).map((e) => e.request?.url ?? '');
    assert.equal(urls.length, 3, 'Patient, Observation, Condition (pregnancy exclusion): no medications');
    assert.ok(urls[2]?.startsWith('Condition?'));
    assert.equal((buildPatientQuery('p1', [AF_ONLY], valueSets).entry ?? []).length, 2, 'Patient and Condition only');
    const shipped = buildPatientQuery('p1', [shippedManifest('ascvd-pce')], valueSets).entry?.[1]?.request?.url ?? '';
    assert.ok(decodeURIComponent(shipped).includes('http://loinc.org|85354-9') && decodeURIComponent(shipped).includes('http://loinc.org|55284-4'));
  });

  it('refuses an id that is not a FHIR id (no parameter smuggling)', () => {
    assert.throws(() => buildPatientQuery('p1&_include=*', [PCE_LIKE], valueSets), InvalidInputError);
  });
});

describe('parsePatientBatch', () => {
  const p = patient();
  it('sorts resources by type and drops resources about another patient', () => {
    const mine = quantityObs('2093-3', 200, 'mg/dL', '2024-01-01');
    const theirs = { ...quantityObs('2093-3', 100, 'mg/dL', '2024-01-01'), subject: { reference: 'Patient/other' } };
    const record = parsePatientBatch(batchResponse(ok(p), ok(searchset([mine, theirs])), ok(searchset([condition('http://snomed.info/sct', '44054006')]))), 'p1');
    assert.equal(record.patient.id, 'p1');
    assert.deepEqual(record.observations.map((o) => o.id), [mine.id]);
    assert.equal(record.conditions.length, 1);
  });

  it('a 5xx or 429 entry → RetryableError; the Patient gone → NotFoundError; a rejected search → InvalidInputError', () => {
    assert.throws(() => parsePatientBatch(batchResponse(ok(p), { response: { status: '503 Service Unavailable' } }), 'p1'), RetryableError);
    assert.throws(() => parsePatientBatch(batchResponse(ok(p), { response: { status: '429' } }), 'p1'), RetryableError);
    assert.throws(() => parsePatientBatch(batchResponse({ response: { status: '404 Not Found' } }, ok(searchset([]))), 'p1'), NotFoundError);
    assert.throws(() => parsePatientBatch(batchResponse({ response: { status: '410 Gone' } }), 'p1'), NotFoundError);
    const outcome = { resourceType: 'OperationOutcome' as const, issue: [{ severity: 'error' as const, code: 'invalid' as const, diagnostics: 'Unknown search parameter _sort' }] };
    assert.throws(() => parsePatientBatch(batchResponse(ok(p), { response: { status: '400', outcome } }), 'p1'), /Unknown search parameter _sort/);
  });
});

class FakeEhr implements EhrClient {
  readonly baseUrl = 'http://ehr.test/fhir';
  requestCount = 0;
  readonly searches: { type: string; params: Record<string, string> }[] = [];
  constructor(
    private readonly answer: Bundle,
    private readonly searchResult: FhirResource[] = [],
  ) {}
  async batch(): Promise<Bundle> {
    this.requestCount += 1;
    return this.answer;
  }
  async search<T extends FhirResource>(resourceType: T['resourceType'], params: Record<string, string>): Promise<T[]> {
    this.requestCount += 2;
    this.searches.push({ type: resourceType, params });
    return this.searchResult as T[];
  }
  async read(): Promise<undefined> {
    throw new Error('not used');
  }
  async update<T>(): Promise<T> {
    throw new Error('not used');
  }
  async createIfNoneExist<T>(): Promise<{ resource: T; created: boolean }> {
    throw new Error('not used');
  }
}

describe('gatherPatientRecord', () => {
  it('one request when no search was cut short', async () => {
    const ehr = new FakeEhr(batchResponse(ok(patient()), ok(searchset([quantityObs('2093-3', 200, 'mg/dL', '2024-01-01')])), ok(searchset([])), ok(searchset([]))));
    const record = await gatherPatientRecord(ehr, 'p1', [PCE_LIKE], valueSets);
    assert.equal(ehr.requestCount, 1);
    assert.equal(record.observations.length, 1);
  });

  it('follows a truncated search through client.search with the same parameters', async () => {
    const first = quantityObs('2093-3', 200, 'mg/dL', '2024-01-01');
    const second = quantityObs('2085-9', 50, 'mg/dL', '2024-01-01');
    const ehr = new FakeEhr(batchResponse(ok(patient()), ok(searchset([first], 'http://ehr.test/fhir?_getpages=x')), ok(searchset([])), ok(searchset([]))), [first, second]);
    const record = await gatherPatientRecord(ehr, 'p1', [PCE_LIKE], valueSets);
    assert.equal(ehr.searches.length, 1);
    assert.equal(ehr.searches[0]?.type, 'Observation');
    assert.equal(ehr.searches[0]?.params.patient, 'p1');
    assert.ok(ehr.searches[0]?.params.code?.includes('http://loinc.org|2093-3'));
    assert.deepEqual(record.observations.map((o) => o.id).sort(), [first.id, second.id].sort());
  });
});

describe('recordFromBundle', () => {
  it('reads a Synthea transaction Bundle, resolving urn:uuid references', () => {
    const record = recordFromBundle(syntheaBundle(EXF_PATIENT));
    assert.equal(record.patient.id, EXF_PATIENT);
    assert.ok(record.observations.length > 50);
    assert.ok(record.conditions.length > 0 && record.medications.length > 0);
    assert.equal(record.observations[0]?.subject?.reference, `Patient/${EXF_PATIENT}`);
    assert.equal(recordFromBundle(syntheaBundle(SMART_PATIENT)).patient.gender, 'male');
  });

  it('gives id-less entries their urn:uuid id and inlines a referenced Medication code', () => {
    const medication: Medication = { resourceType: 'Medication', code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '314076' }] } };
    const request: MedicationRequest = { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: 'urn:uuid:pat' }, medicationReference: { reference: 'urn:uuid:med' } };
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { fullUrl: 'urn:uuid:pat', resource: { resourceType: 'Patient', gender: 'male' } },
        { fullUrl: 'urn:uuid:med', resource: medication },
        { fullUrl: 'urn:uuid:rx', resource: request },
      ],
    };
    const record = recordFromBundle(bundle);
    assert.equal(record.patient.id, 'pat');
    assert.equal(record.medications[0]?.subject?.reference, 'Patient/pat');
    assert.equal((record.medications[0] as MedicationRequest).medicationCodeableConcept?.coding?.[0]?.code, '314076');
    assert.equal((bundle.entry?.[2]?.resource as MedicationRequest).subject?.reference, 'urn:uuid:pat', 'input not mutated');
  });

  it('rejects a Bundle without exactly one Patient, or of a response type', () => {
    const two: Bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient() }, { resource: patient({ id: 'p2' }) }] };
    assert.throws(() => recordFromBundle(two), (e: unknown) => e instanceof InvalidInputError && /exactly one Patient; it holds 2/.test(e.message));
    assert.throws(() => recordFromBundle({ resourceType: 'Bundle', type: 'collection' }), InvalidInputError);
    assert.throws(() => recordFromBundle({ resourceType: 'Bundle', type: 'history', entry: [{ resource: patient() }] }), InvalidInputError);
    assert.throws(() => recordFromBundle({ resourceType: 'Patient' } as unknown as Bundle), InvalidInputError);
  });
});
