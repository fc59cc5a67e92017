/**
 * Scheduled maintenance: the reconciliation sweep and the max-age re-scoring, as BullMQ job
 * schedulers on the `maintenance` queue.
 *
 * One schedule across all pods: a job scheduler is stored in Redis under its id, so every worker
 * pod upserting `reconciliation-sweep` updates the same scheduler instead of adding one. Whichever
 * worker takes the job runs it; the tasks also hold their own Redis locks, so a run that outlasts
 * its interval never overlaps the next.
 *
 * What the re-scoring covers: results that change with time alone, with no new data and so no
 * event: an age threshold crossed inside a model's range (age is an input), an input ageing out
 * of its look-back window, a patient ageing out of a model's range. Every (patient, model) whose
 * newest assessment is older than `RESCORE_MAX_AGE` is scored again through the normal debounced
 * score queue, and again every `RESCORE_MAX_AGE` while nothing changes, so such a change is
 * evaluated at most `RESCORE_MAX_AGE + RESCORE_INTERVAL` after it happens (default 30 days +
 * 1 hour, plus queue latency). A changed score is written as a new assessment; a model that no
 * longer applies (stale input, out of range) writes nothing and says why in metrics and logs, as
 * for any scoring. Not covered: a patient with no assessment at all (one who was 39 for a model
 * that starts at 40): there is nothing to find; run `fhir-risk backfill --search
 * 'Patient?birthdate=…'` on a schedule for those.
 */
import { Worker, type Job, type Queue } from 'bullmq';
import type { RiskAssessment } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import type { EhrClient } from '../fhir/client-types.ts';
import type { ModelRegistry } from '../models/types.ts';
import { logger } from '../observability/logger.ts';
import { deadLetteredTotal, maintenanceRunsTotal, rescoresScheduledTotal } from '../observability/metrics.ts';
import { ASSESSMENT_IDENTIFIER_SYSTEM, MODELS_SYSTEM } from '../writeback/canonical.ts';
import type { ScoreScheduler } from './score-scheduler.ts';
import type { ShutdownRegistry } from './shutdown.ts';
import type { SweepResult } from './sweep.ts';

export const MAINTENANCE_QUEUE = 'maintenance';
/** Scheduler ids: unique per queue, which is what makes the schedule one across pods. */
export const SWEEP_SCHEDULER_ID = 'reconciliation-sweep';
export const RESCORE_SCHEDULER_ID = 'max-age-rescore';

export type MaintenanceTask = 'sweep' | 'rescore';

export interface MaintenanceJobData {
  readonly task: MaintenanceTask;
}

export interface MaintenanceIntervals {
  /** 0 = off. */
  sweepIntervalMs: number;
  /** 0 = off. */
  rescoreIntervalMs: number;
}

/** The work each task does; injected so the scheduler knows nothing of EHR clients or sinks. */
export interface MaintenanceTasks {
  sweep(): Promise<SweepResult>;
  rescore(): Promise<RescoreResult>;
}

/** A failed run is not retried: the next tick does the same work with a fresher watermark. */
const TEMPLATE_OPTS = { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } as const;
const REGISTER_RETRY_MS = 30_000;

/**
 * Creates, updates or removes (interval 0) the two schedulers. Idempotent: every pod calls it at
 * start-up. The first run comes one interval after the scheduler is first created, not at once,
 * so a rolling restart does not start a sweep per pod.
 */
export async function registerMaintenanceSchedulers(queue: Queue<MaintenanceJobData>, intervals: MaintenanceIntervals): Promise<void> {
  const plan: [string, MaintenanceTask, number][] = [
    [SWEEP_SCHEDULER_ID, 'sweep', intervals.sweepIntervalMs],
    [RESCORE_SCHEDULER_ID, 'rescore', intervals.rescoreIntervalMs],
  ];
  for (const [id, task, every] of plan) {
    if (every > 0) {
      // startDate only applies when the scheduler is new (or its interval changed); an existing
      // one keeps its rhythm.
      await queue.upsertJobScheduler(id, { every, startDate: Date.now() + every }, { name: task, data: { task }, opts: TEMPLATE_OPTS });
    } else {
      await queue.removeJobScheduler(id);
    }
  }
}

/** The maintenance queue's processor: runs the task the job names and counts the outcome. */
export function maintenanceProcessor(tasks: MaintenanceTasks) {
  return async (job: Job<MaintenanceJobData>): Promise<SweepResult | RescoreResult> => {
    const task = job.data.task;
    if (task !== 'sweep' && task !== 'rescore') throw new Error(`unknown maintenance task ${String(task)}`);
    try {
      const result = task === 'sweep' ? await tasks.sweep() : await tasks.rescore();
      maintenanceRunsTotal.inc({ task, outcome: result.skipped === 'locked' ? 'skipped-locked' : 'done' });
      return result;
    } catch (err) {
      maintenanceRunsTotal.inc({ task, outcome: 'failed' });
      throw err;
    }
  };
}

