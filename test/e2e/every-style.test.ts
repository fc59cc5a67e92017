/**
 * Every delivery style and content level, about a sandbox patient with all ascvd-pce inputs,
 * followed all the way to the RiskAssessment on the FHIR server (the reference fixtures alone
 * only prove "accepted": they concern patients the sandbox does not have). Then the lifecycle
 * users rely on: deletes and entered-in-error withdraw assessments, an amended value adds one,
 * and Redis down means 503, never 2xx.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Observation, RiskAssessment } from 'fhir/r4.js';
import { loadConfig } from '../../src/config.ts';
import { startService } from '../../src/service.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import {
  azureCloudEvents,
  azureEventGrid,
  backportR4,
  backportR4B,
  gcpPubSub,
  hapiDelete,
  hapiPing,
  hapiPut,
  medplum,
  r5,
  send,
  type NotificationRequest,
} from '../support/notifications.ts';
import { expectedRisk, pceVector, toleranceFor } from '../support/pce-patient.ts';

const SECRET = 'e2e-notify-secret-0123456789';
const BEARER = { authorization: `Bearer ${SECRET}` };
const vector = pceVector('pce-cvrisk-white-male-55-sbp140');

let h: Harness;
let eventNumber = 0;
before(async () => {
  h = await startHarness({ NOTIFY_SECRET: SECRET });
});
after(async () => {
  await h?.stop();
});

type Obs = Observation & { id: string };

/** Each case builds its notification from the patient's total-cholesterol Observation. */
const cases: [string, (obs: Obs) => NotificationRequest, Record<string, string>][] = [
  ['HAPI R4 rest-hook PUT with payload', (o) => hapiPut(o), BEARER],
  ['HAPI R4 rest-hook without payload (empty POST → sweep)', () => hapiPing(), BEARER],
  ['Backport R4 full-resource', (o) => backportR4(o, 'full-resource', ++eventNumber), BEARER],
  ['Backport R4 id-only', (o) => backportR4(o, 'id-only', ++eventNumber), BEARER],
  ['Backport R4 empty (→ sweep)', (o) => backportR4(o, 'empty', ++eventNumber), BEARER],
  ['Backport R4B full-resource', (o) => backportR4B(o, 'full-resource', ++eventNumber), BEARER],
  ['Backport R4B id-only', (o) => backportR4B(o, 'id-only', ++eventNumber), BEARER],
  ['R5 full-resource', (o) => r5(o, 'full-resource', ++eventNumber), BEARER],
  ['R5 id-only', (o) => r5(o, 'id-only', ++eventNumber), BEARER],
  ['R5 empty (→ sweep)', (o) => r5(o, 'empty', ++eventNumber), BEARER],
  ['Medplum signed bare resource', (o) => medplum(o, SECRET), {}],
  ['Azure Event Grid (ids only)', (o) => azureEventGrid(o, SECRET), {}],
  ['Azure CloudEvents (ids only)', (o) => azureCloudEvents(o, SECRET), {}],
  ['Google Pub/Sub push, FullResource', (o) => gcpPubSub(o, 'FullResource', SECRET), {}],
  ['Google Pub/Sub push, NameOnly', (o) => gcpPubSub(o, 'NameOnly', SECRET), {}],
];

describe('every delivery style ends in a RiskAssessment', () => {
  for (const [name, build, headers] of cases) {
    it(name, async () => {
      const patientId = await h.loadVectorPatient(vector, 'style');
      const tc = await h.fhir<Obs>('GET', `Observation/${patientId}-tc`);
      const res = await send(h.serviceUrl, build(tc), headers);
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { resourceType: string; issue: { severity: string }[] };
      assert.equal(body.resourceType, 'OperationOutcome');
      assert.equal(body.issue[0]?.severity, 'information');
      const [ra] = await h.waitForAssessments(patientId, (ras) => ras.length >= 1);
      const probability = ra!.prediction?.[0]?.probabilityDecimal ?? NaN;
      assert.ok(Math.abs(probability - expectedRisk(vector)) <= toleranceFor(vector), `probability ${probability}`);
      await h.waitForIdle();
      assert.equal((await h.assessmentsOf(patientId)).length, 1, 'exactly one RiskAssessment');
    });
  }

  it('refuses a notification without the secret (401) and stores nothing', async () => {
    const patientId = await h.loadVectorPatient(vector, 'noauth');
    const tc = await h.fhir<Obs>('GET', `Observation/${patientId}-tc`);
    const res = await send(h.serviceUrl, hapiPut(tc));
    assert.equal(res.status, 401);
    await h.waitForIdle();
    assert.equal((await h.assessmentsOf(patientId)).length, 0);
  });
});

