/**
 * The counter rules and both tracker implementations (in-memory, and Redis against a real
 * redis-server started on a private unix socket for this file).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisSubscriptionTracker } from './redis-subscription-tracker.ts';
import {
  InMemorySubscriptionTracker,
  advanceEventCounter,
  type SubscriptionObservation,
  type SubscriptionTracker,
} from './subscription-tracker.ts';

const AT = new Date('2024-05-01T10:00:00Z');
const events = (...eventNumbers: number[]): SubscriptionObservation => ({ subscription: 'Subscription/s', kind: 'events', eventNumbers, at: AT });
const status = (kind: 'handshake' | 'heartbeat', count: number): SubscriptionObservation => ({
  subscription: 'Subscription/s',
  kind,
  eventNumbers: [],
  eventsSinceSubscriptionStart: count,
  at: AT,
});

/** Sequences of observations and the gaps each one must report; run against every implementation. */
const SCENARIOS: Array<{ name: string; steps: Array<[SubscriptionObservation, [number, number] | undefined]> }> = [
  { name: 'consecutive events: no gap', steps: [[events(1), undefined], [events(2), undefined], [events(3, 4), undefined]] },
  { name: 'first observation only sets the baseline', steps: [[events(40), undefined], [events(41), undefined]] },
  { name: 'a skipped range', steps: [[events(1), undefined], [events(5), [2, 4]], [events(6), undefined]] },
  { name: 'a repeated or late event is no gap', steps: [[events(3), undefined], [events(5), [4, 4]], [events(4), undefined], [events(6), undefined]] },
  { name: 'event 1 after a high number is a restarted counter', steps: [[events(50), undefined], [events(1), undefined], [events(2), undefined]] },
  { name: 'handshake resets', steps: [[events(9), undefined], [status('handshake', 0), undefined], [events(1), undefined]] },
  { name: 'heartbeat ahead of the last event', steps: [[events(2), undefined], [status('heartbeat', 4), [3, 4]], [events(5), undefined]] },
  { name: 'heartbeat behind means the server reset', steps: [[events(20), undefined], [status('heartbeat', 2), undefined], [events(4), [3, 3]]] },
];

function runScenarios(makeTracker: () => SubscriptionTracker | Promise<SubscriptionTracker>): void {
  for (const scenario of SCENARIOS) {
    it(scenario.name, async () => {
      const tracker = await makeTracker();
      for (const [i, [observation, gap]] of scenario.steps.entries()) {
        const found = await tracker.observe(observation);
        assert.deepEqual(found && [found.from, found.to], gap, `step ${i}`);
        if (found) assert.equal(found.subscription, 'Subscription/s');
      }
    });
  }

  it('lists only subscriptions silent for longer than their heartbeat period', async () => {
    const tracker = await makeTracker();
    await tracker.observe({ ...status('handshake', 0), subscription: 'Subscription/a', heartbeatPeriodSeconds: 60 });
    await tracker.observe({ ...status('handshake', 0), subscription: 'Subscription/b' });
    await tracker.observe({ ...status('heartbeat', 0), subscription: 'Subscription/c', heartbeatPeriodSeconds: 3600 });
    const overdue = await tracker.heartbeatStatus(new Date(AT.getTime() + 120_000));
    assert.deepEqual(overdue, [
      { subscription: 'Subscription/a', heartbeatPeriodSeconds: 60, lastNotificationAt: AT.toISOString(), silentForSeconds: 120 },
    ]);
    // A later notification (any kind) is a sign of life and keeps the known period.
    await tracker.observe({ ...events(1), subscription: 'Subscription/a', at: new Date(AT.getTime() + 100_000) });
    assert.deepEqual(await tracker.heartbeatStatus(new Date(AT.getTime() + 120_000)), []);
  });
}

describe('advanceEventCounter', () => {
  it('reports the missing range and keeps the highest number', () => {
    assert.deepEqual(advanceEventCounter(3, { mode: 'events', lowest: 6, highest: 7 }), { last: 7, gap: { from: 4, to: 5 } });
    assert.deepEqual(advanceEventCounter(7, { mode: 'events', lowest: 5, highest: 5 }), { last: 7 });
    assert.deepEqual(advanceEventCounter(undefined, { mode: 'events', lowest: 9, highest: 9 }), { last: 9 });
  });
});

describe('InMemorySubscriptionTracker', () => {
  runScenarios(() => new InMemorySubscriptionTracker());
});

describe('RedisSubscriptionTracker (real redis-server)', () => {
  let server: ChildProcess;
  let redis: Redis;
  let dir: string;
  let n = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ingress-redis-'));
    const socket = join(dir, 'redis.sock');
    server = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    // Wait for the server to create its socket, then connect once.
    for (let attempt = 0; !existsSync(socket); attempt++) {
      if (attempt > 100) throw new Error('redis-server did not start');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    redis = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });

  after(async () => {
    redis?.disconnect();
    server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  // A fresh key prefix per test keeps scenarios independent on one server.
  runScenarios(() => new RedisSubscriptionTracker(redis, `test-${++n}:ingress`));

  it('shares state between instances (replicas) with the same prefix, and only under that prefix', async () => {
    const a = new RedisSubscriptionTracker(redis, 'shared:ingress');
    const b = new RedisSubscriptionTracker(redis, 'shared:ingress');
    await a.observe(events(1));
    assert.deepEqual(await b.observe(events(3)), { subscription: 'Subscription/s', from: 2, to: 2 });
    assert.ok((await redis.exists('shared:ingress:subscription:Subscription/s')) === 1);
    assert.deepEqual(await redis.smembers('shared:ingress:subscriptions'), ['Subscription/s']);
  });
});
