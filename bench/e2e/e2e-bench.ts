/**
 * Benchmark 2 (end to end) and 4 (memory), on real parts: the sandbox FHIR server (child
 * process), `fhir-risk start` (child process: API + workers), real Redis, the real models.
 *
 * 1. Load the burst and latency populations into the sandbox (no Subscription: the benchmark
 *    sends the notifications itself).
 * 2. Burst: 10 PUT notifications per patient over TC/HDL/BP/smoking, as fast as the service takes
 *    them; wait until every (patient, applicable model) has its RiskAssessment and the queues are
 *    idle; check on the sandbox that there is exactly one per (patient, model).
 * 3. Latency: one notification per fresh patient at a steady rate; notification → RiskAssessment
 *    committed on the sandbox, per (patient, model).
 * 4. Peak RSS (VmHWM) of the service process, then stop it.
 * 5. The limit, alone: the sandbox's own capacity for the requests the burst needed (fhir-limit.ts).
 */
import { Queue } from 'bullmq';
import type { Bundle, RiskAssessment } from 'fhir/r4.js';
import { Redis } from 'ioredis';
import { EVENTS_QUEUE, SCORES_QUEUE } from '../../src/pipeline/jobs.ts';
import { deleteKeys, REDIS_URL, redisCpuMs, uniquePrefix } from '../lib/redis.ts';
import { startServiceChild, sumMetric, type ServiceChild } from '../lib/service.ts';
import { percentile, ratio, round, sleep } from '../lib/stats.ts';
import { measureFhirLimit } from './fhir-limit.ts';
import { notify, notifyAll, notifyAtRate, retried, type Notification } from './notify.ts';
import { APPLICABLE_MODELS, TRIGGER_SUFFIXES, generatePatients, loadPatients, type BenchPatient } from './patients.ts';
import { startSandboxProcess, type SandboxHandle } from './sandbox-handle.ts';
import type { RaWrite } from './sandbox-protocol.ts';

export interface E2eOptions {
  patients: number;
  notificationsPerPatient: number;
  latencyPatients: number;
  latencyRatePerSecond: number;
  workerConcurrency: number;
  scoreDebounceMs: number;
  limitSeconds: number;
  /** Notifications in flight during the burst. */
  burstConcurrency: number;
  topology: Topology;
}

/**
 * How the service runs: `start` is API and workers in one process (one core at most); `split` is
 * one `serve` and one `worker` process, the Helm chart's api and worker Deployments.
 */
export type Topology = 'start' | 'split';

/** The running service, whatever its topology. */
interface Deployment {
  /** Where notifications go (the API). */
  readonly notifyUrl: string;
  /** Whose /metrics counts the scorings (the workers). */
  readonly metricsUrl: string;
  /** CPU ms of all its processes. */
  cpuMs(): number;
  peakRssMiB(): Record<string, number>;
  stop(): Promise<void>;
}

async function startDeployment(
  topology: Topology,
  start: (command: 'start' | 'serve' | 'worker', name: string) => Promise<ServiceChild>,
): Promise<Deployment> {
  const parts: [string, ServiceChild][] = [];
  try {
    if (topology === 'start') parts.push(['start', await start('start', 'e2e-service')]);
    else parts.push(['serve', await start('serve', 'e2e-api')], ['worker', await start('worker', 'e2e-worker')]);
  } catch (err) {
    await Promise.all(parts.map(([, p]) => p.child.stop()));
    throw err;
  }
  const [, api] = parts[0] as [string, ServiceChild];
  const [, workers] = parts.at(-1) as [string, ServiceChild];
  return {
    notifyUrl: api.url,
    metricsUrl: workers.url,
    cpuMs: () => parts.reduce((sum, [, p]) => sum + p.child.cpuMs(), 0),
    peakRssMiB: () => Object.fromEntries(parts.map(([name, p]) => [name, p.child.peakRssMiB()])),
    stop: async () => {
      await Promise.all(parts.map(([, p]) => p.child.stop()));
    },
  };
}

