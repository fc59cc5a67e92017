/**
 * Queue names, job data and job ids: the contract between ingress, the event worker and the
 * score worker. Job data holds references, versions and the patient id, never resource bodies, so
 * Redis holds no clinical data beyond ids.
 */
import { createHash } from 'node:crypto';
import type { DeliveryStyle, ResourceAction } from '../ingress/resource-event.ts';
import { RETRY_AFTER_BACKOFF } from './backoff.ts';
import type { SeenVersion } from './resource-index.ts';

export const EVENTS_QUEUE = 'events';
export const SCORES_QUEUE = 'scores';

/** One change to one resource version, as ingress stored it. */
export interface EventJobData {
  readonly resourceType: string;
  readonly id: string;
  readonly versionId?: string;
  readonly lastUpdated?: string;
  readonly action: ResourceAction;
  readonly style: DeliveryStyle;
  /** Known when the notification carried the resource (or a previous event told us). */
  readonly patientId?: string;
  /** Model ids the resource's codes trigger, when the notification carried the resource. */
  readonly models?: readonly string[];
  /** The resource's status said it was entered in error. */
  readonly enteredInError?: boolean;
  /** Epoch ms when ingress received the notification (latency metrics). */
  readonly receivedAt: number;
}

/**
 * "Score this patient, as of the time the job runs, with every model asked of it": the models are
 * the patient's score requests in Redis (score-requests.ts), so one job serves many events.
 */
export interface ScoreJobData {
  readonly patientId: string;
  /**
   * One model to score besides the recorded requests. Jobs queued before scoring became
   * per-patient carry it (they are still honoured after an upgrade); tests use it to score a model
   * without recording a request.
   */
  readonly modelId?: string;
  /** What asked for it: `Observation/1/_history/2`, `sweep`, `delete Observation/1`, … (ids only). */
  readonly cause: string;
  /** Epoch ms of the earliest notification behind this scoring (latency metrics). */
  readonly receivedAt: number;
}

/**
 * The events job id: a redelivery of the same resource version is a no-op in BullMQ.
 * Versions can be missing (HAPI can strip them) or opaque (Medplum, Google): then `lastUpdated`,
 * else a hash of what the notification said, identifies the change.
 */
export function eventJobId(e: Pick<EventJobData, 'resourceType' | 'id' | 'versionId' | 'lastUpdated' | 'action'>, contentHash?: string): string {
  const discriminator = e.versionId
    ? `v${e.versionId}`
    : e.lastUpdated
      ? `t${e.lastUpdated}`
      : contentHash
        ? `h${contentHash.slice(0, 16)}`
        : `a${Date.now()}`;
  const raw = `${e.resourceType}-${e.id}-${discriminator}${e.action === 'delete' ? '-deleted' : ''}`;
  // BullMQ forbids ':' in custom ids; FHIR ids and versions never contain it, timestamps do.
  return raw.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * What identifies the change an event stands for: the resource reference, the version seen (for
 * the stale check) and the scoring's `cause` (ids only). Ingress and the event worker both use it.
 */
export function eventIdentity(e: Pick<EventJobData, 'resourceType' | 'id' | 'versionId' | 'lastUpdated'>): {
  ref: string;
  seen: SeenVersion;
  cause: string;
} {
  const ref = `${e.resourceType}/${e.id}`;
  return {
    ref,
    seen: { ...(e.versionId ? { versionId: e.versionId } : {}), ...(e.lastUpdated ? { lastUpdated: e.lastUpdated } : {}) },
    cause: e.versionId ? `${ref}/_history/${e.versionId}` : ref,
  };
}

/** Debounce key: one pending scoring per patient. */
export function scoreDedupId(patientId: string): string {
  return `p.${createHash('sha256').update(patientId).digest('hex').slice(0, 24)}`;
}

/**
 * Retry policy for both queues. EHR outages are the usual cause of failures; exponential backoff
 * from 2 s over 12 attempts waits about 2 + 4 + … + 4096 s ≈ 2.3 h in total before a job is
 * dead-lettered (kept in the failed set, visible to `fhir-risk dlq list`, replayable). The
 * strategy (`backoff.ts`) never retries sooner than the EHR's Retry-After.
 *
 * `JOB_ATTEMPTS` (1–100) and `JOB_BACKOFF_MS` (base delay, 10 ms–1 h) override the defaults, read
 * once at start-up: reliability tests need a short budget ("EHR down longer than the retry
 * budget", test/chaos), some operators a longer one. A bad value stops start-up, never ignored.
 * (They belong in config.ts with the other variables; read here to keep the change minimal.)
 */
export const JOB_ATTEMPTS = intFromEnv('JOB_ATTEMPTS', 12, 1, 100);
export const JOB_BACKOFF = { type: RETRY_AFTER_BACKOFF, delay: intFromEnv('JOB_BACKOFF_MS', 2000, 10, 3600_000) } as const;

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new Error(`${name}: must be an integer from ${min} to ${max} (got '${raw.slice(0, 20)}')`);
  }
  return value;
}

/**
 * Completed events jobs are kept for a day so a redelivery within that window (HAPI retries,
 * Backport redeliveries) finds the id and is a no-op; older redeliveries are caught by the
 * per-resource version check in the event worker.
 */
export const KEEP_COMPLETED_EVENTS = { age: 24 * 3600, count: 100_000 } as const;
export const KEEP_COMPLETED_SCORES = { age: 3600, count: 10_000 } as const;
/** Failed jobs (the dead-letter set) are kept until replayed or removed by an operator. */
export const KEEP_FAILED = false as const;
