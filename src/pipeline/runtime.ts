/**
 * The pipeline in one process: queues, the Redis-backed event sink, and (optionally) the workers.
 *
 * `start` runs API and workers together; `serve` only the sink; `worker` only the workers. All
 * share Redis as the distribution engine, so workers scale out by adding pods.
 */
import { Queue, Worker } from 'bullmq';
import type { FhirResource, RiskAssessment } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { patientIdOf, modelsTriggeredBy } from '../features/triggers.ts';
import type { ValueSetIndex } from '../features/value-sets.ts';
import type { EhrClient } from '../fhir/client-types.ts';
import type { ModelRegistry } from '../models/types.ts';
import { logger } from '../observability/logger.ts';
import { deadLetteredTotal, queueDepth, queueOldestAge } from '../observability/metrics.ts';
import { eventProcessor } from './event-worker.ts';
import { RedisEventSink, type TriggerMatcher } from './event-sink.ts';
import { EVENTS_QUEUE, JOB_BACKOFF, SCORES_QUEUE, type EventJobData, type ScoreJobData } from './jobs.ts';
import { retryAfterBackoff } from './backoff.ts';
import { createProducerConnection, createWorkerConnection, redisAnswers } from './redis.ts';
import { ResourceIndex } from './resource-index.ts';
import { ScoreScheduler } from './score-scheduler.ts';
import { scoreProcessor } from './score-worker.ts';
import { ScoreRequests } from './score-requests.ts';
import { ShutdownRegistry } from './shutdown.ts';
import { withdrawAssessmentsUsing } from './withdraw.ts';
import { runSweep } from './sweep.ts';
import { MAINTENANCE_QUEUE, runMaxAgeRescore, startMaintenance, type MaintenanceJobData } from './scheduler.ts';

export interface PipelineOptions {
  config: Pick<Config, 'redisUrl' | 'queuePrefix' | 'scoreDebounceMs' | 'workerConcurrency' | 'writeMode' | 'modelsShadow'> &
    Partial<Pick<Config, 'modelsMeasureOnly' | 'modelTimeoutMs'>> &
    Partial<Pick<Config, 'sweepIntervalMs' | 'rescoreIntervalMs' | 'rescoreMaxAgeMs'>>;
  models: ModelRegistry;
  valueSets: ValueSetIndex;
  ehr: EhrClient;
  results: EhrClient;
  runWorkers: boolean;
  onWritten?: (ra: RiskAssessment) => void;
}