export interface E2eResult {
  readonly patients: number;
  readonly notifications: number;
  readonly burstSendSeconds: number;
  /** Notifications answered 503 during the burst (and retried by the sender after Retry-After). */
  readonly burstRetried503: number;
  /** First scoring of a fresh process beyond the debounce: one-off start-up work on the first job. */
  readonly coldStartMs: number;
  /** Score jobs the service ran (fhir_risk_scorings_total, every outcome). */
  readonly scorings: number;
  readonly scoringsByOutcome: Record<string, number>;
  readonly assessmentsExpected: number;
  readonly assessmentsFound: number;
  /** (patient, model) pairs with more than one RiskAssessment, or without one. */
  readonly duplicates: number;
  readonly missing: number;
  /** RiskAssessment writes that updated an existing one (a re-write of the same result). */
  readonly rewrites: number;
  readonly exactlyOnce: boolean;
  /** Scorings per second over the scoring window (first batch read → last write). */
  readonly scoringsPerSecond: number;
  readonly scoringWindowSeconds: number;
  /** Burst start → last RiskAssessment written. */
  readonly burstTotalSeconds: number;
  /** The sandbox alone: scorings/s its capacity for the burst's requests allows (fhir-limit.ts). */
  readonly limitScoringsPerSecond: number;
  /** The sandbox alone: patient cycles (one read + the PUTs) per second. */
  readonly limitCyclesPerSecond: number;
  readonly scoringsByModel: Record<string, number>;
  readonly ratio: number;
  /** Sandbox requests during the burst / scorings. */
  readonly fhirRequestsPerScoring: number;
  readonly fhirRequestsByInteraction: Record<string, number>;
  /**
   * CPU time per scoring during the burst (user + system), of the service process (ingest, event
   * worker and score worker together) and of the sandbox: which of the two is the bottleneck.
   */
  readonly cpuMsPerScoring: { readonly service: number; readonly sandbox: number; readonly redis: number; readonly loadGenerator: number };
  /**
   * CPU cores the burst kept busy, all parts together (service, sandbox, Redis, and this process,
   * which sends the notifications and polls): near the machine's core count, the machine is the limit.
   */
  readonly coresBusy: number;
  readonly latency: { readonly samples: number; readonly p50Ms: number; readonly p95Ms: number; readonly maxMs: number; readonly goalP95Ms: number };
  /** `start`: one process; `split`: `serve` + `worker`, as the Helm chart deploys them. */
  readonly topology: Topology;
  /** Sum over the processes of the deployment. */
  readonly peakRssMiB: number;
  readonly peakRssByProcessMiB: Record<string, number>;
  /** The service's memory once the e2e is done (its own /metrics): what is live vs what the peak was. */
  readonly memoryAtEnd: { readonly rssMiB: number; readonly heapUsedMiB: number; readonly heapTotalMiB: number; readonly externalMiB: number };
}

/** 10 per patient by default: TC, HDL, BP, smoking as versions 1, 2, 3… in that rotation, patient after patient. */
function burstNotifications(patients: readonly BenchPatient[], perPatient: number): Notification[] {
  return patients.flatMap((p) =>
    Array.from({ length: perPatient }, (_, i) => {
      const suffix = TRIGGER_SUFFIXES[i % TRIGGER_SUFFIXES.length] as (typeof TRIGGER_SUFFIXES)[number];
      return { patientId: p.id, observation: p.observations[suffix], version: Math.floor(i / TRIGGER_SUFFIXES.length) + 1 };
    }),
  );
}

async function queuesIdle(queues: readonly Queue[]): Promise<boolean> {
  for (const q of queues) {
    const counts = await q.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'waiting-children');
    if (Object.values(counts).some((n) => n > 0)) return false;
  }
  return true;
}

