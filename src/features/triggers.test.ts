import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Condition, MedicationRequest } from 'fhir/r4.js';
import { ICD10CM, LOINC, SNOMED } from './codings.ts';
import { AF_ONLY, PCE_LIKE, VITALS_LIKE, bpPanel, condition, quantityObs, shippedManifest, shippedValueSets } from './test-fixtures.ts';
import { modelsTriggeredBy, patientIdOf } from './triggers.ts';

const valueSets = await shippedValueSets();
const manifests = [PCE_LIKE, AF_ONLY, VITALS_LIKE];

describe('modelsTriggeredBy', () => {
  it('matches the Observation code, in manifest order', () => {
    assert.deepEqual(modelsTriggeredBy(quantityObs('2093-3', 200, 'mg/dL', '2024-01-01'), manifests, valueSets), ['pce-test']);
    assert.deepEqual(modelsTriggeredBy(quantityObs('9279-1', 20, '/min', '2024-01-01'), manifests, valueSets), ['vitals-test']);
    assert.deepEqual(modelsTriggeredBy(quantityObs('2160-0', 1, 'mg/dL', '2024-01-01'), manifests, valueSets), []);
  });

  it('matches component codes too (a 55284-4 panel triggers models that list only 8480-6)', () => {
    const onlySystolic = { ...VITALS_LIKE, id: 'sbp-only', triggers: { codes: [{ system: LOINC, code: '8480-6' }], valueSets: [] } };
    assert.deepEqual(modelsTriggeredBy(bpPanel(120, '2024-01-01', 'diastolic-first', '55284-4'), [onlySystolic], valueSets), ['sbp-only']);
  });

  it('matches Conditions through value sets, ICD-10-CM with or without the dot, whatever their status', () => {
    assert.deepEqual(modelsTriggeredBy(condition(SNOMED, '127013003'), manifests, valueSets), ['pce-test']);
    assert.deepEqual(modelsTriggeredBy(condition(ICD10CM, 'I480'), manifests, valueSets), ['af-test']);
    const retracted = condition(SNOMED, '49436004', { verificationStatus: { coding: [{ code: 'entered-in-error' }] } });
    assert.deepEqual(modelsTriggeredBy(retracted, manifests, valueSets), ['af-test']);
    const noCode: Condition = { resourceType: 'Condition', subject: { reference: 'Patient/p1' } };
    assert.deepEqual(modelsTriggeredBy(noCode, manifests, valueSets), []);
  });

  it('works with the shipped manifests', () => {
    const shipped = ['ascvd-pce', 'cha2ds2-vasc', 'news2', 'prevent-cvd', 'qsofa'].map(shippedManifest);
    const hits = modelsTriggeredBy(bpPanel(120, '2024-01-01', 'systolic-first', '85354-9'), shipped, valueSets);
    assert.ok(hits.includes('ascvd-pce') && hits.includes('news2'), hits.join());
    assert.ok(modelsTriggeredBy(condition(SNOMED, '49436004'), shipped, valueSets).includes('cha2ds2-vasc'));
  });
});

describe('patientIdOf', () => {
  const withSubject = (reference: string): MedicationRequest => ({ resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference } });

  it('reads relative, versioned, absolute and urn:uuid references', () => {
    assert.equal(patientIdOf(withSubject('Patient/123')), '123');
    assert.equal(patientIdOf(withSubject('Patient/123/_history/4')), '123');
    assert.equal(patientIdOf(withSubject('https://ehr.example.org/fhir/R4/Patient/abc-1')), 'abc-1');
    assert.equal(patientIdOf(withSubject('urn:uuid:0e61c3ad-d11e-4080-a6aa-cac89cae4e37')), '0e61c3ad-d11e-4080-a6aa-cac89cae4e37');
    assert.equal(patientIdOf({ resourceType: 'Patient', id: 'p9' }), 'p9');
    assert.equal(patientIdOf({ resourceType: 'AllergyIntolerance', patient: { reference: 'Patient/7' } }), '7');
  });

  it('names no patient for a Group subject or a missing reference', () => {
    assert.equal(patientIdOf(withSubject('Group/g1')), undefined);
    assert.equal(patientIdOf({ resourceType: 'Observation', status: 'final', code: {} }), undefined);
  });
});
