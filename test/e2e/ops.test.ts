/**
 * Operations, end to end with real parts (sandbox FHIR server, real Redis and BullMQ, real ONNX):
 * backfill (patients, search, group; throttled; resumable), the dead-letter queue (a scoring that
 * fails permanently, listed, then replayed after the EHR recovers), the maintenance schedulers
 * (one across two "pods", a scheduled sweep that scores a patient nobody notified us about), the
 * max-age re-scoring, and the metrics that move meanwhile.
 *
 * The retry budget is shortened through JOB_ATTEMPTS / JOB_BACKOFF_MS, read when jobs.ts loads:
 * hence the environment is set before the dynamic imports below.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { RiskAssessment } from 'fhir/r4.js';
import type { Job } from 'bullmq';

process.env.JOB_ATTEMPTS = '2';
process.env.JOB_BACKOFF_MS = '50';

const { loadConfig } = await import('../../src/config.ts');
const { startHarness } = await import('../support/harness.ts');
const { backfillCommand, stderrProgress } = await import('../../src/commands/backfill.ts');
const { listDeadLetters, replayDeadLetters } = await import('../../src/commands/dlq.ts');
const { startPipeline } = await import('../../src/pipeline/runtime.ts');
const { createEhrClients } = await import('../../src/service.ts');
const { runMaxAgeRescore, RESCORE_SCHEDULER_ID, SWEEP_SCHEDULER_ID } = await import('../../src/pipeline/scheduler.ts');
type Harness = Awaited<ReturnType<typeof startHarness>>;
type Config = ReturnType<typeof loadConfig>;

const MODEL = 'ascvd-pce';
const VECTOR = 'pce-cvrisk-white-male-55-sbp140';
const silent = { resolving: () => undefined, update: () => undefined, end: () => undefined };

function configFor(h: Harness, env: Record<string, string> = {}): Config {
  return loadConfig(
    {
      FHIR_BASE_URL: h.sandbox.baseUrl,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: h.service.pipeline.scores.opts.prefix!,
      PORT: '0',
      ...env,
    },
    { requireFhir: true },
  );
}

async function loadPatients(h: Harness, n: number, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await h.loadVectorPatient(VECTOR, prefix));
  return ids;
}

async function metricValue(h: Harness, line: RegExp): Promise<number> {
  const text = await (await fetch(`${h.serviceUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => line.test(l))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ours = (ras: RiskAssessment[]) => ras.filter((ra) => ra.method?.coding?.[0]?.code === MODEL && ra.status !== 'entered-in-error');

describe('backfill, dead letters, metrics (maintenance schedules off)', () => {
  let h: Harness;
  let config: Config;
  const metricsBefore = { scorings: 0, stage: 0, bands: 0 };

  before(async () => {
    h = await startHarness({ SWEEP_INTERVAL: 'off', RESCORE_INTERVAL: 'off' });
    config = configFor(h);
    metricsBefore.scorings = await metricValue(h, /^fhir_risk_scorings_total\{.*model="ascvd-pce".*outcome="written"/);
    metricsBefore.stage = await metricValue(h, /^fhir_risk_stage_seconds_count\{stage="written"\}/);
    metricsBefore.bands = await metricValue(h, /^fhir_risk_bands_total\{.*model="ascvd-pce"/);
  });
  after(async () => {
    await h?.stop();
  });

  it('--group: patients loaded without events get their RiskAssessments', async () => {
    const ids = await loadPatients(h, 3, 'bf-group');
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    await h.fhir('PUT', `Group/${groupId}`, {
      resourceType: 'Group',
      id: groupId,
      type: 'person',
      actual: true,
      member: [...ids.map((id) => ({ entity: { reference: `Patient/${id}` } })), { entity: { reference: 'Patient/left-the-group' }, inactive: true }],
    });
    await h.waitForIdle();
    for (const id of ids) assert.equal((await h.assessmentsOf(id)).length, 0, 'loading alone produced no assessment (no events)');

    const summary = await backfillCommand(config, { group: `Group/${groupId}`, model: [MODEL], rate: 200, progress: silent });
    assert.deepEqual(
      { patients: summary.patients, scheduled: summary.scheduled, jobs: summary.jobs, skipped: summary.skipped, complete: summary.complete },
      { patients: 3, scheduled: 3, jobs: 3, skipped: 0, complete: true },
    );
    await h.waitForIdle();
    for (const id of ids) assert.equal(ours(await h.assessmentsOf(id)).length, 1, `one assessment for ${id}`);
  });

  it("--search 'Patient?_lastUpdated=gt…' selects only the patients the search finds; --patient drops duplicates", async () => {
    const since = new Date(Date.now() - 1).toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const ids = await loadPatients(h, 2, 'bf-search');
    const summary = await backfillCommand(config, { search: `Patient?_lastUpdated=gt${since}`, model: [MODEL], rate: 200, progress: silent });
    assert.equal(summary.patients, 2, 'only the two loaded after the timestamp');
    await h.waitForIdle();
    for (const id of ids) assert.equal(ours(await h.assessmentsOf(id)).length, 1);

    const dup = await backfillCommand(config, { patient: [ids[0]!, ids[0]!], model: [MODEL], rate: 200, progress: silent });
    assert.equal(dup.patients, 1);
    assert.equal(dup.skipped, 1, 'the duplicate is counted as skipped');
  });

  it('--rate throttles: 6 patients at 20/s take at least 250 ms', async () => {
    const ids = await loadPatients(h, 6, 'bf-rate');
    const started = Date.now();
    const summary = await backfillCommand(config, { patient: ids, model: [MODEL], rate: 20, progress: silent });
    assert.equal(summary.scheduled, 6);
    // Patient n starts n/rate s after the first: the 6th at 250 ms.
    assert.ok(Date.now() - started >= 250, `took ${Date.now() - started} ms`);
    await h.waitForIdle();
  });

  it('--resume continues after the last scheduled patient and skips the ones done', async () => {
    const ids = await loadPatients(h, 5, 'bf-resume');
    const stop = new AbortController();
    const first = await backfillCommand(config, {
      patient: ids,
      model: [MODEL],
      rate: 200,
      signal: stop.signal,
      progress: { ...silent, update: (done) => done >= 2 && stop.abort() },
    });
    assert.equal(first.complete, false);
    assert.equal(first.scheduled, 2);

    const second = await backfillCommand(config, { patient: ids, model: [MODEL], rate: 200, resume: true, progress: silent });
    assert.deepEqual(
      { resumed: second.resumed, scheduled: second.scheduled, skipped: second.skipped, complete: second.complete, patients: second.patients },
      { resumed: true, scheduled: 3, skipped: 2, complete: true, patients: 5 },
    );
    await h.waitForIdle();
    const backfillJobs = (await h.service.pipeline.scores.getCompleted(0, -1)).filter(
      (j: Job) => j.data.cause === 'backfill' && ids.includes(j.data.patientId as string),
    );
    for (const id of ids) {
      assert.equal(backfillJobs.filter((j: Job) => j.data.patientId === id).length, 1, `${id} was scheduled exactly once across both runs`);
      assert.equal(ours(await h.assessmentsOf(id)).length, 1);
    }

    // Resuming a finished run schedules nothing.
    const third = await backfillCommand(config, { patient: ids, model: [MODEL], rate: 200, resume: true, progress: silent });
    assert.equal(third.scheduled, 0);
    assert.equal(third.skipped, 5);
  });

  it('progress on a non-TTY stream: one line per 10 %', () => {
    const out = new PassThrough() as unknown as NodeJS.WriteStream;
    let text = '';
    (out as unknown as PassThrough).on('data', (c: Buffer) => (text += c.toString()));
    const p = stderrProgress(out, 10);
    for (let done = 0; done <= 40; done++) p.update(done, 40);
    p.end();
    const lines = text.trim().split('\n');
    assert.equal(lines.length, 11, text);
    assert.match(lines.at(-1)!, /^backfill: 40\/40 patients \(100 %/);
  });

  it('a scoring that fails permanently is dead-lettered, listed, and after recovery replayed into exactly one assessment', async () => {
    const [patientId] = await loadPatients(h, 1, 'dlq');
    h.sandbox.faults.errorRate = 1; // the EHR answers every request with 500 or 429
    try {
      await h.service.pipeline.scheduler.schedule(patientId!, [MODEL], 'test:dlq', Date.now());
      const letter = await until('the dead letter', async () =>
        (await listDeadLetters(config)).find((l) => (l.data as { patientId?: string }).patientId === patientId),
      );
      assert.equal(letter.queue, 'scores');
      assert.equal(letter.attempts, 2, 'the whole (shortened) retry budget was used');
      assert.match(letter.failedReason, /\S/);
      assert.ok(letter.finishedOn);
    } finally {
      h.sandbox.faults.errorRate = 0;
    }
    assert.equal((await h.assessmentsOf(patientId!)).length, 0);

    const letters = (await listDeadLetters(config)).filter((l) => (l.data as { patientId?: string }).patientId === patientId);
    assert.equal(await replayDeadLetters(config, letters.map((l) => l.id)), 1);
    await h.waitForIdle();
    assert.equal(ours(await h.assessmentsOf(patientId!)).length, 1, 'exactly one RiskAssessment after the replay');
    assert.equal((await listDeadLetters(config)).filter((l) => (l.data as { patientId?: string }).patientId === patientId).length, 0);
  });

  it('the max-age re-scoring schedules patients whose newest assessment is too old, once per max age', async () => {
    const [stale, fresh] = await loadPatients(h, 2, 'rescore');
    await backfillCommand(config, { patient: [stale!, fresh!], model: [MODEL], rate: 200, progress: silent });
    await h.waitForIdle();
    // Pretend 31 days have passed; `fresh` got a newer assessment 1 day "ago".
    const maxAgeMs = 30 * 24 * 3600_000;
    const later = new Date(Date.now() + 31 * 24 * 3600_000);
    const [existing] = ours(await h.assessmentsOf(fresh!));
    await h.fhir('PUT', `RiskAssessment/${existing!.id}-newer`, {
      ...existing,
      id: `${existing!.id}-newer`,
      identifier: [{ ...existing!.identifier![0]!, value: `${existing!.identifier![0]!.value}-newer` }],
      occurrenceDateTime: new Date(later.getTime() - 24 * 3600_000).toISOString(),
    });
    const { results } = createEhrClients(config);
    const scheduled: { patientId: string; modelIds: readonly string[] }[] = [];
    const deps = {
      results,
      scheduler: {
        schedule: async (patientId: string, modelIds: readonly string[], cause: string, at: number) => {
          scheduled.push({ patientId, modelIds });
          await h.service.pipeline.scheduler.schedule(patientId, modelIds, cause, at);
        },
      },
      models: h.service.models,
      redis: h.service.pipeline.producer,
      prefix: config.queuePrefix,
      maxAgeMs,
      now: () => later,
    };
    const rescoredBefore = await metricValue(h, /^fhir_risk_rescores_scheduled_total\{model="ascvd-pce"\}/);
    const first = await runMaxAgeRescore(deps);
    const mine = scheduled.filter((s) => s.patientId === stale || s.patientId === fresh);
    assert.deepEqual(mine, [{ patientId: stale!, modelIds: [MODEL] }], 'only the patient without a newer assessment');
    assert.ok(first.scheduled >= 1);
    assert.ok((await metricValue(h, /^fhir_risk_rescores_scheduled_total\{model="ascvd-pce"\}/)) >= rescoredBefore + 1);
    await h.waitForIdle();

    scheduled.length = 0;
    const second = await runMaxAgeRescore(deps);
    assert.equal(second.scheduled, 0, 'already re-scored: next look in one max age');
    assert.equal(scheduled.length, 0);
  });

  it('the metrics in /metrics moved during the run', async () => {
    assert.ok((await metricValue(h, /^fhir_risk_scorings_total\{.*model="ascvd-pce".*outcome="written"/)) > metricsBefore.scorings);
    assert.ok((await metricValue(h, /^fhir_risk_stage_seconds_count\{stage="written"\}/)) > metricsBefore.stage);
    assert.ok((await metricValue(h, /^fhir_risk_bands_total\{.*model="ascvd-pce"/)) > metricsBefore.bands);
  });
});

describe('maintenance schedules', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ SWEEP_INTERVAL: '1000', RESCORE_INTERVAL: 'PT1H' });
  });
  after(async () => {
    await h?.stop();
  });

  it('two pods register one scheduler per task, and the scheduled sweep scores a patient nobody notified us about', async () => {
    const config = configFor(h, { SWEEP_INTERVAL: '1000', RESCORE_INTERVAL: 'PT1H' });
    const { ehr, results } = createEhrClients(config);
    const secondPod = await startPipeline({ config, models: h.service.models, valueSets: h.service.valueSets, ehr, results, runWorkers: true });
    try {
      const maintenance = h.service.pipeline.maintenance;
      const schedulers = await maintenance.getJobSchedulers(0, -1);
      assert.deepEqual(schedulers.map((s) => s.key).sort(), [RESCORE_SCHEDULER_ID, SWEEP_SCHEDULER_ID].sort());
      assert.equal(schedulers.find((s) => s.key === SWEEP_SCHEDULER_ID)?.every, 1000);
      const pending = (await maintenance.getDelayed(0, -1)).filter((j) => j.repeatJobKey === SWEEP_SCHEDULER_ID);
      assert.equal(pending.length, 1, 'one pending sweep run, not one per pod');

      const [patientId] = await loadPatients(h, 1, 'sweep');
      await until('a completed scheduled sweep', async () => (await maintenance.getCompleted(0, -1)).some((j) => j.name === 'sweep'));
      await h.waitForAssessments(patientId!, (ras) => ours(ras).length === 1, 20_000);
      const completedSweeps = await metricValue(h, /^fhir_risk_maintenance_runs_total\{task="sweep",outcome="(done|skipped-locked)"\}/);
      assert.ok(completedSweeps >= 1);
    } finally {
      await secondPod.close();
    }
  });

  it('SWEEP_INTERVAL=off removes the sweep scheduler', async () => {
    const config = configFor(h, { SWEEP_INTERVAL: 'off', RESCORE_INTERVAL: 'PT1H' });
    const { ehr, results } = createEhrClients(config);
    const pod = await startPipeline({ config, models: h.service.models, valueSets: h.service.valueSets, ehr, results, runWorkers: true });
    try {
      const keys = (await h.service.pipeline.maintenance.getJobSchedulers(0, -1)).map((s) => s.key);
      assert.deepEqual(keys, [RESCORE_SCHEDULER_ID]);
    } finally {
      await pod.close();
    }
  });

  it('config: durations are ISO 8601 or milliseconds; months and nonsense are refused with one line', () => {
    const base = { FHIR_BASE_URL: 'http://ehr.example/fhir' };
    const c = loadConfig({ ...base, SWEEP_INTERVAL: 'PT15M', RESCORE_INTERVAL: '0', RESCORE_MAX_AGE: 'P1W2D' }, { requireFhir: true });
    assert.deepEqual([c.sweepIntervalMs, c.rescoreIntervalMs, c.rescoreMaxAgeMs], [900_000, 0, 9 * 24 * 3600_000]);
    const d = loadConfig(base, { requireFhir: true });
    assert.deepEqual([d.sweepIntervalMs, d.rescoreIntervalMs, d.rescoreMaxAgeMs], [900_000, 3600_000, 30 * 24 * 3600_000]);
    assert.throws(() => loadConfig({ ...base, RESCORE_MAX_AGE: 'P1M' }, { requireFhir: true }), /RESCORE_MAX_AGE: an ISO 8601 duration/);
    assert.throws(() => loadConfig({ ...base, RESCORE_MAX_AGE: 'off' }, { requireFhir: true }), /RESCORE_MAX_AGE/);
    assert.throws(() => loadConfig({ ...base, SWEEP_INTERVAL: 'soon' }, { requireFhir: true }), /SWEEP_INTERVAL/);
  });
});
