/**
 * The walking skeleton, end to end with real parts only: the sandbox FHIR server
 * (@medplum/fhir-router), real Redis and BullMQ, the real ONNX model, real HTTP. A notification
 * in either of the two first styles ends in one RiskAssessment on the FHIR server whose
 * probability matches the published PCE vector; replaying the same notification writes nothing new.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Observation, RiskAssessment } from 'fhir/r4.js';
import { startHarness, type Harness } from '../support/harness.ts';
import { backportR4, hapiPut, send } from '../support/notifications.ts';
import { expectedRisk, pceVector, toleranceFor } from '../support/pce-patient.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

function assertContract(ra: RiskAssessment, patientId: string, basisIncludes: string): void {
  assert.deepEqual(ra.meta?.profile, ['http://fhir-risk.org/fhir/StructureDefinition/fhir-risk-assessment']);
  assert.equal(ra.identifier?.[0]?.system, 'http://fhir-risk.org/fhir/sid/assessment');
  assert.match(ra.identifier?.[0]?.value ?? '', /^[0-9a-f]{64}$/);
  assert.equal(ra.status, 'final');
  assert.equal(ra.subject.reference, `Patient/${patientId}`);
  assert.ok(ra.occurrenceDateTime);
  assert.equal(ra.method?.coding?.[0]?.system, 'http://fhir-risk.org/fhir/CodeSystem/models');
  assert.equal(ra.method?.coding?.[0]?.code, 'ascvd-pce');
  assert.ok(ra.method?.coding?.[0]?.version);
  const basis = (ra.basis ?? []).map((b) => b.reference ?? '');
  assert.ok(
    basis.some((b) => b.startsWith(basisIncludes) && b.includes('/_history/')),
    `basis ${basis.join(', ')} lacks a versioned ${basisIncludes}`,
  );
  assert.ok(basis.some((b) => b.startsWith(`Patient/${patientId}`)), 'the Patient (age, sex, race) is in the basis');
  const p = ra.prediction?.[0];
  assert.ok(p);
  assert.equal(p.qualitativeRisk?.coding?.[0]?.system, 'http://terminology.hl7.org/CodeSystem/risk-probability');
  assert.equal(p.qualitativeRisk?.coding?.[1]?.system, 'http://fhir-risk.org/fhir/CodeSystem/risk-band');
  const years = (Date.parse(p.whenPeriod?.end ?? '') - Date.parse(p.whenPeriod?.start ?? '')) / (365.25 * 24 * 3600 * 1000);
  assert.ok(Math.abs(years - 10) < 0.01, `whenPeriod spans ${years} years`);
}

describe('walking skeleton: notification → RiskAssessment on the FHIR server', () => {
  it('HAPI R4 rest-hook PUT /notify/Observation/:id writes a PCE assessment matching the published vector, once', async () => {
    const vector = pceVector('pce-cerner-white-male-46');
    const patientId = await h.loadVectorPatient(vector, 'e2e-hapi');
    const tc = await h.fhir<Observation & { id: string }>('GET', `Observation/${patientId}-tc`);

    const first = await send(h.serviceUrl, hapiPut(tc));
    assert.equal(first.status, 200);
    const ack = (await first.json()) as { resourceType: string; issue: { severity: string }[] };
    assert.equal(ack.resourceType, 'OperationOutcome');
    assert.equal(ack.issue[0]?.severity, 'information');
    await h.waitForIdle();

    const written = await h.assessmentsOf(patientId);
    assert.equal(written.length, 1, 'exactly one RiskAssessment');
    const ra = written[0]!;
    assertContract(ra, patientId, `Observation/${patientId}-tc`);
    const probability = ra.prediction?.[0]?.probabilityDecimal ?? NaN;
    assert.ok(
      Math.abs(probability - expectedRisk(vector)) <= toleranceFor(vector),
      `probability ${probability} vs published ${expectedRisk(vector)} ± ${toleranceFor(vector)}`,
    );

    // The same notification again (HAPI retries, redeliveries): nothing new is written.
    assert.equal((await send(h.serviceUrl, hapiPut(tc))).status, 200);
    await h.waitForIdle();
    const again = await h.assessmentsOf(patientId);
    assert.equal(again.length, 1);
    assert.equal(again[0]!.meta?.versionId, ra.meta?.versionId, 'the assessment was not rewritten');
  });

  it('Subscriptions Backport R4 full-resource Bundle POST /notify writes a PCE assessment matching the published vector', async () => {
    const vector = pceVector('pce-preventr-white-female-67');
    const patientId = await h.loadVectorPatient(vector, 'e2e-backport');
    const hdl = await h.fhir<Observation & { id: string }>('GET', `Observation/${patientId}-hdl`);

    // The notification's fullUrls name another host on purpose: only Type/id is used, on FHIR_BASE_URL.
    const res = await send(h.serviceUrl, backportR4(hdl, 'full-resource', 1));
    assert.equal(res.status, 200);
    await h.waitForIdle();

    const written = await h.assessmentsOf(patientId);
    assert.equal(written.length, 1);
    assertContract(written[0]!, patientId, `Observation/${patientId}-hdl`);
    const probability = written[0]!.prediction?.[0]?.probabilityDecimal ?? NaN;
    assert.ok(
      Math.abs(probability - expectedRisk(vector)) <= toleranceFor(vector),
      `probability ${probability} vs published ${expectedRisk(vector)} ± ${toleranceFor(vector)}`,
    );
  });
});
