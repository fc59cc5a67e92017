import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResourceReference, versionFromEtag } from './references.ts';

describe('parseResourceReference (SSRF: hosts never survive)', () => {
  const cases: Array<[string, ReturnType<typeof parseResourceReference>]> = [
    ['Observation/f001', { resourceType: 'Observation', id: 'f001' }],
    ['Observation/f001/_history/3', { resourceType: 'Observation', id: 'f001', versionId: '3' }],
    ['https://evil.example.net/base/fhir/Condition/c-1?x=1#y', { resourceType: 'Condition', id: 'c-1' }],
    ['http://example.org/FHIR/R5/Encounter/2/_history/MTcx', { resourceType: 'Encounter', id: '2', versionId: 'MTcx' }],
    ['projects/p/locations/l/datasets/d/fhirStores/s/fhir/Observation/7c2f5d1e', { resourceType: 'Observation', id: '7c2f5d1e' }],
    ['urn:uuid:9e41ff6d-5be6-4e6a-8b85-abd4e7f58400', undefined],
    ['#contained', undefined],
    ['f001', undefined],
    ['Observation/has space', undefined],
    ['observation/lowercase-type', undefined],
    ['Observation/f001/_history', undefined],
  ];
  for (const [reference, expected] of cases) {
    it(reference, () => assert.deepEqual(parseResourceReference(reference), expected));
  }
});

describe('versionFromEtag', () => {
  it('reads weak and strong ETags and rejects anything else', () => {
    assert.equal(versionFromEtag('W/"3"'), '3');
    assert.equal(versionFromEtag('"1"'), '1');
    assert.equal(versionFromEtag('3'), undefined);
    assert.equal(versionFromEtag('W/"a/b"'), undefined);
    assert.equal(versionFromEtag(undefined), undefined);
  });
});