/** Waits until `expected` distinct (subject, model) writes of `subjects` are committed and the queues stay idle. */
async function waitForAssessments(
  sandbox: SandboxHandle,
  queues: readonly Queue[],
  subjects: ReadonlySet<string>,
  expected: number,
  timeoutMs: number,
): Promise<RaWrite[]> {
  const deadline = Date.now() + timeoutMs;
  let idleStreak = 0;
  for (;;) {
    const writes = (await sandbox.writes()).filter((w) => subjects.has(w.subject));
    const distinct = new Set(writes.map((w) => `${w.subject}|${w.model}`)).size;
    idleStreak = distinct >= expected && (await queuesIdle(queues)) ? idleStreak + 1 : 0;
    if (idleStreak >= 3) return writes;
    if (Date.now() > deadline) throw new Error(`only ${distinct} of ${expected} RiskAssessments after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** Every RiskAssessment on the sandbox, read through its FHIR search API (following `next`). */
async function allAssessments(baseUrl: string): Promise<RiskAssessment[]> {
  const found: RiskAssessment[] = [];
  let url: string | undefined = `${baseUrl}/RiskAssessment?_count=1000`;
  while (url) {
    const res = await fetch(url, { headers: { accept: 'application/fhir+json' } });
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    const bundle = (await res.json()) as Bundle;
    for (const e of bundle.entry ?? []) if (e.resource?.resourceType === 'RiskAssessment') found.push(e.resource);
    url = bundle.link?.find((l) => l.relation === 'next')?.url;
  }
  return found;
}

function diffCounters(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
}

export async function runE2eBench(opts: E2eOptions, log: (line: string) => void): Promise<E2eResult> {
  const prefix = uniquePrefix('e2e');
  const sandbox = await startSandboxProcess();
  let service: Deployment | undefined;
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queues = [EVENTS_QUEUE, SCORES_QUEUE].map((name) => new Queue(name, { connection, prefix }));
  try {
    const burstPatients = generatePatients(`b${prefix.slice(-8)}`, opts.patients, 1);
    const latencyPatients = generatePatients(`l${prefix.slice(-8)}`, opts.latencyPatients, 2);
    const warmupPatients = generatePatients(`w${prefix.slice(-8)}`, 1, 3);
    let t = performance.now();
    await loadPatients(sandbox.baseUrl, [...burstPatients, ...latencyPatients, ...warmupPatients]);
    log(`  e2e: loaded ${burstPatients.length + latencyPatients.length + 1} patients in ${round((performance.now() - t) / 1000)} s`);

    const serviceEnv = {
      WORKER_CONCURRENCY: String(opts.workerConcurrency),
      SCORE_DEBOUNCE_MS: String(opts.scoreDebounceMs),
      // BENCH_SERVICE_NODE_OPTIONS: node flags for the service only (e.g. --max-old-space-size=128).
      ...(process.env.BENCH_SERVICE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVICE_NODE_OPTIONS } : {}),
    };
    // BENCH_CPU_PROF=<dir>: write V8 CPU profiles of the service (open them in Chrome DevTools).
    const nodeArgs = process.env.BENCH_CPU_PROF ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] } : {};
    service = await startDeployment(opts.topology, (command, name) =>
      startServiceChild(command, { name, fhirBaseUrl: sandbox.baseUrl, queuePrefix: prefix, env: serviceEnv, ...nodeArgs }),
    );

    // ---- warm-up: the first scoring of a process pays one-off costs (see coldStartMs)
    const warm = warmupPatients[0] as BenchPatient;
    const warmSentAt = await notify(service.notifyUrl, { patientId: warm.id, observation: warm.observations.tc, version: 1 });
    const warmWrites = await waitForAssessments(sandbox, queues, new Set([`Patient/${warm.id}`]), APPLICABLE_MODELS.length, 60_000);
    const coldStartMs = Math.min(...warmWrites.map((w) => w.at)) - warmSentAt - opts.scoreDebounceMs;
    const metricsBefore = await (await fetch(`${service.metricsUrl}/metrics`)).text();

    // ---- burst
    const notifications = burstNotifications(burstPatients, opts.notificationsPerPatient);
    const burstSubjects = new Set(burstPatients.map((p) => `Patient/${p.id}`));
    const expected = burstPatients.length * APPLICABLE_MODELS.length;
    const before = await sandbox.counters();
    const ownCpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const cpuBefore = { service: service.cpuMs(), sandbox: sandbox.child.cpuMs(), redis: await redisCpuMs(connection), loadGenerator: ownCpu() };
    await sandbox.mark();
    retried.count = 0;
    const burstStart = Date.now();
    const burstSendSeconds = await notifyAll(service.notifyUrl, notifications, opts.burstConcurrency);
    log(`  e2e: ${notifications.length} notifications sent in ${round(burstSendSeconds)} s; waiting for ${expected} assessments`);
    const burstWrites = await waitForAssessments(sandbox, queues, burstSubjects, expected, 180_000);
    const after = await sandbox.counters();
    const cpuMs = {
      service: service.cpuMs() - cpuBefore.service,
      sandbox: sandbox.child.cpuMs() - cpuBefore.sandbox,
      redis: (await redisCpuMs(connection)) - cpuBefore.redis,
      loadGenerator: ownCpu() - cpuBefore.loadGenerator,
    };
    const burstSeconds = (Date.now() - burstStart) / 1000;
    const window = await sandbox.window();
    const metrics = await (await fetch(`${service.metricsUrl}/metrics`)).text();
    const lastWriteAt = Math.max(...burstWrites.map((w) => w.at));
    const scoringsByOutcome = Object.fromEntries(
      ['written', 'unchanged', 'not-applicable', 'failed'].map((o) => {
        const label = { key: 'outcome', value: o };
        return [o, sumMetric(metrics, 'fhir_risk_scorings_total', label) - sumMetric(metricsBefore, 'fhir_risk_scorings_total', label)];
      }),
    );
    const scorings = Object.values(scoringsByOutcome).reduce((a, b) => a + b, 0);
    // Which models the burst triggered (the limit replays a read for exactly these).
    const modelsCounted = new Set([...metrics.matchAll(/^fhir_risk_scorings_total\{[^}]*model="([^"]+)"/gm)].map((m) => m[1] as string));
    const scoringsByModel = Object.fromEntries(
      [...modelsCounted]
        .map((m) => [m, sumMetric(metrics, 'fhir_risk_scorings_total', { key: 'model', value: m }) - sumMetric(metricsBefore, 'fhir_risk_scorings_total', { key: 'model', value: m })])
        .filter(([, n]) => (n as number) > 0),
    ) as Record<string, number>;
    const windowStart = window.firstBatchAt ?? burstStart;
    const scoringWindowSeconds = (Math.max(lastWriteAt, window.lastBatchAt ?? 0) - windowStart) / 1000;

    // Exactly one RiskAssessment per (patient, applicable model), counted on the sandbox.
    const perPair = new Map<string, number>();
    for (const ra of await allAssessments(sandbox.baseUrl)) {
      const subject = ra.subject?.reference ?? '';
      if (!burstSubjects.has(subject)) continue;
      const key = `${subject}|${ra.method?.coding?.[0]?.code ?? ''}`;
      perPair.set(key, (perPair.get(key) ?? 0) + 1);
    }
    let missing = 0;
    let duplicates = 0;
    for (const p of burstPatients) {
      for (const model of APPLICABLE_MODELS) {
        const n = perPair.get(`Patient/${p.id}|${model}`) ?? 0;
        if (n === 0) missing++;
        if (n > 1) duplicates++;
      }
    }
    const assessmentsFound = [...perPair.values()].reduce((a, b) => a + b, 0);
    const rewrites = burstWrites.filter((w) => w.interaction === 'update').length;
    const requests = after.total - before.total;
    const burstRetried503 = retried.count;
    log(
      `  e2e: burst done: ${scorings} scorings, ${assessmentsFound} assessments, ${requests} FHIR requests, window ${round(scoringWindowSeconds)} s; ` +
        `CPU per scoring: service ${round(cpuMs.service / scorings)} ms, sandbox ${round(cpuMs.sandbox / scorings)} ms, ` +
        `Redis ${round(cpuMs.redis / scorings)} ms, load generator ${round(cpuMs.loadGenerator / scorings)} ms`,
    );

    // ---- latency at a steady rate, fresh patients (their first assessment is always a write)
    const writesBefore = (await sandbox.writes()).length;
    const latencyList: Notification[] = latencyPatients.map((p, i) => ({
      patientId: p.id,
      observation: p.observations[TRIGGER_SUFFIXES[i % TRIGGER_SUFFIXES.length] as (typeof TRIGGER_SUFFIXES)[number]],
      version: 1,
    }));
    const sentAt = await notifyAtRate(service.notifyUrl, latencyList, opts.latencyRatePerSecond);
    const latencySubjects = new Set(latencyPatients.map((p) => `Patient/${p.id}`));
    await waitForAssessments(sandbox, queues, latencySubjects, latencyPatients.length * APPLICABLE_MODELS.length, 60_000);
    const latencies = (await sandbox.writes(writesBefore))
      .filter((w) => latencySubjects.has(w.subject))
      .map((w) => w.at - (sentAt.get(w.subject.slice('Patient/'.length)) ?? Number.NaN))
      .filter(Number.isFinite);

    const peakRssByProcessMiB = service.peakRssMiB();
    const peakRssMiB = Object.values(peakRssByProcessMiB).reduce((a, b) => a + b, 0);
    const finalMetrics = await (await fetch(`${service.metricsUrl}/metrics`)).text();
    const mib = (name: string) => round(sumMetric(finalMetrics, name) / 1048576);
    const memoryAtEnd = {
      rssMiB: mib('fhir_risk_process_resident_memory_bytes'),
      heapUsedMiB: mib('fhir_risk_nodejs_heap_size_used_bytes'),
      heapTotalMiB: mib('fhir_risk_nodejs_heap_size_total_bytes'),
      externalMiB: mib('fhir_risk_nodejs_external_memory_bytes'),
    };
    await service.stop();
    service = undefined;

    // ---- the limit, alone (service stopped): the same requests per patient as the burst needed
    const stored = await allAssessments(sandbox.baseUrl);
    const templates = APPLICABLE_MODELS.map((model) => {
      const found = stored.find((ra) => ra.method?.coding?.[0]?.code === model);
      if (!found) throw new Error(`no ${model} RiskAssessment to use as a PUT body of the limit measurement`);
      return found;
    });
    const triggeredModels = Object.keys(scoringsByModel);
    t = performance.now();
    const limit = await measureFhirLimit({
      baseUrl: sandbox.baseUrl,
      patientIds: burstPatients.map((p) => p.id),
      triggeredModels,
      templates,
      concurrency: opts.workerConcurrency,
      seconds: opts.limitSeconds,
    });
    log(
      `  e2e: limit ${round(limit.scoringsPerSecond)} scorings/s (${limit.cycles} patient cycles of 1 read for ${triggeredModels.length} models + ${templates.length} PUTs in ${round(limit.seconds)} s)`,
    );

    const scoringsPerSecond = scorings / scoringWindowSeconds;
    return {
      patients: burstPatients.length,
      notifications: notifications.length,
      burstSendSeconds: round(burstSendSeconds, 2),
      burstRetried503,
      coldStartMs: Math.round(coldStartMs),
      scorings,
      scoringsByOutcome,
      assessmentsExpected: expected,
      assessmentsFound,
      duplicates,
      missing,
      rewrites,
      exactlyOnce: duplicates === 0 && missing === 0 && assessmentsFound === expected,
      scoringsPerSecond: round(scoringsPerSecond),
      scoringWindowSeconds: round(scoringWindowSeconds, 2),
      burstTotalSeconds: round((lastWriteAt - burstStart) / 1000, 2),
      limitScoringsPerSecond: round(limit.scoringsPerSecond),
      limitCyclesPerSecond: round(limit.cyclesPerSecond),
      scoringsByModel,
      ratio: ratio(scoringsPerSecond, limit.scoringsPerSecond),
      fhirRequestsPerScoring: round(requests / scorings, 2),
      fhirRequestsByInteraction: diffCounters(after.byInteraction, before.byInteraction),
      cpuMsPerScoring: {
        service: round(cpuMs.service / scorings, 2),
        sandbox: round(cpuMs.sandbox / scorings, 2),
        redis: round(cpuMs.redis / scorings, 2),
        loadGenerator: round(cpuMs.loadGenerator / scorings, 2),
      },
      coresBusy: round((cpuMs.service + cpuMs.sandbox + cpuMs.redis + cpuMs.loadGenerator) / 1000 / burstSeconds, 2),
      latency: {
        samples: latencies.length,
        p50Ms: Math.round(percentile(latencies, 50)),
        p95Ms: Math.round(percentile(latencies, 95)),
        maxMs: Math.round(Math.max(...latencies)),
        goalP95Ms: opts.scoreDebounceMs + 250,
      },
      topology: opts.topology,
      peakRssMiB: round(peakRssMiB),
      peakRssByProcessMiB: Object.fromEntries(Object.entries(peakRssByProcessMiB).map(([k, v]) => [k, round(v)])),
      memoryAtEnd,
    };
  } finally {
    await service?.stop();
    await Promise.all(queues.map((q) => q.close()));
    connection.disconnect();
    await sandbox.close();
    await deleteKeys(prefix);
  }
}
