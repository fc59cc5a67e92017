/**
 * The Redis-backed EventSink that ingress writes to.
 *
 * An event is acknowledged only after Redis has stored it. Resource bodies stay here, in the
 * request path: we derive the patient id and the triggered models from them and store only ids
 * and versions.
 *
 * Two paths:
 * - The notification carried the resource (its patient and the models it triggers are known):
 *   the event worker would have nothing to do but the version check and queueing the scoring, so
 *   ingress does both itself: the version checks and the patients' score requests of a batch in
 *   one Lua script call, then the patients' debounced scoring jobs in one addBulk. No events
 *   job is added, fetched, run and completed for it: in the e2e benchmark's burst the service's
 *   CPU per scoring fell from 4.5 to 3.8 ms (BENCHMARKS.md).
 * - Everything else (id-only notifications that need an EHR read, deletes, entered-in-error,
 *   resources without a patient) becomes an events job, processed by the event worker.
 */
import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { FhirResource } from 'fhir/r4.js';
import { QueueUnavailableError } from '../errors.ts';
import type { EnqueueResult, EventSink, ResourceEvent } from '../ingress/resource-event.ts';
import { logger } from '../observability/logger.ts';
import { eventsTotal, stageLatency } from '../observability/metrics.ts';
import { JOB_ATTEMPTS, JOB_BACKOFF, KEEP_COMPLETED_EVENTS, KEEP_FAILED, eventIdentity, eventJobId, type EventJobData } from './jobs.ts';
import type { ResourceIndex, ScoringAsk, SeenVersion } from './resource-index.ts';
import type { ScoreScheduler } from './score-scheduler.ts';

/** What the resource itself tells us, computed without any EHR call. */
export interface TriggerInfo {
  patientId?: string;
  models: string[];
}

export type TriggerMatcher = (resource: FhirResource) => TriggerInfo;

