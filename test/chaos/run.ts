/**
 * `npm run test:chaos`: the reliability run. Real processes, loopback only, bounded in time.
 *
 * Scenario 1, "chaos": its own redis-server (AOF, appendfsync always), the sandbox FHIR server
 * in-process, fhir-risk as `serve` + two `worker` processes. N patients are loaded, then a burst
 * of notifications about their Observations (seven delivery styles, every one delivered twice)
 * is sent by a HAPI-like sender (retries for 60 s) while the sandbox fails 20 % of requests
 * (500, or 429 with Retry-After) and stalls some for 1 s, one worker is SIGKILLed and restarted,
 * and Redis is SIGKILLed and restarted from its AOF. Then faults stop and the pipeline goes quiet.
 * Asserted: every (patient, triggered model that applies) has exactly one RiskAssessment, the
 * one the patient's data yields; nothing else was written; the dead-letter set is empty.
 *
 * Scenario 2, "EHR down longer than the retry budget": a `start` process with JOB_ATTEMPTS=3,
 * the EHR failing every request. Jobs land in the dead-letter set; `fhir-risk dlq list` shows
 * them; after the EHR recovers, `fhir-risk dlq replay --all` completes them without duplicates.
 *
 * Self-check: after scenario 1 passes, a duplicate assessment is written into the FHIR server
 * and one is hidden from the check; the assertions must report exactly those.
 *
 * Flags: --patients N (default 200); --keep (keep the temp dir and logs); and two deliberately
 * broken set-ups the assertions must catch (the run then FAILS): --no-aof (Redis without
 * persistence, as Debian ships it: the SIGKILL loses accepted events) and --no-sender-retry (a
 * sender that gives up on the first 503).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Bundle, Observation, RiskAssessment } from 'fhir/r4.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import * as notify from '../support/notifications.ts';
import type { NotificationRequest } from '../support/notifications.ts';
import { buildPatients, loadPatients, type ChaosPatient } from './patients.ts';
import { startChaosRedis, type ChaosRedis } from './redis-server.ts';
import { HAPI_LIKE, deliverAll, newStats, type SenderPolicy, type SenderStats } from './sender.ts';
import { runCli, startServiceProcess, type ServiceProcess } from './service-process.ts';
import { MODELS_SYSTEM, describeVerdict, verdictOk, verify, type Expected } from './verify.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const PATIENTS = option('--patients', 200);
const SENDER_RETRIES = !flag('--no-sender-retry');
const AOF = !flag('--no-aof');
const TOTAL_BUDGET_MS = 8 * 60_000;
const SECRET = 'chaos-notify-secret-0123456789';
const BEARER = { authorization: `Bearer ${SECRET}` };
/** Every model the burst's Observations (TC, HDL, BP panel) trigger. */
const TRIGGERED = ['ascvd-pce', 'prevent-cvd', 'news2', 'qsofa'];

