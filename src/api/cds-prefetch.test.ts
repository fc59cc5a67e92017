/**
 * Reading a CDS client's prefetch against fhir-risk's templates, and the SSRF rule for fhirServer.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Bundle, FhirResource, Observation, Patient } from 'fhir/r4.js';
import { shippedManifest } from '../features/test-fixtures.ts';
import { defaultValueSetsDir, loadValueSets, type ValueSetIndex } from '../features/value-sets.ts';
import type { EhrClient } from '../fhir/client-types.ts';
import { fetchClientFor, sameFhirBase } from './cds-patient-view.ts';
import { prefetchCovers, prefetchTemplates, readPrefetch } from './cds-prefetch.ts';
import { parsePatientViewRequest } from './cds-request.ts';

let valueSets: ValueSetIndex;
before(async () => {
  valueSets = await loadValueSets(defaultValueSetsDir());
});

const patient: Patient = { resourceType: 'Patient', id: 'p1' };
const obs = (id: string, subject: string): Observation => ({ resourceType: 'Observation', id, status: 'final', code: { text: 'x' }, subject: { reference: subject } });
const searchset = (resources: FhirResource[], next = false): Bundle => ({
  resourceType: 'Bundle',
  type: 'searchset',
  ...(next ? { link: [{ relation: 'next', url: 'https://ehr/fhir?page=2' }] } : {}),
  entry: resources.map((resource) => ({ resource })),
});

describe('readPrefetch', () => {
  it('keeps the patient’s resources, treats null as "no data", ignores paged, foreign and mistyped values', () => {
    const data = readPrefetch(
      {
        patient,
        observations: searchset([obs('o1', 'Patient/p1'), obs('o2', 'Patient/other')]),
        conditions: null,
        medications: searchset([], true),
        riskAssessments: { resourceType: 'Patient', id: 'p1' },
        patientToGreet: patient,
      },
      'p1',
    );
    assert.equal(data.patient?.id, 'p1');
    assert.deepEqual(
      data.searches.get('Observation')?.map((r) => r.id),
      ['o1'],
    );
    assert.deepEqual(data.searches.get('Condition'), []);
    assert.equal(data.searches.has('MedicationRequest'), false, 'a next link means part of the data');
    assert.equal(data.riskAssessments, undefined);
    assert.deepEqual([...data.ignored].sort(), ['medications', 'riskAssessments']);
  });

  it('ignores a Patient that is not the one in context', () => {
    const data = readPrefetch({ patient: { resourceType: 'Patient', id: 'someone-else' } }, 'p1');
    assert.equal(data.patient, undefined);
    assert.deepEqual(data.ignored, ['patient']);
  });

  it('says which models the prefetch covers', () => {
    const pce = shippedManifest('ascvd-pce');
    const cha = shippedManifest('cha2ds2-vasc');
    const partial = readPrefetch({ patient, observations: null, conditions: null }, 'p1');
    assert.equal(prefetchCovers(partial, pce, valueSets), false, 'ascvd-pce reads MedicationRequests too');
    assert.equal(prefetchCovers(partial, cha, valueSets), true, 'cha2ds2-vasc reads Conditions only');
    assert.equal(prefetchCovers(readPrefetch({ observations: null, conditions: null, medications: null }, 'p1'), cha, valueSets), false, 'no Patient');
  });

  it('templates cover exactly what the models read, with the context token in place of the id', () => {
    const templates = prefetchTemplates([shippedManifest('cha2ds2-vasc')], valueSets);
    assert.deepEqual(Object.keys(templates).sort(), ['conditions', 'patient', 'riskAssessments']);
    assert.equal(templates.conditions, 'Condition?patient={{context.patientId}}&_count=1000');
  });
});

describe('fhirServer (SSRF rule)', () => {
  const ours = { baseUrl: 'https://ehr.example.org/fhir/R4' } as EhrClient;
  const tokenClient = { baseUrl: 'token' } as EhrClient;
  const debug: string[] = [];
  const log = { debug: (_o: object, msg: string) => void debug.push(msg) };
  const request = (fhirServer?: string, token = true) =>
    parsePatientViewRequest({
      hook: 'patient-view',
      hookInstance: 'h1',
      context: { patientId: 'p1' },
      ...(fhirServer ? { fhirServer } : {}),
      ...(fhirServer && token ? { fhirAuthorization: { access_token: 't', token_type: 'Bearer', expires_in: 60, scope: 's', subject: 'c' } } : {}),
    });
  const deps = { ehr: ours, clientWithToken: () => tokenClient };

  it('compares bases by scheme, host, port and path', () => {
    assert.ok(sameFhirBase('https://EHR.example.org:443/fhir/R4/', 'https://ehr.example.org/fhir/R4'));
    assert.ok(!sameFhirBase('https://ehr.example.org.evil.test/fhir/R4', 'https://ehr.example.org/fhir/R4'));
    assert.ok(!sameFhirBase('http://ehr.example.org/fhir/R4', 'https://ehr.example.org/fhir/R4'));
    assert.ok(!sameFhirBase('https://ehr.example.org/other', 'https://ehr.example.org/fhir/R4'));
    assert.ok(!sameFhirBase('https://user:pw@ehr.example.org/fhir/R4', 'https://ehr.example.org/fhir/R4'));
    assert.ok(!sameFhirBase('not a url', 'https://ehr.example.org/fhir/R4'));
  });

  it('uses the EHR token only on our own FHIR base; anything else falls back to our client, with a debug line', () => {
    assert.equal(fetchClientFor(request('https://ehr.example.org/fhir/R4'), deps, log), tokenClient);
    assert.equal(fetchClientFor(request('https://ehr.example.org/fhir/R4', false), deps, log), ours);
    assert.equal(fetchClientFor(request(), deps, log), ours);
    assert.equal(debug.length, 0);
    assert.equal(fetchClientFor(request('http://169.254.169.254/latest'), deps, log), ours);
    assert.equal(debug.length, 1);
    assert.match(debug[0]!, /ignored/);
  });
});
