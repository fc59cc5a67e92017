/**
 * Two scorings of the same patient and model at the same moment end in exactly one RiskAssessment,
 * in both write modes, even on a FHIR server whose conditional create is not atomic.
 *
 * The sandbox's conditional create is atomic (its writes are serialized), so the writes go through
 * a delaying proxy that emulates a non-atomic server (search → 300 ms → create). Reads of patient
 * data go to the sandbox directly. "Two workers" are two sets of clients, as two pods would have:
 * nothing in memory is shared between them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RiskAssessment } from 'fhir/r4.js';
import { RetryableError } from '../../src/errors.ts';
import { FhirKitEhrClient } from '../../src/fhir/ehr-client.ts';
import type { ScoreJobData } from '../../src/pipeline/jobs.ts';
import { processScore, type ScoreProcessorDeps } from '../../src/pipeline/score-worker.ts';
import { validateRiskAssessment } from '../../src/writeback/validate.ts';
import { startDelayingProxy, type DelayingProxy } from '../support/delaying-proxy.ts';
import { startHarness, type Harness } from '../support/harness.ts';

let h: Harness;
let proxy: DelayingProxy;
before(async () => {
  h = await startHarness();
  proxy = await startDelayingProxy({ target: h.sandbox.baseUrl, delayMs: 300 });
  // Warm up (ONNX session, conformance indexing) so the races below race on the writes alone. The
  // first scoring blocks the event loop for seconds, which can make the in-process sandbox reset an
  // idle keep-alive connection: a transient failure a worker would retry, so retry it here too.
  const warm = await h.loadVectorPatient('pce-cerner-white-male-46', 'race-warm-up');
  for (let attempt = 1; ; attempt++) {
    try {
      await score(job(warm), { ...worker('put'), results: new FhirKitEhrClient({ baseUrl: h.sandbox.baseUrl }) });
      break;
    } catch (err) {
      if (!(err instanceof RetryableError) || attempt >= 3) throw err;
    }
  }
});
after(async () => {
  await proxy?.close();
  await h?.stop();
});

/** One worker's dependencies: its own EHR and results clients (the results through the proxy). */
function worker(writeMode: ScoreProcessorDeps['writeMode']): ScoreProcessorDeps {
  return {
    ehr: new FhirKitEhrClient({ baseUrl: h.sandbox.baseUrl }),
    results: new FhirKitEhrClient({ baseUrl: proxy.baseUrl }),
    models: h.service.models,
    valueSets: h.service.valueSets,
    shadow: new Set(),
    writeMode,
  };
}

function job(patientId: string): ScoreJobData {
  return { patientId, modelId: 'ascvd-pce', cause: 'write-race test', receivedAt: Date.now() };
}

/** Scores the job's one model and returns its outcome. */
async function score(data: ScoreJobData, deps: ScoreProcessorDeps): Promise<string | undefined> {
  return (await processScore(data, deps)).get('ascvd-pce');
}

/** What the server holds for the patient, read from the sandbox itself (not through the proxy). */
async function storedFor(patientId: string): Promise<RiskAssessment[]> {
  return h.assessmentsOf(patientId);
}

describe('the non-atomic server double', () => {
  it('really is non-atomic: two raw concurrent conditional creates make two resources', async () => {
    const client = new FhirKitEhrClient({ baseUrl: proxy.baseUrl });
    const patientId = `race-raw-${Date.now()}`;
    const body: RiskAssessment = {
      resourceType: 'RiskAssessment',
      status: 'final',
      subject: { reference: `Patient/${patientId}` },
      identifier: [{ system: 'http://example.org/race', value: patientId }],
    };
    const through = proxy.counters.createdThrough;
    await Promise.all([0, 1].map(() => client.createIfNoneExist(body, `identifier=http://example.org/race|${patientId}`)));
    assert.equal(proxy.counters.createdThrough - through, 2, 'both passed the existence check');
    const stored = await h.fhir<{ entry?: unknown[] }>('GET', `RiskAssessment?identifier=${encodeURIComponent(`http://example.org/race|${patientId}`)}`);
    assert.equal(stored.entry?.length, 2, 'so a naive client would write duplicates here');
  });
});

describe('two scorings of the same patient and model at once → exactly one RiskAssessment', () => {
  for (const writeMode of ['conditional-create', 'put'] as const) {
    it(`${writeMode}: one worker running both jobs concurrently`, async () => {
      const patientId = await h.loadVectorPatient('pce-cerner-white-male-46', `race-one-${writeMode}`);
      const deps = worker(writeMode);
      const through = proxy.counters.createdThrough;
      const outcomes = await Promise.all([score(job(patientId), deps), score(job(patientId), deps)]);
      assert.deepEqual(outcomes, ['written', 'written']);
      const stored = await storedFor(patientId);
      assert.equal(stored.length, 1, `exactly one RiskAssessment (have ${stored.length})`);
      validateRiskAssessment(stored[0]!);
      if (writeMode === 'conditional-create') {
        assert.equal(proxy.counters.createdThrough - through, 1, 'one worker sends one create: the second write waits for the first');
      }
    });

    it(`${writeMode}: two workers (no shared memory) at the same moment`, async () => {
      const patientId = await h.loadVectorPatient('pce-cerner-white-male-46', `race-two-${writeMode}`);
      const through = proxy.counters.createdThrough;
      const outcomes = await Promise.all([score(job(patientId), worker(writeMode)), score(job(patientId), worker(writeMode))]);
      assert.deepEqual(outcomes, ['written', 'written']);
      const stored = await storedFor(patientId);
      assert.equal(stored.length, 1, `exactly one RiskAssessment (have ${stored.length})`);
      validateRiskAssessment(stored[0]!);
      if (writeMode === 'conditional-create') {
        assert.equal(proxy.counters.createdThrough - through, 2, 'both creates reached the server: the duplicate was found and removed');
      }

      // A third scoring later finds it and adds nothing.
      assert.equal(await score(job(patientId), worker(writeMode)), 'written');
      assert.equal((await storedFor(patientId)).length, 1);
    });
  }
});

describe('duplicates left by an earlier race', () => {
  it('conditional-create: If-None-Exist matching two (HTTP 412) is repaired to one, the earliest', async () => {
    const patientId = await h.loadVectorPatient('pce-cerner-white-male-46', 'race-412');
    assert.equal(await score(job(patientId), worker('put')), 'written');
    const [first] = await storedFor(patientId);
    assert.ok(first?.id);
    const { id: _id, meta: _meta, ...copy } = first;
    await h.fhir('POST', 'RiskAssessment', copy);
    assert.equal((await storedFor(patientId)).length, 2, 'a duplicate, as a non-atomic server leaves after a race');

    assert.equal(await score(job(patientId), worker('conditional-create')), 'written');
    const stored = await storedFor(patientId);
    assert.deepEqual(
      stored.map((ra) => ra.id),
      [first.id],
      'the earliest copy survives',
    );
  });
});
