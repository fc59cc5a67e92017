import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ASSESSMENT_IDENTIFIER_SYSTEM } from './canonical.ts';
import type { AssessmentKey } from './identifier.ts';
import { assessmentIdentity, canonicalJson, identifierSearchToken } from './identifier.ts';

const key: AssessmentKey = {
  patientId: 'p-1',
  modelId: 'ascvd-pce',
  modelVersion: '2013.1.0',
  basis: ['Observation/tc/_history/3', 'Patient/p-1/_history/1', 'Observation/sbp/_history/2'],
  features: [
    { name: 'age', value: 55 },
    { name: 'totalCholesterol', value: 213 },
    { name: 'systolicBP', value: 120 },
  ],
};

describe('assessmentIdentity', () => {
  it('is stable across calls and gives a valid FHIR id derived from the hash', () => {
    const a = assessmentIdentity(key);
    const b = assessmentIdentity(structuredClone(key) as AssessmentKey);
    assert.deepEqual(a, b);
    assert.match(a.value, /^[0-9a-f]{64}$/);
    assert.equal(a.id, `fr-${a.value.slice(0, 40)}`);
    assert.match(a.id, /^[A-Za-z0-9\-.]{1,64}$/);
    assert.deepEqual(a.identifier, { system: ASSESSMENT_IDENTIFIER_SYSTEM, value: a.value });
  });

  it('ignores the order and duplicates of basis references and the order of features', () => {
    const shuffled: AssessmentKey = {
      ...key,
      basis: [...key.basis].reverse().concat(key.basis[0] as string),
      features: [...key.features].reverse(),
    };
    assert.equal(assessmentIdentity(shuffled).value, assessmentIdentity(key).value);
  });

  it('changes when a basis version changes', () => {
    const newer = { ...key, basis: key.basis.map((b) => b.replace('Observation/tc/_history/3', 'Observation/tc/_history/4')) };
    assert.notEqual(assessmentIdentity(newer).value, assessmentIdentity(key).value);
  });

  it('changes when a feature value changes, even slightly', () => {
    const changed = { ...key, features: key.features.map((f) => (f.name === 'systolicBP' ? { ...f, value: 120.1 } : f)) };
    assert.notEqual(assessmentIdentity(changed).value, assessmentIdentity(key).value);
  });

  it('changes with the patient, the model and the model version', () => {
    const base = assessmentIdentity(key).value;
    assert.notEqual(assessmentIdentity({ ...key, patientId: 'p-2' }).value, base);
    assert.notEqual(assessmentIdentity({ ...key, modelId: 'prevent-cvd' }).value, base);
    assert.notEqual(assessmentIdentity({ ...key, modelVersion: '2013.1.1' }).value, base);
  });

  it('refuses non-finite values and duplicate feature names (bugs upstream)', () => {
    assert.throws(() => assessmentIdentity({ ...key, features: [{ name: 'age', value: Number.NaN }] }), /non-finite/);
    assert.throws(() => assessmentIdentity({ ...key, features: [{ name: 'age', value: 1 }, { name: 'age', value: 2 }] }), /twice/);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined properties', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[2,{"y":2,"z":1}]},"b":1}');
  });
});

describe('identifierSearchToken', () => {
  it('is system|value', () => {
    assert.equal(identifierSearchToken('abc'), `${ASSESSMENT_IDENTIFIER_SYSTEM}|abc`);
  });
});