export interface StartMaintenanceOptions {
  queue: Queue<MaintenanceJobData>;
  /** A blocking-capable connection (`maxRetriesPerRequest: null`), shared with the other workers. */
  workerConnection: Redis;
  prefix: string;
  intervals: MaintenanceIntervals;
  tasks: MaintenanceTasks;
  shutdown: ShutdownRegistry;
}

/**
 * Starts the maintenance worker (one job at a time per pod) and registers the schedulers. When
 * Redis refuses the registration at start-up, it is retried in the background rather than
 * failing the pod: scoring must not wait for maintenance.
 */
export async function startMaintenance(options: StartMaintenanceOptions): Promise<void> {
  const { queue, shutdown } = options;
  const worker = new Worker<MaintenanceJobData>(MAINTENANCE_QUEUE, maintenanceProcessor(options.tasks), {
    connection: options.workerConnection,
    prefix: options.prefix,
    concurrency: 1,
  });
  worker.on('error', (err) => logger.warn({ queue: MAINTENANCE_QUEUE, err: err.message }, 'worker error'));
  worker.on('failed', (job, err) => {
    deadLetteredTotal.inc({ queue: MAINTENANCE_QUEUE });
    logger.warn({ queue: MAINTENANCE_QUEUE, jobId: job?.id, task: job?.data.task, err: err.message }, 'maintenance run failed; the next run covers it');
  });

  let retry: NodeJS.Timeout | undefined;
  const register = async (): Promise<void> => {
    try {
      await registerMaintenanceSchedulers(queue, options.intervals);
      logger.info(
        { sweepEveryMs: options.intervals.sweepIntervalMs || 'off', rescoreEveryMs: options.intervals.rescoreIntervalMs || 'off' },
        'maintenance schedules registered',
      );
    } catch (err) {
      logger.warn({ err: (err as Error).message, retryInMs: REGISTER_RETRY_MS }, 'could not register maintenance schedules; retrying');
      retry = setTimeout(() => void register(), REGISTER_RETRY_MS);
      retry.unref();
    }
  };
  await register();
  shutdown.add(1, `${MAINTENANCE_QUEUE} worker`, async () => {
    clearTimeout(retry);
    await worker.close();
  });
}

// ---------------------------------------------------------------------------------------------
// Max-age re-scoring

export interface RescoreDeps {
  /** The results store (where our RiskAssessments are). */
  results: EhrClient;
  scheduler: Pick<ScoreScheduler, 'schedule'>;
  models: ModelRegistry;
  redis: Redis;
  prefix: string;
  maxAgeMs: number;
  now?: () => Date;
}

export interface RescoreResult {
  /** Assessments dated before this are "too old". */
  cutoff: string;
  /** (patient, model) pairs looked at. */
  examined: number;
  /** Scorings scheduled. */
  scheduled: number;
  skipped?: 'locked';
}

const RESCORE_LOCK_TTL_MS = 30 * 60 * 1000;
const PAGE_SIZE = '500';
const MAX_PAGES = 1000;
/** Pairs taken from the due set per run; the rest wait for the next run. */
const DUE_BATCH = 10_000;
/** `meta.lastUpdated` is the server's clock, `occurrenceDateTime` ours: widen the window for skew. */
const CLOCK_SKEW_MARGIN_MS = 3600_000;

/**
 * One re-scoring pass. Candidates are (a) assessments that became older than the cutoff since the
 * last pass (`date=lt<cutoff>`, narrowed with `_lastUpdated=ge<previous cutoff>`: an assessment is
 * never updated before it is dated, so the narrowing only adds candidates, never loses one), and
 * (b) pairs re-scored one max age ago (the `due` set) whose assessment did not change since,
 * because the inputs had not. A candidate whose patient has a newer assessment for that model is
 * dropped (that one will age in its turn).
 */
