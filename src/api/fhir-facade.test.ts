import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Bundle, RiskAssessment } from 'fhir/r4.js';
import { AuthError, InvalidInputError } from '../errors.ts';
import { decodePageToken, encodePageToken, facadeSearchset, patientIdOf } from './fhir-facade.ts';

const STORE = 'http://ehr.test:8080/fhir/R4';
const OURS = 'http://fhir-risk.org/fhir/sid/assessment';
const OUR_IDENTIFIER = encodeURIComponent(`${OURS}|`);
const token = (s: string) => Buffer.from(s).toString('base64url');

describe('page tokens', () => {
  it('encode a store link as its path and query under the store base, whatever host it names', () => {
    const link = `http://internal-name:9999/fhir/R4/RiskAssessment?identifier=${OUR_IDENTIFIER}&_count=2&_offset=2`;
    const t = encodePageToken(link, STORE);
    assert.ok(t);
    assert.match(t, /^[A-Za-z0-9_-]+$/);
    assert.equal(decodePageToken(t, undefined), `RiskAssessment?identifier=${OUR_IDENTIFIER}&_count=2&_offset=2`);
  });

  it('carry a HAPI-style continuation (?_getpages=) of the base', () => {
    const t = encodePageToken(`${STORE}?_getpages=0f1e&_getpagesoffset=20&_count=20&_bundletype=searchset`, STORE);
    assert.ok(t);
    assert.equal(decodePageToken(t, undefined), '?_getpages=0f1e&_getpagesoffset=20&_count=20&_bundletype=searchset');
  });

  it('drop links outside the store base or to other resources', () => {
    assert.equal(encodePageToken('http://ehr.test:8080/other/RiskAssessment?x=1', STORE), undefined);
    assert.equal(encodePageToken(`${STORE}/Patient?_offset=2`, STORE), undefined);
    assert.equal(encodePageToken('not a url at all \u0000', STORE), undefined);
  });

  it('refuse anything that is not our RiskAssessment search (400): no SSRF, no widening', () => {
    const forged = [
      'Patient?_count=1',
      '//evil.test/RiskAssessment?identifier=x',
      'http://evil.test/?_getpages=1',
      'RiskAssessment/../Patient?x=1',
      'RiskAssessment?_count=2', // our identifier restriction removed
      `RiskAssessment?identifier=${OUR_IDENTIFIER}&identifier=other`, // a second identifier
      `RiskAssessment?identifier=${encodeURIComponent('http://other|')}`,
      `RiskAssessment?identifier=${OUR_IDENTIFIER}&code=123`, // unknown parameter
      '?_count=5', // a base search without a continuation
      '?_type=Patient&_getpages=1',
    ];
    for (const f of forged) assert.throws(() => decodePageToken(token(f), undefined), InvalidInputError, f);
    assert.throws(() => decodePageToken('not/base64', undefined), InvalidInputError);
    assert.throws(() => decodePageToken('A'.repeat(5000), undefined), InvalidInputError);
  });

  it('keep a patient-scoped search on its patient (403 otherwise)', () => {
    const own = `RiskAssessment?patient=Patient%2Fp1&identifier=${OUR_IDENTIFIER}&_offset=2`;
    assert.equal(decodePageToken(token(own), 'p1'), own);
    assert.throws(() => decodePageToken(token(`RiskAssessment?patient=p2&identifier=${OUR_IDENTIFIER}`), 'p1'), AuthError);
    assert.throws(() => decodePageToken(token(`RiskAssessment?identifier=${OUR_IDENTIFIER}`), 'p1'), AuthError, 'patient dropped');
  });
});

describe('facadeSearchset', () => {
  const ra = (id: string, patient: string, ours = true): RiskAssessment => ({
    resourceType: 'RiskAssessment',
    id,
    status: 'final',
    subject: { reference: `Patient/${patient}` },
    identifier: [{ system: ours ? OURS : 'http://other', value: id }],
  });
  const page: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    link: [
      { relation: 'self', url: `${STORE}/RiskAssessment?identifier=${OUR_IDENTIFIER}` },
      { relation: 'next', url: `${STORE}/RiskAssessment?identifier=${OUR_IDENTIFIER}&_offset=2` },
      { relation: 'prev', url: `${STORE}/RiskAssessment?identifier=${OUR_IDENTIFIER}&_offset=0` },
      { relation: 'next', url: 'http://evil.test/steal' },
    ],
    entry: [{ resource: ra('a', 'p1') }, { resource: ra('b', 'p2') }, { resource: ra('c', 'p1', false) }],
  };
  const opts = { ourBase: 'https://risk.test/fhir', self: 'https://risk.test/fhir/RiskAssessment?x', storeBaseUrl: STORE };

  it('keeps only our assessments, on our base, with links rewritten and no invented total', () => {
    const out = facadeSearchset(page, { ...opts, patient: undefined });
    assert.deepEqual(out.entry?.map((e) => e.resource?.id), ['a', 'b']);
    assert.equal(out.entry?.[0]?.fullUrl, 'https://risk.test/fhir/RiskAssessment/a');
    assert.equal(out.total, undefined, 'the store gave no total');
    assert.deepEqual(
      out.link?.map((l) => l.relation),
      ['self', 'next', 'previous'],
      'the foreign link is dropped',
    );
    assert.equal(out.link?.[0]?.url, opts.self);
    for (const l of out.link?.slice(1) ?? []) assert.match(l.url, /^https:\/\/risk\.test\/fhir\/RiskAssessment\?_page_token=[A-Za-z0-9_-]+$/);
    assert.equal(facadeSearchset({ ...page, total: 7 }, { ...opts, patient: undefined }).total, 7);
  });

  it("drops other patients' assessments for a patient-scoped token", () => {
    assert.deepEqual(facadeSearchset(page, { ...opts, patient: 'p1' }).entry?.map((e) => e.resource?.id), ['a']);
  });
});

describe('patientIdOf', () => {
  it('reads bare ids, relative and absolute references, and nothing else', () => {
    assert.equal(patientIdOf('p1'), 'p1');
    assert.equal(patientIdOf('Patient/p1'), 'p1');
    assert.equal(patientIdOf('https://ehr.test/fhir/Patient/p1'), 'p1');
    assert.equal(patientIdOf('Patient/p1/_history/3'), 'p1');
    assert.equal(patientIdOf('Group/g1'), undefined);
    assert.equal(patientIdOf('Patient/p1,Patient/p2'), undefined);
  });
});