describe('lifecycle of an assessment', () => {
  const final = (ras: RiskAssessment[]) => ras.filter((r) => r.status === 'final');

  it('a deleted input withdraws the assessment (entered-in-error) and the re-score without it writes nothing', async () => {
    const patientId = await h.loadVectorPatient(vector, 'delete');
    const tc = await h.fhir<Obs>('GET', `Observation/${patientId}-tc`);
    assert.equal((await send(h.serviceUrl, hapiPut(tc), BEARER)).status, 200);
    await h.waitForAssessments(patientId, (ras) => final(ras).length === 1);

    await fetch(`${h.sandbox.baseUrl}/Observation/${tc.id}`, { method: 'DELETE' });
    assert.equal((await send(h.serviceUrl, hapiDelete('Observation', tc.id), BEARER)).status, 200);
    const ras = await h.waitForAssessments(patientId, (r) => r.length === 1 && r[0]!.status === 'entered-in-error');
    await h.waitForIdle();
    assert.equal(ras.length, 1, 'no new assessment: total cholesterol is now missing');
  });

  it('an input marked entered-in-error withdraws the assessment', async () => {
    const patientId = await h.loadVectorPatient(vector, 'eie');
    const hdl = await h.fhir<Obs>('GET', `Observation/${patientId}-hdl`);
    assert.equal((await send(h.serviceUrl, hapiPut(hdl), BEARER)).status, 200);
    await h.waitForAssessments(patientId, (ras) => final(ras).length === 1);

    const withdrawn = await h.fhir<Obs>('PUT', `Observation/${hdl.id}`, { ...hdl, meta: undefined, status: 'entered-in-error' });
    assert.equal((await send(h.serviceUrl, hapiPut(withdrawn), BEARER)).status, 200);
    await h.waitForAssessments(patientId, (r) => r.length === 1 && r[0]!.status === 'entered-in-error');
  });

  it('an amended value adds a new assessment and keeps the previous one', async () => {
    const patientId = await h.loadVectorPatient(vector, 'amend');
    const tc = await h.fhir<Obs>('GET', `Observation/${patientId}-tc`);
    assert.equal((await send(h.serviceUrl, hapiPut(tc), BEARER)).status, 200);
    const [first] = await h.waitForAssessments(patientId, (ras) => final(ras).length === 1);

    const amended = await h.fhir<Obs>('PUT', `Observation/${tc.id}`, {
      ...tc,
      meta: undefined,
      status: 'amended',
      valueQuantity: { ...tc.valueQuantity, value: 260 },
    });
    assert.equal((await send(h.serviceUrl, hapiPut(amended), BEARER)).status, 200);
    const ras = await h.waitForAssessments(patientId, (r) => final(r).length === 2);
    const second = ras.find((r) => r.id !== first!.id)!;
    assert.ok(second.prediction![0]!.probabilityDecimal! > first!.prediction![0]!.probabilityDecimal!, 'higher cholesterol, higher risk');
    assert.ok(second.basis?.some((b) => b.reference === `Observation/${tc.id}/_history/${amended.meta?.versionId}`));
  });
});

describe('Redis unavailable', () => {
  it('answers 503 with Retry-After, never 2xx', async () => {
    const config = loadConfig(
      { FHIR_BASE_URL: h.sandbox.baseUrl, REDIS_URL: 'redis://127.0.0.1:1', PORT: '0', QUEUE_PREFIX: 'test-redis-down' },
      { requireFhir: true },
    );
    const api = await startService(config, 'api');
    try {
      const patientId = await h.loadVectorPatient(vector, 'redis-down');
      const tc = await h.fhir<Obs>('GET', `Observation/${patientId}-tc`);
      const res = await send(`http://127.0.0.1:${api.port}`, hapiPut(tc));
      assert.equal(res.status, 503);
      assert.ok(Number(res.headers.get('retry-after')) > 0);
      const body = (await res.json()) as { resourceType: string };
      assert.equal(body.resourceType, 'OperationOutcome');
      const ready = await fetch(`http://127.0.0.1:${api.port}/readyz`);
      assert.equal(ready.status, 503);
    } finally {
      await api.stop();
    }
  });
});
