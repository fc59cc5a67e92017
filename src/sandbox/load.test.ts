import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Bundle, Condition, Encounter, Observation, Patient } from 'fhir/r4.js';
import { latestObservationTime, shiftBundleDates, shiftString } from './load.ts';

const DAY = 86_400_000;

function bundle(): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: 'urn:uuid:00000000-0000-0000-0000-000000000001',
        resource: {
          resourceType: 'Patient',
          id: 'p1',
          birthDate: '1960-02-29',
          identifier: [{ system: 'urn:ssn', value: '2019-01-01' }],
        } satisfies Patient,
        request: { method: 'PUT', url: 'Patient/p1' },
      },
      {
        resource: {
          resourceType: 'Observation',
          id: 'o1',
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: '2019-01-01' }] },
          effectiveDateTime: '2019-06-01T10:00:00+02:00',
          issued: '2019-06-01T10:00:05.123+02:00',
        } satisfies Observation,
        request: { method: 'PUT', url: 'Observation/o1' },
      },
      {
        resource: {
          resourceType: 'Observation',
          id: 'o2',
          status: 'final',
          code: { text: 'latest' },
          effectiveDateTime: '2020-01-01T00:00:00Z',
        } satisfies Observation,
        request: { method: 'PUT', url: 'Observation/o2' },
      },
      {
        resource: {
          resourceType: 'Condition',
          id: 'c1',
          subject: { reference: 'Patient/p1' },
          onsetDateTime: '2018-12-31T23:30:00-05:00',
          recordedDate: '2019-01-02',
        } satisfies Condition,
        request: { method: 'PUT', url: 'Condition/c1' },
      },
      {
        resource: {
          resourceType: 'Encounter',
          id: 'e1',
          status: 'finished',
          class: { code: 'AMB' },
          period: { start: '2019-12-31T23:00:00Z', end: '2020-01-01T00:00:00Z' },
        } satisfies Encounter,
        request: { method: 'PUT', url: 'Encounter/e1' },
      },
    ],
  };
}

describe('shiftBundleDates', () => {
  const to = new Date('2026-03-15T12:00:00Z');

  it('puts the latest Observation at the target and shifts everything by the same offset', () => {
    const original = bundle();
    const shifted = shiftBundleDates(original, to);
    const offset = to.getTime() - Date.parse('2020-01-01T00:00:00Z');
    const [patient, o1, o2, condition, encounter] = (shifted.entry ?? []).map((e) => e.resource) as [
      Patient,
      Observation,
      Observation,
      Condition,
      Encounter,
    ];
    assert.equal(o2.effectiveDateTime, '2026-03-15T12:00:00Z');
    assert.equal(latestObservationTime(shifted)?.toISOString(), to.toISOString());
    // Times keep their zone and precision.
    assert.equal(Date.parse(o1.effectiveDateTime ?? ''), Date.parse('2019-06-01T10:00:00+02:00') + offset);
    assert.match(o1.effectiveDateTime ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+02:00$/);
    assert.match(o1.issued ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.123\+02:00$/);
    assert.equal(Date.parse(condition.onsetDateTime ?? ''), Date.parse('2018-12-31T23:30:00-05:00') + offset);
    assert.equal(encounter.period?.end, '2026-03-15T12:00:00Z');
    // Dates move by whole days: ages stay what they were.
    const days = Math.round(offset / DAY);
    assert.equal(Date.parse(patient.birthDate ?? '') - Date.parse('1960-02-29'), days * DAY);
    assert.equal(Date.parse(condition.recordedDate ?? '') - Date.parse('2019-01-02'), days * DAY);
    // Identifiers, codes, displays and references never move.
    assert.equal(patient.identifier?.[0]?.value, '2019-01-01');
    assert.equal(o1.code.coding?.[0]?.display, '2019-01-01');
    assert.equal(condition.subject.reference, 'Patient/p1');
    // Pure: the input is untouched.
    assert.equal((original.entry?.[2]?.resource as Observation).effectiveDateTime, '2020-01-01T00:00:00Z');
  });

  it('shifts a real Synthea Bundle so its newest Observation is at the target', () => {
    const synthea = JSON.parse(
      readFileSync(new URL('../../test/fixtures/synthea/f8446dc0-6b14-d4ee-5cc3-2c566456fe44.json', import.meta.url), 'utf8'),
    ) as Bundle;
    const shifted = shiftBundleDates(synthea, to);
    assert.equal(latestObservationTime(shifted)?.getTime(), to.getTime());
    assert.equal(shifted.entry?.length, synthea.entry?.length);
  });

  it('leaves strings that are not FHIR dates alone', () => {
    for (const s of ['2019', '2019-06', 'hello', '999-12-3456', '2019-06-01T10:00']) assert.equal(shiftString(s, DAY), s);
    assert.equal(shiftString('2019-06-01', DAY), '2019-06-02');
    assert.equal(shiftString('2019-06-01T10:00:00.1234567-05:00', DAY), '2019-06-02T10:00:00.1230000-05:00');
  });

  it('returns a copy unchanged when the Bundle has no dated Observation', () => {
    const b: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient', birthDate: '1970-01-01' } }] };
    assert.deepEqual(shiftBundleDates(b, to), b);
  });
});
