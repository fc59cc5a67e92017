/**
 * Redis connections for BullMQ.
 *
 * Producers (ingress) fail fast when Redis is down, so a notification gets 503 + Retry-After
 * instead of hanging until the sender times out; workers wait for Redis to come back
 * (`maxRetriesPerRequest: null`, as BullMQ requires for blocking connections).
 */
import { Redis, type RedisOptions } from 'ioredis';

export function createProducerConnection(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: false,
  } satisfies RedisOptions);
}

export function createWorkerConnection(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  } satisfies RedisOptions);
}

/**
 * Waits until the connection is ready, for one-shot commands (`sweep`, `backfill`): the
 * producer connection fails fast by design, so using it before it connects would fail at once.
 * Throws a one-line error naming the URL when Redis does not answer in time.
 */
export async function waitUntilReady(connection: Redis, url: string, timeoutMs = 5000): Promise<void> {
  if (connection.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      connection.off('ready', onReady);
      reject(new Error(`Redis at ${url.replace(/\/\/[^@/]*@/, '//')} did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    connection.once('ready', onReady);
  });
}

/** Resolves true when Redis answers PING within `timeoutMs`. */
export async function redisAnswers(connection: Redis, timeoutMs = 1000): Promise<boolean> {
  try {
    const pong = await Promise.race([
      connection.ping(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref()),
    ]);
    return pong === 'PONG';
  } catch {
    return false;
  }
}
