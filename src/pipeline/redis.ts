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