export interface Pipeline {
  readonly sink: RedisEventSink;
  readonly events: Queue<EventJobData>;
  readonly scores: Queue<ScoreJobData>;
  /** Scheduled sweep and max-age re-scoring (src/pipeline/scheduler.ts). */
  readonly maintenance: Queue<MaintenanceJobData>;
  readonly scheduler: ScoreScheduler;
  readonly producer: Redis;
  /** Redis answers (for /readyz). */
  redisReady(): Promise<boolean>;
  /** Samples queue depths into the metrics gauge. */
  sampleQueueDepths(): Promise<void>;
  /** Resolves when both queues have no waiting, delayed or active jobs (demo, tests). */
  idle(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * A job whose worker died (SIGKILL, OOM, node drain) is "stalled" and handed to another worker.
 * BullMQ's default of 1 would dead-letter a job that meets a worker kill and a Redis restart in a
 * row; every stage is idempotent, so running it again is always safe.
 */
const MAX_STALLED_COUNT = 3;

export function triggerMatcher(models: ModelRegistry, valueSets: ValueSetIndex): TriggerMatcher {
  return (resource: FhirResource) => {
    const patientId = patientIdOf(resource);
    const manifests = models.list().map((m) => m.manifest);
    const triggered =
      resource.resourceType === 'Observation' || resource.resourceType === 'Condition'
        ? modelsTriggeredBy(resource, manifests, valueSets)
        : [];
    return { ...(patientId ? { patientId } : {}), models: triggered };
  };
}

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const { config } = options;
  const shutdown = new ShutdownRegistry();
  const producer = createProducerConnection(config.redisUrl);
  // Errors surface as failed commands (→ 503); the connection event itself is only worth a debug line.
  producer.on('error', (err) => logger.debug({ err: err.message }, 'redis producer connection error'));
  shutdown.add(3, 'redis producer', async () => producer.quit().catch(() => producer.disconnect()));

  const prefix = config.queuePrefix;
  const events = new Queue<EventJobData>(EVENTS_QUEUE, { connection: producer, prefix });
  const scores = new Queue<ScoreJobData>(SCORES_QUEUE, { connection: producer, prefix });
  events.on('error', (err) => logger.debug({ err: err.message }, 'events queue error'));
  scores.on('error', (err) => logger.debug({ err: err.message }, 'scores queue error'));
  shutdown.add(2, 'events queue', () => events.close());
  shutdown.add(2, 'scores queue', () => scores.close());
  const maintenance = new Queue<MaintenanceJobData>(MAINTENANCE_QUEUE, { connection: producer, prefix });
  maintenance.on('error', (err) => logger.debug({ err: err.message }, 'maintenance queue error'));
  shutdown.add(2, 'maintenance queue', () => maintenance.close());

  const triggers = triggerMatcher(options.models, options.valueSets);
  const scheduler = new ScoreScheduler(scores, new ScoreRequests(producer, prefix), config.scoreDebounceMs);
  const sink: RedisEventSink = new RedisEventSink({
    events,
    triggers,
    direct: { index: new ResourceIndex(producer, prefix), scheduler },
    onSweepRequested: async (reason) => {
      logger.info({ reason }, 'reconciliation sweep requested');
      void runSweep({ ehr: options.ehr, sink, models: options.models, valueSets: options.valueSets, redis: producer, prefix }).catch(
        (err: Error) => logger.warn({ err: err.message }, 'reconciliation sweep failed; the next one will cover it'),
      );
    },
  });

  if (options.runWorkers) {
    const workerConnection = createWorkerConnection(config.redisUrl);
    workerConnection.on('error', (err) => logger.debug({ err: err.message }, 'redis worker connection error'));
    shutdown.add(3, 'redis worker', async () => workerConnection.quit().catch(() => workerConnection.disconnect()));
    const index = new ResourceIndex(workerConnection, prefix);
    const backoffStrategy = retryAfterBackoff(JOB_BACKOFF.delay);
    const eventWorker = new Worker<EventJobData>(
      EVENTS_QUEUE,
      eventProcessor({
        ehr: options.ehr,
        index,
        triggers,
        scheduler,
        allModelIds: () => options.models.list().map((m) => m.manifest.id),
        withdrawAssessmentsUsing: (patientId, ref) => withdrawAssessmentsUsing(options.results, patientId, ref),
      }),
      { connection: workerConnection, prefix, concurrency: config.workerConcurrency, maxStalledCount: MAX_STALLED_COUNT, settings: { backoffStrategy } },
    );
    const scoreWorker = new Worker<ScoreJobData>(
      SCORES_QUEUE,
      scoreProcessor({
        ehr: options.ehr,
        results: options.results,
        models: options.models,
        valueSets: options.valueSets,
        shadow: new Set(config.modelsShadow),
        measureOnly: new Set(config.modelsMeasureOnly ?? []),
        ...(config.modelTimeoutMs ? { modelTimeoutMs: config.modelTimeoutMs } : {}),
        writeMode: config.writeMode,
        requests: new ScoreRequests(workerConnection, prefix),
        ...(options.onWritten ? { onWritten: options.onWritten } : {}),
      }),
      { connection: workerConnection, prefix, concurrency: config.workerConcurrency, maxStalledCount: MAX_STALLED_COUNT, settings: { backoffStrategy } },
    );
    for (const [name, worker] of [
      [EVENTS_QUEUE, eventWorker],
      [SCORES_QUEUE, scoreWorker],
    ] as const) {
      worker.on('error', (err) => logger.warn({ queue: name, err: err.message }, 'worker error'));
      worker.on('failed', (job, err) => {
        const exhausted = job && job.attemptsMade >= (job.opts.attempts ?? 1);
        if (exhausted || err.name === 'UnrecoverableError') deadLetteredTotal.inc({ queue: name });
        logger.warn({ queue: name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, exhausted ? 'job dead-lettered' : 'job failed; will retry');
      });
      shutdown.add(1, `${name} worker`, () => worker.close());
    }
    await startMaintenance({
      queue: maintenance,
      workerConnection,
      prefix,
      intervals: { sweepIntervalMs: config.sweepIntervalMs ?? 0, rescoreIntervalMs: config.rescoreIntervalMs ?? 0 },
      tasks: {
        sweep: () => runSweep({ ehr: options.ehr, sink, models: options.models, valueSets: options.valueSets, redis: producer, prefix }),
        rescore: () =>
          runMaxAgeRescore({
            results: options.results,
            scheduler,
            models: options.models,
            redis: workerConnection,
            prefix,
            maxAgeMs: config.rescoreMaxAgeMs ?? 30 * 24 * 3600_000,
          }),
      },
      shutdown,
    });
  }

  return {
    sink,
    events,
    scores,
    maintenance,
    scheduler,
    producer,
    redisReady: () => redisAnswers(producer),
    async sampleQueueDepths() {
      for (const [name, queue] of [
        [EVENTS_QUEUE, events],
        [SCORES_QUEUE, scores],
        [MAINTENANCE_QUEUE, maintenance],
      ] as const) {
        const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'failed', 'completed');
        for (const [state, n] of Object.entries(counts)) queueDepth.set({ queue: name, state }, n);
        // Oldest first: the wait list is FIFO, so its tail is the job that has waited longest.
        const [oldest] = await queue.getJobs(['waiting'], 0, 0, true);
        queueOldestAge.set({ queue: name }, oldest ? (Date.now() - oldest.timestamp) / 1000 : 0);
      }
    },
    async idle() {
      const [e, s] = await Promise.all([
        events.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'waiting-children'),
        scores.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'waiting-children'),
      ]);
      return Object.values(e).every((n) => n === 0) && Object.values(s).every((n) => n === 0);
    },
    close: () => shutdown.closeAll(),
  };
}
