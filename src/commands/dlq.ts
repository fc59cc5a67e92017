/**
 * `fhir-risk dlq list|replay`: jobs that exhausted their retries stay in BullMQ's failed set
 * (our dead-letter queue) until an operator replays or removes them.
 */
import { Queue } from 'bullmq';
import type { Config } from '../config.ts';
import { EVENTS_QUEUE, SCORES_QUEUE } from '../pipeline/jobs.ts';
import { createWorkerConnection } from '../pipeline/redis.ts';

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

async function withQueues<T>(config: Config, run: (queues: Queue[]) => Promise<T>): Promise<T> {
  const connection = createWorkerConnection(config.redisUrl);
  const queues = [EVENTS_QUEUE, SCORES_QUEUE].map((name) => new Queue(name, { connection, prefix: config.queuePrefix }));
  try {
    return await run(queues);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    await connection.quit();
  }
}

export async function listDeadLetters(config: Config): Promise<DeadLetter[]> {
  return withQueues(config, async (queues) => {
    const out: DeadLetter[] = [];
    for (const queue of queues) {
      for (const job of await queue.getFailed(0, 999)) {
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
    return out;
  });
}

/** Moves failed jobs back to waiting (keeping their ids, so replays stay idempotent). */
export async function replayDeadLetters(config: Config, ids: string[] | 'all'): Promise<number> {
  return withQueues(config, async (queues) => {
    let replayed = 0;
    for (const queue of queues) {
      for (const job of await queue.getFailed(0, 9999)) {
        if (ids !== 'all' && !ids.includes(String(job.id))) continue;
        await job.retry('failed');
        replayed++;
      }
    }
    return replayed;
  });
}
