/**
 * The ingest micro-batcher (src/pipeline/event-sink.ts `EnqueueBatcher`) with a stand-in queue
 * (named as such: it records `addBulk` calls), to control batching and failures exactly; the
 * e2e tests cover the same path against real Redis. Motivated by the ingest benchmark (bench/ingest).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Queue } from 'bullmq';
import { EnqueueBatcher } from './event-sink.ts';
import type { EventJobData } from './jobs.ts';

type Job = Parameters<Queue<EventJobData>['addBulk']>[0][number];

/** A stand-in for BullMQ's Queue: records each addBulk; fails any call holding a job named `poison`; `hang` never answers. */
function recordingQueue(mode: 'ok' | 'hang' = 'ok') {
  const calls: string[][] = [];
  const queue = {
    addBulk(jobs: Job[]): Promise<unknown[]> {
      calls.push(jobs.map((j) => j.opts?.jobId ?? ''));
      if (mode === 'hang') return new Promise(() => undefined);
      if (jobs.some((j) => j.name === 'poison')) return Promise.reject(new Error('ERR script failed'));
      return Promise.resolve(jobs);
    },
  };
  return { calls, queue: queue as unknown as Queue<EventJobData> };
}

const job = (id: string, name = 'changed'): Job => ({ name, data: {} as EventJobData, opts: { jobId: id } });

describe('EnqueueBatcher', () => {
  it('stores what concurrent requests enqueue in one turn with one addBulk, and resolves each', async () => {
    const { calls, queue } = recordingQueue();
    const batcher = new EnqueueBatcher<Job>((jobs) => queue.addBulk([...jobs]), 1000);
    await Promise.all([batcher.write([job('a')]), batcher.write([job('b'), job('c')]), batcher.write([job('d')])]);
    assert.deepEqual(calls, [['a', 'b', 'c', 'd']]);
  });

  it('does not resolve a request before the write holding its jobs is answered', async () => {
    const { queue } = recordingQueue('hang');
    const batcher = new EnqueueBatcher<Job>((jobs) => queue.addBulk([...jobs]), 50);
    let settled = false;
    const pending = batcher.write([job('a')]).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(settled, false);
    await assert.rejects(pending, /did not answer within 50 ms/);
  });

  it('a failing batch fails only the request that cannot be stored', async () => {
    const { calls, queue } = recordingQueue();
    const batcher = new EnqueueBatcher<Job>((jobs) => queue.addBulk([...jobs]), 1000);
    const results = await Promise.allSettled([batcher.write([job('a')]), batcher.write([job('x', 'poison')]), batcher.write([job('b')])]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(calls, [['a', 'x', 'b'], ['a'], ['x'], ['b']], 'one batch, then each request on its own');
  });

  it('on a timeout every request of the batch fails at once (no retry against a Redis that does not answer)', async () => {
    const { calls, queue } = recordingQueue('hang');
    const batcher = new EnqueueBatcher<Job>((jobs) => queue.addBulk([...jobs]), 30);
    const results = await Promise.allSettled([batcher.write([job('a')]), batcher.write([job('b')])]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.equal(calls.length, 1);
  });

  it('flushes at once when a batch reaches maxJobs', async () => {
    const { calls, queue } = recordingQueue();
    const batcher = new EnqueueBatcher<Job>((jobs) => queue.addBulk([...jobs]), 1000, 3);
    await Promise.all([batcher.write([job('a'), job('b')]), batcher.write([job('c')]), batcher.write([job('d')])]);
    assert.deepEqual(calls, [['a', 'b', 'c'], ['d']]);
  });
});
