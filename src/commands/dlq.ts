/**
 * `fhir-risk dlq list|replay`: jobs that exhausted their retries (or failed with input that can
 * never succeed) stay in BullMQ's failed set, our dead-letter queue, until an operator replays or
 * removes them. The admin page's "recent failures" reads the same set through `deadLettersIn`.
 */
import { Queue } from 'bullmq';
import type { Config } from '../config.ts';
import { EVENTS_QUEUE, SCORES_QUEUE } from '../pipeline/jobs.ts';
import { createWorkerConnection, waitUntilReady } from '../pipeline/redis.ts';
import { MAINTENANCE_QUEUE } from '../pipeline/scheduler.ts';

/** Every queue whose failed set is a dead-letter queue. */
export const DEAD_LETTER_QUEUES = [EVENTS_QUEUE, SCORES_QUEUE, MAINTENANCE_QUEUE] as const;

export interface DeadLetter {
  queue: string;
  id: string;
  name: string;
  attempts: number;
  failedReason: string;
  finishedOn?: string;
  /** Ids only: job data carries references, versions and patient ids, never bodies. */
  data: unknown;
}

async function withQueues<T>(config: Pick<Config, 'redisUrl' | 'queuePrefix'>, run: (queues: Queue[]) => Promise<T>): Promise<T> {
  const connection = createWorkerConnection(config.redisUrl);
  connection.on('error', () => undefined); // reported below, once, by waitUntilReady
  try {
    await waitUntilReady(connection, config.redisUrl);
  } catch (err) {
    connection.disconnect();
    throw err;
  }
  const queues = DEAD_LETTER_QUEUES.map((name) => new Queue(name, { connection, prefix: config.queuePrefix }));
  try {
    return await run(queues);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    await connection.quit();
  }
}

/** The newest `perQueue` failed jobs of each queue, newest first overall. */
export async function deadLettersIn(queues: readonly Queue[], perQueue = 1000): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for (const queue of queues) {
    // getFailed is ordered by failure time, newest first.
    for (const job of await queue.getFailed(0, perQueue - 1)) {
      if (!job) continue;
      out.push({
        queue: queue.name,
        id: String(job.id),
        name: job.name,
        attempts: job.attemptsMade,
        failedReason: job.failedReason,
        ...(job.finishedOn ? { finishedOn: new Date(job.finishedOn).toISOString() } : {}),
        data: job.data,
      });
    }
  }
  return out.sort((a, b) => (b.finishedOn ?? '').localeCompare(a.finishedOn ?? ''));
}

export async function listDeadLetters(config: Pick<Config, 'redisUrl' | 'queuePrefix'>): Promise<DeadLetter[]> {
  return withQueues(config, (queues) => deadLettersIn(queues));
}

/**
 * Moves failed jobs back to waiting, keeping their ids (so a replay stays idempotent: a
 * replayed scoring writes the same deterministic assessment). `ids` match job ids in any queue.
 */
export async function replayDeadLetters(config: Pick<Config, 'redisUrl' | 'queuePrefix'>, ids: string[] | 'all'): Promise<number> {
  return withQueues(config, async (queues) => {
    let replayed = 0;
    for (const queue of queues) {
      for (const job of await queue.getFailed(0, -1)) {
        if (!job || (ids !== 'all' && !ids.includes(String(job.id)))) continue;
        // A fresh retry budget: otherwise one transient failure during the replay dead-letters it again.
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        replayed++;
      }
    }
    return replayed;
  });
}
