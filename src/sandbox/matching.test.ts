import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSearchRequest } from '@medplum/core';
import type { Resource as MResource } from '@medplum/fhirtypes';
import { ensureSearchParameters } from './definitions.ts';
import { impliedRange, matchesSearch } from './matching.ts';

ensureSearchParameters();

const obs = {
  resourceType: 'Observation',
  id: 'o1',
  meta: { lastUpdated: '2024-05-01T09:31:02.417Z' },
  identifier: [{ system: 'http://fhir-risk.org/fhir/sid/assessment', value: 'abc' }, { value: 'plain' }],
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: 'Patient/p1' },
} as unknown as MResource;

const matches = (query: string): boolean => matchesSearch(obs, parseSearchRequest(`Observation?${query}`));

describe('matchesSearch', () => {
  it('matches identifier tokens with FHIR token semantics', () => {
    assert.equal(matches('identifier=http://fhir-risk.org/fhir/sid/assessment|abc'), true);
    assert.equal(matches('identifier=abc'), true);
    assert.equal(matches('identifier=http://fhir-risk.org/fhir/sid/assessment|'), true);
    assert.equal(matches('identifier=|plain'), true);
    assert.equal(matches('identifier=|abc'), false);
    assert.equal(matches('identifier=other|abc'), false);
    assert.equal(matches('identifier=nope,abc'), true);
    assert.equal(matches('identifier=abc&code=http://loinc.org|9999-9'), false, 'other filters still apply');
  });

  it('compares _lastUpdated by the implied range of the search value', () => {
    assert.equal(matches('_lastUpdated=gt2024-05-01T09:31:02.416Z'), true);
    assert.equal(matches('_lastUpdated=gt2024-05-01T09:31:02.417Z'), false);
    assert.equal(matches('_lastUpdated=ge2024-05-01T09:31:02.417Z'), true);
    assert.equal(matches('_lastUpdated=gt2024-05-01'), false, 'gt a day means after that whole day');
    assert.equal(matches('_lastUpdated=ge2024-05-01'), true);
    assert.equal(matches('_lastUpdated=lt2024-05-02'), true);
    assert.equal(matches('_lastUpdated=le2024-04'), false);
    assert.equal(matches('_lastUpdated=2024-05'), true);
    assert.equal(matches('_lastUpdated=gt2024-05-01T11:00:00%2B02:00'), true, 'zones respected');
    assert.deepEqual(impliedRange('2024'), [Date.parse('2024-01-01T00:00:00Z'), Date.parse('2025-01-01T00:00:00Z')]);
    assert.equal(impliedRange('yesterday'), undefined);
  });

  it('leaves other parameters to Medplum (patient, code)', () => {
    assert.equal(matches('patient=Patient/p1&code=http://loinc.org|8867-4'), true);
    assert.equal(matches('patient=Patient/p2'), false);
  });
});