export interface RedisEventSinkOptions {
  events: Queue<EventJobData>;
  triggers: TriggerMatcher;
  /** The direct path for notifications that carried their resource (see the top of this file). */
  direct: { index: ResourceIndex; scheduler: ScoreScheduler };
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

interface PendingWrite<T> {
  readonly items: readonly T[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Batches the Redis writes of concurrent notifications: what arrives within one turn of the event
 * loop (or up to `maxItems`) goes to Redis in one `store` call (pipelined round trips instead of
 * one per request). Each caller's promise settles only when the write holding its own items has
 * been answered, so a notification is still acknowledged only once its events are stored.
 *
 * A failed batch does not fail its neighbours: unless Redis simply did not answer in time, each
 * caller's items are retried on their own, so one unstorable notification fails only itself.
 */
export class EnqueueBatcher<T> {
  private pending: PendingWrite<T>[] = [];
  private pendingItems = 0;
  private scheduled = false;

  constructor(
    private readonly store: (items: readonly T[]) => Promise<unknown>,
    private readonly timeoutMs: number = ENQUEUE_TIMEOUT_MS,
    private readonly maxItems = 500,
  ) {}

  /** Resolves once `items` are stored. */
  write(items: readonly T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      this.pendingItems += items.length;
      if (this.pendingItems >= this.maxItems) {
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
    this.pendingItems = 0;
    void this.storeBatch(batch);
  }

  private async storeBatch(batch: readonly PendingWrite<T>[]): Promise<void> {
    try {
      await withTimeout(this.store(batch.flatMap((w) => w.items)), this.timeoutMs);
      for (const w of batch) w.resolve();
    } catch (err) {
      if (batch.length === 1 || err instanceof EnqueueTimeoutError) {
        for (const w of batch) w.reject(err);
        return;
      }
      await Promise.all(batch.map((w) => withTimeout(this.store(w.items), this.timeoutMs).then(() => w.resolve(), (e: unknown) => w.reject(e))));
    }
  }
}

/** A notification that carried its resource: scored without an events job. */
interface DirectEvent {
  readonly ref: string;
  readonly seen: SeenVersion;
  readonly ask: ScoringAsk;
  readonly cause: string;
  readonly receivedAt: number;
}

type SinkItem = { readonly job: BulkJob } | { readonly direct: DirectEvent };

export class RedisEventSink implements EventSink {
  private readonly batcher: EnqueueBatcher<SinkItem>;

  constructor(private readonly options: RedisEventSinkOptions) {
    this.batcher = new EnqueueBatcher((items) => this.store(items));
  }

  async enqueue(events: readonly ResourceEvent[]): Promise<EnqueueResult> {
    const receivedAt = Date.now();
    let ignored = 0;
    const items: SinkItem[] = [];
    for (const event of events) {
      const data = this.toJobData(event, receivedAt);
      if (!data) {
        ignored++;
        continue;
      }
      const direct = directEvent(data);
      if (direct) {
        items.push({ direct });
        continue;
      }
      // The content hash only identifies changes that carry neither a version nor a timestamp.
      const hash =
        event.resource && !data.versionId && !data.lastUpdated ? createHash('sha256').update(JSON.stringify(event.resource)).digest('hex') : undefined;
      items.push({
        job: {
          name: event.action,
          data,
          opts: {
            jobId: eventJobId(data, hash),
            attempts: JOB_ATTEMPTS,
            backoff: JOB_BACKOFF,
            removeOnComplete: KEEP_COMPLETED_EVENTS,
            removeOnFail: KEEP_FAILED,
          },
        },
      });
    }
    if (items.length === 0) return { accepted: 0, duplicates: 0, ignored };
    try {
      await this.batcher.write(items);
    } catch (err) {
      logger.warn({ err: (err as Error).message, events: items.length }, 'could not store events in Redis');
      throw new QueueUnavailableError('The event queue (Redis) is unavailable; retry later', { cause: err });
    }
    stageLatency.observe({ stage: 'queued' }, (Date.now() - receivedAt) / 1000);
    return { accepted: items.length, duplicates: 0, ignored };
  }

  /** Stores one batch: events jobs with one addBulk; direct events as version checks + score requests, then their scoring jobs. */
  private async store(items: readonly SinkItem[]): Promise<void> {
    const jobs: BulkJob[] = [];
    const direct: DirectEvent[] = [];
    for (const item of items) {
      if ('job' in item) jobs.push(item.job);
      else direct.push(item.direct);
    }
    await Promise.all([jobs.length > 0 ? this.options.events.addBulk(jobs) : undefined, direct.length > 0 ? this.storeDirect(direct) : undefined]);
  }

  private async storeDirect(events: readonly DirectEvent[]): Promise<void> {
    const { index, scheduler } = this.options.direct;
    // The requests must be stored before the job that reads them: two steps, in this order.
    const fresh = await index.claimMany(events);
    const byPatient = new Map<string, DirectEvent>();
    for (const [i, e] of events.entries()) {
      // One job per patient per batch; the earliest notification opens the debounce window.
      if (fresh[i] && !byPatient.has(e.ask.patientId)) byPatient.set(e.ask.patientId, e);
    }
    await scheduler.enqueueMany([...byPatient.values()].map((e) => ({ patientId: e.ask.patientId, cause: e.cause, receivedAt: e.receivedAt })));
    const stale = fresh.filter((f) => !f).length;
    if (stale > 0) eventsTotal.inc({ outcome: 'stale' }, stale);
    if (events.length > stale) eventsTotal.inc({ outcome: 'scheduled' }, events.length - stale);
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

/** The direct path's event, when the notification carried everything the event worker would need. */
function directEvent(data: EventJobData): DirectEvent | undefined {
  if (data.action === 'delete' || data.enteredInError || !data.patientId || !data.models || data.models.length === 0) return undefined;
  return { ...eventIdentity(data), ask: { patientId: data.patientId, models: data.models }, receivedAt: data.receivedAt };
}