const t0 = Date.now();
const say = (line: string) => process.stdout.write(`[chaos ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Cleanup {
  processes: ServiceProcess[];
  sandbox?: Sandbox;
  redis?: ChaosRedis;
  dir?: string;
}
const cleanup: Cleanup = { processes: [] };
const results: Record<string, unknown> = {};
const failures: string[] = [];

function check(ok: boolean, what: string): void {
  say(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function fhirGet<T>(sandbox: Sandbox, path: string): Promise<T> {
  const res = await fetch(path.startsWith('http') ? path : `${sandbox.baseUrl}/${path}`, { headers: { accept: 'application/fhir+json' } });
  if (!res.ok) throw new Error(`GET ${path} → ${res.status}`);
  return (await res.json()) as T;
}

/** Every RiskAssessment on the sandbox (following `next` links). */
async function allAssessments(sandbox: Sandbox): Promise<RiskAssessment[]> {
  const out: RiskAssessment[] = [];
  let url: string | undefined = 'RiskAssessment?_count=1000';
  while (url) {
    const page: Bundle = await fhirGet<Bundle>(sandbox, url);
    out.push(...(page.entry ?? []).map((e) => e.resource as RiskAssessment));
    url = page.link?.find((l) => l.relation === 'next')?.url;
  }
  return out;
}

/** What scoring each patient's data now yields, per triggered model that applies (`$risk-assess`, no write). */
async function expectedAssessments(apiUrl: string, patients: readonly ChaosPatient[], models: readonly string[]): Promise<Expected> {
  const expected: Expected = new Map();
  const query = models.map((m) => `model=${m}`).join('&');
  for (const p of patients) {
    const res = await fetch(`${apiUrl}/fhir/Patient/${p.id}/$risk-assess?${query}`, { method: 'POST' });
    if (!res.ok) throw new Error(`$risk-assess ${p.id} → ${res.status}`);
    const bundle = (await res.json()) as Bundle;
    const perModel = new Map<string, string>();
    for (const e of bundle.entry ?? []) {
      if (e.resource?.resourceType !== 'RiskAssessment') continue;
      const model = e.resource.method?.coding?.find((c) => c.system === MODELS_SYSTEM)?.code;
      if (model && e.resource.id) perModel.set(model, e.resource.id);
    }
    expected.set(p.id, perModel);
  }
  return expected;
}

/** Waits until no job is waiting, delayed, active or prioritized in either queue, 3 polls in a row. */
async function quiescence(redisUrl: string, prefix: string, timeoutMs: number): Promise<{ ms: number; failed: number }> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', () => undefined);
  const queues = ['events', 'scores'].map((name) => new Queue(name, { connection, prefix }));
  const start = Date.now();
  try {
    let streak = 0;
    for (let poll = 0; ; poll++) {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'waiting-children', 'failed')));
      const busy = counts.reduce((n, c) => n + (c.waiting ?? 0) + (c.delayed ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0), 0);
      const failed = counts.reduce((n, c) => n + (c.failed ?? 0), 0);
      streak = busy === 0 ? streak + 1 : 0;
      if (streak >= 3) return { ms: Date.now() - start, failed };
      const state = `events ${JSON.stringify(counts[0])} scores ${JSON.stringify(counts[1])}`;
      if (poll % 10 === 9 && busy > 0) say(`  still busy: ${state}`);
      if (Date.now() - start > timeoutMs) throw new Error(`no quiescence within ${timeoutMs} ms: ${state}`);
      await sleep(1000);
    }
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    connection.disconnect();
  }
}

async function failedCount(redisUrl: string, prefix: string): Promise<number> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queues = ['events', 'scores'].map((name) => new Queue(name, { connection, prefix }));
  try {
    return (await Promise.all(queues.map((q) => q.getFailedCount()))).reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    connection.disconnect();
  }
}

type Obs = Observation & { id: string };

/** The notifications of the burst: three Observations per patient, styles rotating, each twice. */
async function buildBurst(sandbox: Sandbox, patients: readonly ChaosPatient[]): Promise<{ request: NotificationRequest; headers: Record<string, string> }[]> {
  const styles: ((o: Obs, sub: string) => { request: NotificationRequest; headers: Record<string, string> })[] = [
    (o) => ({ request: notify.hapiPut(o), headers: BEARER }),
    (o, sub) => ({ request: notify.backportR4(o, 'id-only', 1, sub), headers: BEARER }),
    (o) => ({ request: notify.azureEventGrid(o, SECRET), headers: {} }),
    (o) => ({ request: notify.medplum(o, SECRET), headers: {} }),
    (o) => ({ request: notify.gcpPubSub(o, 'NameOnly', SECRET), headers: {} }),
    (o, sub) => ({ request: notify.r5(o, 'full-resource', 1, sub), headers: BEARER }),
    (o, sub) => ({ request: notify.backportR4B(o, 'full-resource', 1, sub), headers: BEARER }),
  ];
  const firsts: { request: NotificationRequest; headers: Record<string, string> }[] = [];
  let k = 0;
  for (const p of patients) {
    for (const obsId of Object.values(p.observations)) {
      const obs = await fhirGet<Obs>(sandbox, `Observation/${obsId}`);
      // One subscription per notification keeps event numbers gap-free whatever the arrival order.
      firsts.push(styles[k % styles.length]!(obs, `chaos-sub-${obsId}`));
      k++;
    }
  }
  const shuffle = <T>(xs: T[]) => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };
  // Redeliveries come later, as a server's would (and after many events were processed).
  return [...shuffle([...firsts]), ...shuffle([...firsts])];
}

async function scenarioChaos(sandbox: Sandbox, redis: ChaosRedis, dir: string): Promise<void> {
  const prefix = `chaos-${randomUUID().slice(0, 8)}`;
  const env = {
    FHIR_BASE_URL: sandbox.baseUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    NOTIFY_SECRET: SECRET,
    SCORE_DEBOUNCE_MS: '500',
    WORKER_CONCURRENCY: '4',
    // Test budget: base back-off 500 ms (production 2 s) so retries after the faults stop come
    // within the run's time box; 12 attempts as in production.
    JOB_BACKOFF_MS: '500',
    FHIR_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'info',
  };
  const servePort = await freePort();
  say('scenario 1: starting serve + 2 workers');
  const [serve, workerA, workerB] = await Promise.all([
    startServiceProcess({ name: 'serve', command: 'serve', env: { ...env, PORT: String(servePort) }, logFile: join(dir, 'serve.log') }),
    startServiceProcess({ name: 'worker-a', command: 'worker', env: { ...env, PORT: '0' }, logFile: join(dir, 'worker-a.log') }),
    startServiceProcess({ name: 'worker-b', command: 'worker', env: { ...env, PORT: '0' }, logFile: join(dir, 'worker-b.log') }),
  ]);
  cleanup.processes.push(serve, workerA, workerB);
  const apiUrl = `http://127.0.0.1:${serve.port}`;

  const loadStart = Date.now();
  const patients = buildPatients(PATIENTS, prefix.slice(6));
  await loadPatients(sandbox.baseUrl, patients);
  say(`loaded ${patients.length} patients in ${((Date.now() - loadStart) / 1000).toFixed(1)} s`);
  const burst = await buildBurst(sandbox, patients);
  const updatesBefore = sandbox.counters.requests.byInteraction.update ?? 0;

  say(`burst of ${burst.length} notifications (${burst.length / 2} distinct, each delivered twice); faults on: 20 % 500/429, 10 % stall 1 s`);
  Object.assign(sandbox.faults, { errorRate: 0.2, stallRate: 0.1, stallMs: 1000 });
  const stats: SenderStats = newStats();
  const policy: SenderPolicy = SENDER_RETRIES ? HAPI_LIKE : { ...HAPI_LIKE, giveUpAfterMs: 0 };
  const burstStart = Date.now();
  const sending = deliverAll(apiUrl, burst, { concurrency: 24, perSecond: 40, policy, stats });

  const at = (s: number) => sleep(Math.max(0, burstStart + s * 1000 - Date.now()));
  // Two independent timelines, so a slow restart (tsx start-up on a busy machine) cannot push
  // the Redis kill out of the burst.
  const workerChaos = (async () => {
    await at(6);
    say(`SIGKILL worker-a (pid ${workerA.pid})`);
    await workerA.kill();
    await sleep(3000);
    await workerA.restart();
    say(`worker-a restarted (pid ${workerA.pid})`);
  })();
  // Late in the burst: the last notifications meet a dead Redis (503, the sender retries) while
  // Redis holds the only copy of hundreds of accepted, not yet scored events (the AOF must keep them).
  const redisChaos = (async () => {
    await at(24);
    say('SIGKILL redis-server');
    await redis.kill();
    await sleep(5000);
    await redis.restart();
    say(`redis-server restarted${AOF ? ' from its AOF' : ' WITHOUT persistence (--no-aof): its data is gone'}`);
  })();
  await Promise.all([sending, workerChaos, redisChaos]);
  say(`sender done: ${JSON.stringify(stats)}`);
  // Faults stay on for a minute of processing, then the EHR is healthy again.
  await at(60);
  Object.assign(sandbox.faults, { errorRate: 0, stallRate: 0, stallMs: 0 });
  say(`faults off (injected ${sandbox.counters.faults.errors} errors, ${sandbox.counters.faults.stalls} stalls)`);

  const q = await quiescence(redis.url, prefix, 240_000);
  say(`quiescent ${(q.ms / 1000).toFixed(1)} s after faults stopped`);

  const expected = await expectedAssessments(apiUrl, patients, TRIGGERED);
  const actual = await allAssessments(sandbox);
  const verdict = verify(expected, actual);
  say(describeVerdict(verdict));
  const dlq = await runCli(['dlq', 'list'], { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent' });
  const deadLetters = dlq.stdout.split('\n').filter((l) => l.trim()).length;

  const applicable = [...expected.values()].reduce((n, m) => n + m.size, 0);
  check(stats.gaveUp === 0 || !SENDER_RETRIES, `sender gave up on no notification (gave up ${stats.gaveUp})`);
  check(stats.rejected === 0, `no notification of the burst was rejected (rejected ${stats.rejected})`);
  check(
    Object.keys(stats.failedAttempts).every((status) => status === '503'),
    `while Redis was down ingress answered 503 + Retry-After, nothing else (${JSON.stringify(stats.failedAttempts)})`,
  );
  check(applicable > 0 && applicable < PATIENTS * TRIGGERED.length, `the run has both applicable and not-applicable (patient, model) pairs (${applicable} applicable)`);
  check(verdict.lost.length === 0, `zero lost scorings (lost ${verdict.lost.length})`);
  check(verdict.duplicates.length === 0, `zero duplicate assessments (${verdict.duplicates.length})`);
  check(verdict.unexpected.length === 0 && verdict.different.length === 0, `nothing unexpected or different written (${verdict.unexpected.length} + ${verdict.different.length})`);
  check(dlq.code === 0 && deadLetters === 0 && q.failed === 0, `dead-letter set empty (dlq list: ${deadLetters}, failed: ${q.failed})`);

  results.chaos = {
    patients: PATIENTS,
    notifications: burst.length,
    sender: stats,
    injectedFaults: { ...sandbox.counters.faults },
    assessmentPuts: (sandbox.counters.requests.byInteraction.update ?? 0) - updatesBefore,
    expectedAssessments: applicable,
    verdict,
    quiescenceMs: q.ms,
    deadLetters,
    logs: Object.fromEntries(
      [serve, workerA, workerB].map((p) => [
        p.name,
        Object.fromEntries([...p.messages].filter(([m]) => /fail|retry|dead|error|stalled|could not/i.test(m))),
      ]),
    ),
  };

  if (failures.length === 0) await selfCheck(sandbox, expected);

  await Promise.all([serve, workerA, workerB].map((p) => p.stop()));
  cleanup.processes = cleanup.processes.filter((p) => ![serve, workerA, workerB].includes(p));
}

/** The assertions must catch a broken guarantee: a duplicate write and a lost assessment. */
async function selfCheck(sandbox: Sandbox, expected: Expected): Promise<void> {
  const actual = await allAssessments(sandbox);
  const victim = actual.find((ra) => ra.status !== 'entered-in-error' && expected.has(ra.subject?.reference?.replace('Patient/', '') ?? ''));
  if (!victim?.id) throw new Error('self-check: no assessment to work with');
  const duplicateId = `dup-${randomUUID()}`;
  const duplicate: RiskAssessment = { ...victim, id: duplicateId, meta: undefined, identifier: [{ ...victim.identifier![0]!, value: 'f'.repeat(64) }] };
  const put = await fetch(`${sandbox.baseUrl}/RiskAssessment/${duplicateId}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(duplicate) });
  if (!put.ok) throw new Error(`self-check: could not write the duplicate (${put.status})`);
  const lostOne = actual.find((ra) => ra.id !== victim.id && ra.status !== 'entered-in-error' && expected.has(ra.subject?.reference?.replace('Patient/', '') ?? ''));
  const seen = (await allAssessments(sandbox)).filter((ra) => ra.id !== lostOne?.id);
  const verdict = verify(expected, seen);
  say(`self-check (1 duplicate written, 1 assessment hidden): ${describeVerdict(verdict)}`);
  check(verdict.duplicates.length === 1 && verdict.lost.length === 1, 'the assertions detect an injected duplicate write and a lost assessment');
  await fetch(`${sandbox.baseUrl}/RiskAssessment/${duplicateId}`, { method: 'DELETE' });
}

async function scenarioDeadLetters(sandbox: Sandbox, redis: ChaosRedis, dir: string): Promise<void> {
  const prefix = `chaos-dlq-${randomUUID().slice(0, 8)}`;
  const env = {
    FHIR_BASE_URL: sandbox.baseUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    NOTIFY_SECRET: SECRET,
    SCORE_DEBOUNCE_MS: '200',
    // A retry budget of seconds, so "down longer than the budget" fits in a test.
    JOB_ATTEMPTS: '3',
    JOB_BACKOFF_MS: '200',
    FHIR_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'info',
  };
  const port = await freePort();
  say('scenario 2: EHR down longer than the retry budget (JOB_ATTEMPTS=3, JOB_BACKOFF_MS=200)');
  const service = await startServiceProcess({ name: 'start', command: 'start', env: { ...env, PORT: String(port) }, logFile: join(dir, 'start.log') });
  cleanup.processes.push(service);
  const apiUrl = `http://127.0.0.1:${service.port}`;
  const patients = buildPatients(12, prefix.slice(10));
  await loadPatients(sandbox.baseUrl, patients);
  const requests: { request: NotificationRequest; headers: Record<string, string> }[] = [];
  for (const [i, p] of patients.entries()) {
    const tc = await fhirGet<Obs>(sandbox, `Observation/${p.observations.tc}`);
    // Half carry the resource (score jobs dead-letter), half only ids (event jobs dead-letter).
    requests.push(i % 2 === 0 ? { request: notify.hapiPut(tc), headers: BEARER } : { request: notify.azureEventGrid(tc, SECRET), headers: {} });
  }
  Object.assign(sandbox.faults, { errorRate: 1, stallRate: 0, stallMs: 0 });
  const stats = newStats();
  await deliverAll(apiUrl, requests, { concurrency: 4, perSecond: 50, policy: HAPI_LIKE, stats });
  check(stats.delivered === requests.length, `all ${requests.length} notifications accepted while the EHR is down (ingress never calls the EHR)`);
  // 6 event jobs (id-only) + one scoring job per patient whose notification carried the resource
  // (6; each scores every model its TC triggered: ascvd-pce, prevent-cvd).
  const expectedDead = 6 + 6;
  const deadline = Date.now() + 60_000;
  let dead = 0;
  while ((dead = await failedCount(redis.url, prefix)) < expectedDead && Date.now() < deadline) await sleep(500);
  await quiescence(redis.url, prefix, 30_000);
  const cliEnv = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent' };
  const listed = await runCli(['dlq', 'list'], cliEnv);
  const letters = listed.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { queue: string; attempts: number; failedReason: string });
  say(`dlq list: ${letters.length} job(s): ${JSON.stringify(letters.reduce<Record<string, number>>((acc, l) => ({ ...acc, [l.queue]: (acc[l.queue] ?? 0) + 1 }), {}))}; e.g. ${letters[0]?.failedReason}`);
  check(dead === expectedDead && letters.length === expectedDead, `jobs land in the dead-letter set (${letters.length} listed, ${expectedDead} expected)`);
  check(letters.every((l) => l.attempts === 3), 'each dead letter used the whole budget (3 attempts)');
  // A replay while the EHR is still down must give each job a fresh retry budget (an operator
  // replays when they believe the EHR is back; one more attempt each would be a trap).
  say('fhir-risk dlq replay --all while the EHR is still down');
  const early = await runCli(['dlq', 'replay', '--all'], cliEnv);
  check(early.stdout.includes(`replayed ${expectedDead} job(s)`), `dlq replay --all replays them (${early.stdout.trim()})`);
  await sleep(500);
  await quiescence(redis.url, prefix, 30_000);
  const relisted = (await runCli(['dlq', 'list'], cliEnv)).stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { attempts: number });
  const attempts = [...new Set(relisted.map((l) => l.attempts))].join(',');
  check(relisted.length === expectedDead && attempts === '3', `a replayed job gets a fresh retry budget: back in the dead-letter set after 3 more attempts (attempts now: ${attempts})`);

  // The EHR recovers. Every job is dead-lettered, so nothing runs until the replay: reading now
  // (the sandbox answers again) shows what was written while it was down.
  Object.assign(sandbox.faults, { errorRate: 0 });
  const none = (await allAssessments(sandbox)).filter((ra) => patients.some((p) => ra.subject?.reference === `Patient/${p.id}`));
  check(none.length === 0, `nothing written while the EHR was down (${none.length})`);
  say('EHR recovered; fhir-risk dlq replay --all');
  const replay = await runCli(['dlq', 'replay', '--all'], cliEnv);
  check(replay.code === 0 && replay.stdout.includes(`replayed ${expectedDead} job(s)`), `dlq replay --all replays them again (${replay.stdout.trim()})`);
  await sleep(500);
  await quiescence(redis.url, prefix, 60_000);
  const again = await runCli(['dlq', 'replay', '--all'], cliEnv);
  check(again.stdout.includes('replayed 0 job(s)'), `a second replay finds nothing (${again.stdout.trim()})`);
  await quiescence(redis.url, prefix, 30_000);
  const expected = await expectedAssessments(apiUrl, patients, ['ascvd-pce', 'prevent-cvd']);
  const verdict = verify(expected, await allAssessments(sandbox));
  say(describeVerdict(verdict));
  check(verdictOk(verdict) && verdict.checked > 0, 'after the replay every applicable scoring exists exactly once');
  const after = await runCli(['dlq', 'list'], cliEnv);
  check(after.stdout.trim() === '', 'dead-letter set empty after the replay');
  results.deadLetters = { listed: letters.length, replayed: replay.stdout.trim(), verdict };
  await service.stop();
  cleanup.processes = cleanup.processes.filter((p) => p !== service);
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    say(`FAIL: the run exceeded its ${TOTAL_BUDGET_MS / 60_000} min budget`);
    void shutdown(1);
  }, TOTAL_BUDGET_MS);
  watchdog.unref();
  const dir = await mkdtemp(join(tmpdir(), 'fhir-risk-chaos-'));
  cleanup.dir = dir;
  await mkdir(join(dir, 'redis'));
  const redis = await startChaosRedis(await freePort(), join(dir, 'redis'), { aof: AOF });
  cleanup.redis = redis;
  const sandbox = await startSandbox({ port: 0 });
  cleanup.sandbox = sandbox;
  say(`redis ${redis.url} (AOF in ${dir}/redis), sandbox ${sandbox.baseUrl}, logs in ${dir}`);

  await scenarioChaos(sandbox, redis, dir);
  await scenarioDeadLetters(sandbox, redis, dir);

  results.seconds = Math.round((Date.now() - t0) / 1000);
  results.failures = failures;
  await writeFile(join(dir, 'summary.json'), JSON.stringify(results, null, 2));
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  say(failures.length === 0 ? 'ALL GUARANTEES HELD' : `${failures.length} CHECK(S) FAILED: ${failures.join(' | ')}`);
  await shutdown(failures.length === 0 ? 0 : 1);
}

async function shutdown(code: number): Promise<never> {
  for (const p of cleanup.processes) await p.kill().catch(() => undefined);
  await cleanup.sandbox?.close().catch(() => undefined);
  await cleanup.redis?.stop().catch(() => undefined);
  if (cleanup.dir) {
    if (code === 0 && !flag('--keep')) await rm(cleanup.dir, { recursive: true, force: true });
    else say(`logs and summary kept in ${cleanup.dir}`);
  }
  process.exit(code);
}

main().catch((err: unknown) => {
  say(`ERROR: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  void shutdown(1);
});

