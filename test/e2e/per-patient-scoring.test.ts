/**
 * Scoring is per patient: every model a patient's notifications triggered within the debounce is
 * scored by one job with one FHIR read, and a notification that carried its resource is scheduled
 * by ingress itself (no events job). Real sandbox FHIR server, real Redis and BullMQ, real models.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Job } from 'bullmq';
import type { Observation } from 'fhir/r4.js';
import { startHarness, type Harness } from '../support/harness.ts';
import { hapiPut, send } from '../support/notifications.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

async function scoreJobsOf(patientId: string): Promise<Job[]> {
  const jobs = await h.service.pipeline.scores.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed']);
  return jobs.filter((j) => j.data.patientId === patientId);
}

describe('one scoring job per patient', () => {
  it('scores every model two notifications triggered with one job, and queues no events job for them', async () => {
    const patientId = await h.loadVectorPatient('pce-cerner-white-male-46', 'per-patient');
    const [tc, bp] = await Promise.all(['tc', 'bp'].map((s) => h.fhir<Observation & { id: string }>('GET', `Observation/${patientId}-${s}`)));
    const answers = await Promise.all([send(h.serviceUrl, hapiPut(tc!)), send(h.serviceUrl, hapiPut(bp!))]);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200],
    );
    await h.waitForIdle();

    const jobs = await scoreJobsOf(patientId);
    assert.equal(jobs.length, 1, `one scoring job for both notifications (found ${jobs.length})`);
    const outcomes = jobs[0]!.returnvalue as Record<string, string>;
    // TC triggers both cardiovascular models; the BP panel also triggers NEWS2 and qSOFA, which do not apply here.
    assert.deepEqual(Object.keys(outcomes).sort(), ['ascvd-pce', 'news2', 'prevent-cvd', 'qsofa']);
    assert.equal(outcomes['ascvd-pce'], 'written');
    assert.equal(outcomes.news2, 'not-applicable');

    const events = await h.service.pipeline.events.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed']);
    assert.equal(events.filter((j) => j.data.id === tc!.id || j.data.id === bp!.id).length, 0, 'ingress scheduled them directly');
  });

  it('an older version arriving late schedules nothing; a newer one is scored from what the EHR holds', async () => {
    const patientId = await h.loadVectorPatient('pce-cerner-white-male-46', 'per-patient-stale');
    const tc = await h.fhir<Observation & { id: string }>('GET', `Observation/${patientId}-tc`);
    const version = Number(tc.meta?.versionId);
    assert.ok(Number.isInteger(version), 'the sandbox gives numeric versions');
    assert.equal((await send(h.serviceUrl, hapiPut(tc))).status, 200);
    await h.waitForIdle();
    assert.equal((await scoreJobsOf(patientId)).length, 1);
    const written = await h.assessmentsOf(patientId);

    // A redelivery of an older version (a server's late retry): acknowledged, dropped as stale.
    const older = { ...tc, meta: { ...tc.meta, versionId: String(version - 1) } };
    assert.equal((await send(h.serviceUrl, hapiPut(older))).status, 200);
    await h.waitForIdle();
    assert.equal((await scoreJobsOf(patientId)).length, 1, 'no scoring for a stale version');

    // A notification naming a newer version: scored again. A scoring always reads the patient's
    // current data, which has not changed on the server, so nothing is rewritten.
    const newer = { ...tc, meta: { ...tc.meta, versionId: String(version + 1) } };
    assert.equal((await send(h.serviceUrl, hapiPut(newer))).status, 200);
    await h.waitForIdle();
    const jobs = await scoreJobsOf(patientId);
    assert.equal(jobs.length, 2);
    const latest = jobs.sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0))[0]!;
    assert.equal((latest.returnvalue as Record<string, string>)['ascvd-pce'], 'unchanged');
    assert.deepEqual(
      (await h.assessmentsOf(patientId)).map((ra) => ra.id).sort(),
      written.map((ra) => ra.id).sort(),
    );
  });
});
