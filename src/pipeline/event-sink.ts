/**
 * The Redis-backed EventSink that ingress writes to.
 *
 * An event is acknowledged only after BullMQ has stored it. Resource bodies stay here, in the
 * request path: we derive the patient id and the triggered models from them and enqueue only
 * ids and versions.
 */
import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { FhirResource } from 'fhir/r4.js';
import { QueueUnavailableError } from '../errors.ts';
import type { EnqueueResult, EventSink, ResourceEvent } from '../ingress/resource-event.ts';
import { logger } from '../observability/logger.ts';
import { stageLatency } from '../observability/metrics.ts';
import { JOB_ATTEMPTS, JOB_BACKOFF, KEEP_COMPLETED_EVENTS, KEEP_FAILED, eventJobId, type EventJobData } from './jobs.ts';

/** What the resource itself tells us, computed without any EHR call. */
export interface TriggerInfo {
  patientId?: string;
  models: string[];
}

export type TriggerMatcher = (resource: FhirResource) => TriggerInfo;

export interface RedisEventSinkOptions {
  events: Queue<EventJobData>;
  triggers: TriggerMatcher;
  /** Starts a reconciliation sweep (debounced by the caller). */
  onSweepRequested?: (reason: string) => Promise<void>;
}

const ENTERED_IN_ERROR = new Set(['entered-in-error']);

/**
 * How long a notification waits for Redis before it is answered 503. BullMQ waits for a
 * connection indefinitely; the sender must hear "retry later" within its own timeout instead.
 * If the write lands after we answered 503, the sender's retry has the same job id: a no-op.
 */
export const ENQUEUE_TIMEOUT_MS = 3000;

/** Redis did not answer in time: no point retrying the same write at once. */
class EnqueueTimeoutError extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EnqueueTimeoutError(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

type BulkJob = Parameters<Queue<EventJobData>['addBulk']>[0][number];

interface PendingWrite {
  readonly jobs: readonly BulkJob[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Batches the Redis writes of concurrent notifications: what arrives within one turn of the event
 * loop (or up to `maxJobs`) goes to Redis as one `addBulk` (one pipelined round trip instead of
 * one per request). Each caller's promise settles only when the write holding its own jobs has
 * been answered, so a notification is still acknowledged only once its events are stored.
 *
 * A failed batch does not fail its neighbours: unless Redis simply did not answer in time, each
 * caller's jobs are retried on their own, so one unstorable notification fails only itself.
 */
export class EnqueueBatcher {
  private pending: PendingWrite[] = [];
  private pendingJobs = 0;
  private scheduled = false;

  constructor(
    private readonly queue: Queue<EventJobData>,
    private readonly timeoutMs: number = ENQUEUE_TIMEOUT_MS,
    private readonly maxJobs = 500,
  ) {}

  /** Resolves once `jobs` are stored (or were already: same job ids are a no-op in BullMQ). */
  write(jobs: readonly BulkJob[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ jobs, resolve, reject });
      this.pendingJobs += jobs.length;
      if (this.pendingJobs >= this.maxJobs) {
        this.flush();
      } else if (!this.scheduled) {
        // setImmediate runs after the current I/O phase: every request parsed in this turn joins
        // the batch, and a lone request waits for nothing.
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingJobs = 0;
    void this.store(batch);
  }

  private async store(batch: readonly PendingWrite[]): Promise<void> {
    try {
      await withTimeout(this.queue.addBulk(batch.flatMap((w) => w.jobs)), this.timeoutMs);
      for (const w of batch) w.resolve();
    } catch (err) {
      if (batch.length === 1 || err instanceof EnqueueTimeoutError) {
        for (const w of batch) w.reject(err);
        return;
      }
      await Promise.all(batch.map((w) => withTimeout(this.queue.addBulk([...w.jobs]), this.timeoutMs).then(() => w.resolve(), (e: unknown) => w.reject(e))));
    }
  }
}

export class RedisEventSink implements EventSink {
  private readonly batcher: EnqueueBatcher;

  constructor(private readonly options: RedisEventSinkOptions) {
    this.batcher = new EnqueueBatcher(options.events);
  }

  async enqueue(events: readonly ResourceEvent[]): Promise<EnqueueResult> {
    const receivedAt = Date.now();
    let ignored = 0;
    const jobs: BulkJob[] = [];
    for (const event of events) {
      const data = this.toJobData(event, receivedAt);
      if (!data) {
        ignored++;
        continue;
      }
      // The content hash only identifies changes that carry neither a version nor a timestamp.
      const hash =
        event.resource && !data.versionId && !data.lastUpdated ? createHash('sha256').update(JSON.stringify(event.resource)).digest('hex') : undefined;
      jobs.push({
        name: event.action,
        data,
        opts: {
          jobId: eventJobId(data, hash),
          attempts: JOB_ATTEMPTS,
          backoff: JOB_BACKOFF,
          removeOnComplete: KEEP_COMPLETED_EVENTS,
          removeOnFail: KEEP_FAILED,
        },
      });
    }
    if (jobs.length === 0) return { accepted: 0, duplicates: 0, ignored };
    try {
      await this.batcher.write(jobs);
    } catch (err) {
      logger.warn({ err: (err as Error).message, events: jobs.length }, 'could not store events in Redis');
      throw new QueueUnavailableError('The event queue (Redis) is unavailable; retry later', { cause: err });
    }
    stageLatency.observe({ stage: 'queued' }, (Date.now() - receivedAt) / 1000);
    return { accepted: jobs.length, duplicates: 0, ignored };
  }

  async requestSweep(reason: string): Promise<void> {
    await this.options.onSweepRequested?.(reason);
  }

  /** Undefined when the event can be acknowledged without queueing (no model uses the resource). */
  private toJobData(event: ResourceEvent, receivedAt: number): EventJobData | undefined {
    const base = {
      resourceType: event.resourceType,
      id: event.id,
      action: event.action,
      style: event.style,
      receivedAt,
      ...(event.versionId ? { versionId: event.versionId } : {}),
      ...(event.lastUpdated ? { lastUpdated: event.lastUpdated } : {}),
    };
    if (event.action === 'delete' || !event.resource) return base;
    const status = (event.resource as { status?: string }).status;
    const { patientId, models } = this.options.triggers(event.resource);
    const enteredInError = status !== undefined && ENTERED_IN_ERROR.has(status);
    // A resource no model uses is acknowledged and counted, not queued, unless it may be the
    // basis of an earlier assessment that must now be withdrawn (entered-in-error).
    if (models.length === 0 && !enteredInError) return undefined;
    return {
      ...base,
      ...(patientId ? { patientId } : {}),
      models,
      ...(enteredInError ? { enteredInError } : {}),
    };
  }
}