export async function runMaxAgeRescore(deps: RescoreDeps): Promise<RescoreResult> {
  const now = deps.now?.() ?? new Date();
  const cutoff = new Date(now.getTime() - deps.maxAgeMs);
  const lockKey = `${deps.prefix}:rescore:lock`;
  const watermarkKey = `${deps.prefix}:rescore:watermark`;
  const dueKey = `${deps.prefix}:rescore:due`;
  if ((await deps.redis.set(lockKey, now.toISOString(), 'PX', RESCORE_LOCK_TTL_MS, 'NX')) !== 'OK') {
    return { cutoff: cutoff.toISOString(), examined: 0, scheduled: 0, skipped: 'locked' };
  }
  try {
    const previousCutoff = await deps.redis.get(watermarkKey);
    const windowStart = previousCutoff ? new Date(Date.parse(previousCutoff) - CLOCK_SKEW_MARGIN_MS).toISOString() : undefined;
    const aged = await deps.results.search<RiskAssessment>(
      'RiskAssessment',
      {
        identifier: `${ASSESSMENT_IDENTIFIER_SYSTEM}|`,
        date: `lt${cutoff.toISOString()}`,
        ...(windowStart ? { _lastUpdated: `ge${windowStart}` } : {}),
        _count: PAGE_SIZE,
      },
      MAX_PAGES,
    );
    const candidates = new Map<string, Set<string>>();
    const add = (patientId: string, modelId: string) => {
      if (!deps.models.get(modelId)) return;
      const set = candidates.get(patientId) ?? new Set<string>();
      set.add(modelId);
      candidates.set(patientId, set);
    };
    const recentlyQueued = await notDueYet(deps.redis, dueKey, aged.map(pairOf).filter(isPair), now);
    for (const ra of aged) {
      const pair = pairOf(ra);
      if (!pair || ra.status === 'entered-in-error' || recentlyQueued.has(pairKey(pair))) continue;
      add(pair.patientId, pair.modelId);
    }
    const due = await deps.redis.zrangebyscore(dueKey, '-inf', now.getTime(), 'LIMIT', 0, DUE_BATCH);
    for (const member of due) {
      const [patientId, modelId] = splitPair(member);
      if (patientId && modelId) add(patientId, modelId);
      else await deps.redis.zrem(dueKey, member);
    }

    let examined = 0;
    let scheduled = 0;
    for (const [patientId, modelIds] of candidates) {
      examined += modelIds.size;
      const fresh = await modelsWithAssessmentSince(deps.results, patientId, cutoff);
      const stale = [...modelIds].filter((m) => !fresh.has(m));
      for (const m of fresh) await deps.redis.zrem(dueKey, pairKey({ patientId, modelId: m }));
      if (stale.length === 0) continue;
      await deps.scheduler.schedule(patientId, stale, 'rescore:max-age', now.getTime());
      // Look again one max age from now: if the inputs did not change, nothing is written and
      // the old assessment stays the newest, so only this set brings the pair back.
      await deps.redis.zadd(dueKey, ...stale.flatMap((modelId) => [now.getTime() + deps.maxAgeMs, pairKey({ patientId, modelId })]));
      for (const modelId of stale) rescoresScheduledTotal.inc({ model: modelId });
      scheduled += stale.length;
    }
    const capped = aged.length >= Number(PAGE_SIZE) * MAX_PAGES;
    // A capped search saw only part of the window: keep the watermark so the next pass sees the rest.
    if (!capped) await deps.redis.set(watermarkKey, cutoff.toISOString());
    else logger.warn({ found: aged.length }, 'max-age re-scoring: search capped; the next run continues the same window');
    logger.info({ cutoff: cutoff.toISOString(), examined, scheduled }, 'max-age re-scoring done');
    return { cutoff: cutoff.toISOString(), examined, scheduled };
  } finally {
    await deps.redis.del(lockKey);
  }
}

interface Pair {
  patientId: string;
  modelId: string;
}

function isPair(p: Pair | undefined): p is Pair {
  return p !== undefined;
}

function pairOf(ra: RiskAssessment): Pair | undefined {
  const patientId = /^Patient\/([^/]+)$/.exec(ra.subject?.reference ?? '')?.[1];
  const modelId = ra.method?.coding?.find((c) => c.system === MODELS_SYSTEM)?.code;
  return patientId && modelId ? { patientId, modelId } : undefined;
}

/** Ids never contain `|` (FHIR ids are [A-Za-z0-9.-], model ids [a-z0-9-]). */
function pairKey(p: Pair): string {
  return `${p.patientId}|${p.modelId}`;
}

function splitPair(member: string): [string | undefined, string | undefined] {
  const i = member.lastIndexOf('|');
  return i > 0 ? [member.slice(0, i), member.slice(i + 1)] : [undefined, undefined];
}

/** Pairs already scheduled by an earlier pass whose next look is still in the future. */
async function notDueYet(redis: Redis, dueKey: string, pairs: Pair[], now: Date): Promise<Set<string>> {
  const keys = [...new Set(pairs.map(pairKey))];
  if (keys.length === 0) return new Set();
  const scores = await redis.zmscore(dueKey, ...keys);
  return new Set(keys.filter((_, i) => scores[i] !== null && Number(scores[i]) > now.getTime()));
}

/** Models for which the patient has one of our assessments dated at or after `since`. */
async function modelsWithAssessmentSince(results: EhrClient, patientId: string, since: Date): Promise<Set<string>> {
  const recent = await results.search<RiskAssessment>('RiskAssessment', {
    subject: `Patient/${patientId}`,
    identifier: `${ASSESSMENT_IDENTIFIER_SYSTEM}|`,
    date: `ge${since.toISOString()}`,
    _count: '100',
  });
  return new Set(
    recent
      .filter((ra) => ra.status !== 'entered-in-error')
      .map((ra) => pairOf(ra)?.modelId)
      .filter((m): m is string => m !== undefined),
  );
}
