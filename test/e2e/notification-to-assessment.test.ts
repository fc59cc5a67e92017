/**
 * End to end, real parts only: the sandbox FHIR server (@medplum/fhir-router), real Redis and
 * BullMQ, the real ONNX model, real HTTP. A notification in either of the two walking-skeleton
 * styles ends in one RiskAssessment on the FHIR server whose probability matches the published
 * PCE vector; replaying the same notification writes nothing new.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Bundle, Observation, RiskAssessment } from 'fhir/r4.js';
import { loadConfig } from '../../src/config.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type RunningService } from '../../src/service.ts';
import { backportR4FullResource } from '../support/notifications.ts';
import { expectedRisk, patientBundleFromVector, pceVector, toleranceFor } from '../support/pce-patient.ts';

const JSON_FHIR = { 'content-type': 'application/fhir+json' };

let sandbox: Sandbox;
let service: RunningService;
let notifyBase: string;

async function fhir<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${sandbox.baseUrl}/${path}`, { method, headers: JSON_FHIR, ...(body ? { body: JSON.stringify(body) } : {}) });
  assert.ok(res.ok, `${method} ${path} → ${res.status}`);
  return (await res.json()) as T;
}

async function assessmentsOf(patientId: string): Promise<RiskAssessment[]> {
  const bundle = await fhir<Bundle>('GET', `RiskAssessment?subject=Patient/${patientId}`);
  return (bundle.entry ?? []).map((e) => e.resource as RiskAssessment);
}

async function waitForIdle(): Promise<void> {
  let streak = 0;
  const deadline = Date.now() + 30_000;
  while (streak < 3) {
    assert.ok(Date.now() < deadline, 'pipeline did not go idle within 30 s');
    await new Promise((r) => setTimeout(r, 100));
    streak = (await service.pipeline.idle()) ? streak + 1 : 0;
  }
}

function assertContract(ra: RiskAssessment, patientId: string, basisIncludes: string): void {
  assert.deepEqual(ra.meta?.profile, ['http://fhir-risk.org/fhir/StructureDefinition/fhir-risk-assessment']);
  assert.equal(ra.identifier?.[0]?.system, 'http://fhir-risk.org/fhir/sid/assessment');
  assert.match(ra.identifier?.[0]?.value ?? '', /.{16,}/);
  assert.equal(ra.status, 'final');
  assert.equal(ra.subject.reference, `Patient/${patientId}`);
  assert.ok(ra.occurrenceDateTime);
  assert.equal(ra.method?.coding?.[0]?.system, 'http://fhir-risk.org/fhir/CodeSystem/models');
  assert.equal(ra.method?.coding?.[0]?.code, 'ascvd-pce');
  assert.ok(ra.method?.coding?.[0]?.version);
  const basis = (ra.basis ?? []).map((b) => b.reference ?? '');
  assert.ok(basis.some((b) => b.startsWith(basisIncludes) && b.includes('/_history/')), `basis ${basis.join(', ')} lacks a versioned ${basisIncludes}`);
  const p = ra.prediction?.[0];
  assert.ok(p);
  assert.equal(p.qualitativeRisk?.coding?.[0]?.system, 'http://terminology.hl7.org/CodeSystem/risk-probability');
  assert.equal(p.qualitativeRisk?.coding?.[1]?.system, 'http://fhir-risk.org/fhir/CodeSystem/risk-band');
  const start = Date.parse(p.whenPeriod?.start ?? '');
  const end = Date.parse(p.whenPeriod?.end ?? '');
  const years = (end - start) / (365.25 * 24 * 3600 * 1000);
  assert.ok(Math.abs(years - 10) < 0.01, `whenPeriod spans ${years} years`);
}

before(async () => {
  sandbox = await startSandbox({ port: 0 });
  const config = loadConfig(
    {
      FHIR_BASE_URL: sandbox.baseUrl,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      PORT: '0',
      QUEUE_PREFIX: `test-e2e-${randomUUID().slice(0, 8)}`,
      SCORE_DEBOUNCE_MS: '100',
    },
    { requireFhir: true },
  );
  service = await startService(config, 'all');
  notifyBase = `http://127.0.0.1:${service.port}/notify`;
});

after(async () => {
  await service?.stop();
  await sandbox?.close();
});

describe('walking skeleton: notification → RiskAssessment on the FHIR server', () => {
  it('HAPI R4 rest-hook PUT /notify/Observation/:id writes a PCE assessment matching the published vector, once', async () => {
    const vector = pceVector('pce-cerner-white-male-46');
    const patientId = `e2e-hapi-${randomUUID().slice(0, 8)}`;
    await fhir('POST', '', patientBundleFromVector(vector, patientId, new Date()));
    const tc = await fhir<Observation>('GET', `Observation/${patientId}-tc`);

    const put = () =>
      fetch(`${notifyBase}/Observation/${tc.id}`, { method: 'PUT', headers: JSON_FHIR, body: JSON.stringify(tc) });
    const first = await put();
    assert.equal(first.status, 200);
    const ack = (await first.json()) as { resourceType: string; issue: { severity: string }[] };
    assert.equal(ack.resourceType, 'OperationOutcome');
    assert.equal(ack.issue[0]?.severity, 'information');
    await waitForIdle();

    const written = await assessmentsOf(patientId);
    assert.equal(written.length, 1, 'exactly one RiskAssessment');
    const ra = written[0]!;
    assertContract(ra, patientId, `Observation/${patientId}-tc`);
    const probability = ra.prediction?.[0]?.probabilityDecimal ?? NaN;
    assert.ok(
      Math.abs(probability - expectedRisk(vector)) <= toleranceFor(vector),
      `probability ${probability} vs published ${expectedRisk(vector)} ± ${toleranceFor(vector)}`,
    );

    // The same notification again (HAPI retries, redeliveries): nothing new is written.
    const versionBefore = ra.meta?.versionId;
    assert.equal((await put()).status, 200);
    await waitForIdle();
    const again = await assessmentsOf(patientId);
    assert.equal(again.length, 1);
    assert.equal(again[0]!.meta?.versionId, versionBefore, 'the assessment was not rewritten');
  });

  it('Subscriptions Backport R4 full-resource Bundle POST /notify writes a PCE assessment matching the published vector', async () => {
    const vector = pceVector('pce-preventr-white-female-67');
    const patientId = `e2e-backport-${randomUUID().slice(0, 8)}`;
    await fhir('POST', '', patientBundleFromVector(vector, patientId, new Date()));
    const hdl = await fhir<Observation & { id: string }>('GET', `Observation/${patientId}-hdl`);

    // The fullUrls name another host on purpose: only Type/id may be used, resolved on FHIR_BASE_URL.
    const notification = backportR4FullResource(hdl, { serverBase: 'https://ehr.example.org/fhir', eventNumber: 1 });
    const res = await fetch(notifyBase, { method: 'POST', headers: JSON_FHIR, body: JSON.stringify(notification) });
    assert.equal(res.status, 200);
    await waitForIdle();

    const written = await assessmentsOf(patientId);
    assert.equal(written.length, 1);
    assertContract(written[0]!, patientId, `Observation/${patientId}-hdl`);
    const probability = written[0]!.prediction?.[0]?.probabilityDecimal ?? NaN;
    assert.ok(
      Math.abs(probability - expectedRisk(vector)) <= toleranceFor(vector),
      `probability ${probability} vs published ${expectedRisk(vector)} ± ${toleranceFor(vector)}`,
    );
  });
});
