/**
 * Redis-backed `SubscriptionTracker`, shared by every replica.
 *
 * Keys (under the prefix passed in): `<prefix>:subscription:<reference>` is a hash
 * `{ last, seenAt, heartbeatPeriod }`; `<prefix>:subscriptions` is the set of references seen.
 * The counter rules run in one Lua script (atomic), mirroring `advanceEventCounter`.
 */
import type { Redis } from 'ioredis';
import {
  counterStep,
  overdueHeartbeats,
  type EventGap,
  type OverdueHeartbeat,
  type SubscriptionObservation,
  type SubscriptionTracker,
} from './subscription-tracker.ts';

// KEYS[1] = subscription hash, KEYS[2] = index set. ARGV = reference, seenAtMs, heartbeatPeriod
// ('' = unchanged), mode ('' = no counter step), lowest, highest. Returns {} or {from, to}.
const OBSERVE_SCRIPT = `
redis.call('SADD', KEYS[2], ARGV[1])
local seen = tonumber(redis.call('HGET', KEYS[1], 'seenAt'))
local at = tonumber(ARGV[2])
if seen == nil or at > seen then redis.call('HSET', KEYS[1], 'seenAt', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'heartbeatPeriod', ARGV[3]) end
local mode = ARGV[4]
if mode == '' then return {} end
local lowest = tonumber(ARGV[5])
local highest = tonumber(ARGV[6])
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
if mode == 'reset' or last == nil then
  redis.call('HSET', KEYS[1], 'last', highest)
  return {}
end
if highest < last then
  if mode == 'authoritative' or lowest <= 1 then redis.call('HSET', KEYS[1], 'last', highest) end
  return {}
end
redis.call('HSET', KEYS[1], 'last', highest)
if lowest > last + 1 then return {last + 1, lowest - 1} end
return {}
`;

/** Name of the script command defined on the connection (EVALSHA: the script is sent once, not per call). */
const OBSERVE_COMMAND = 'fhirRiskObserveSubscription';

export class RedisSubscriptionTracker implements SubscriptionTracker {
  /**
   * @param redis - an ioredis connection (not one in subscriber mode)
   * @param keyPrefix - e.g. `fhir-risk:ingress`; keys are `<keyPrefix>:subscription:…`
   */
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {
    // ioredis sends EVALSHA and falls back to EVAL once when Redis does not know the script yet
    // (first call, or after a Redis restart): every notification used to send the whole script.
    redis.defineCommand(OBSERVE_COMMAND, { numberOfKeys: 2, lua: OBSERVE_SCRIPT });
  }

  /** Observations waiting for this tick's pipeline (see `flush`). */
  private pending: { args: string[]; resolve: (reply: unknown) => void; reject: (err: unknown) => void }[] = [];

  async observe(observation: SubscriptionObservation): Promise<EventGap | undefined> {
    const step = counterStep(observation);
    const args = [
      this.subscriptionKey(observation.subscription),
      this.indexKey(),
      observation.subscription,
      String(observation.at.getTime()),
      observation.heartbeatPeriodSeconds === undefined ? '' : String(observation.heartbeatPeriodSeconds),
      step?.mode ?? '',
      String(step?.lowest ?? 0),
      String(step?.highest ?? 0),
    ];
    const result = (await new Promise<unknown>((resolve, reject) => {
      this.pending.push({ args, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    })) as number[];
    if (result.length !== 2) return undefined;
    return { subscription: observation.subscription, from: Number(result[0]), to: Number(result[1]) };
  }

  /**
   * Sends every observation of this tick in one pipeline, in arrival order (so two notifications
   * of one subscription are applied in order): under a burst, one round trip and one socket write
   * instead of one per notification, as the event sink batches its addBulk.
   */
  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const pipeline = this.redis.pipeline() as unknown as Record<typeof OBSERVE_COMMAND, (...args: string[]) => unknown> & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (const { args } of batch) pipeline[OBSERVE_COMMAND](...args);
    pipeline.exec().then(
      (replies) =>
        batch.forEach(({ resolve, reject }, i) => {
          const [err, reply] = replies?.[i] ?? [new Error('no reply from Redis'), undefined];
          if (err) reject(err);
          else resolve(reply);
        }),
      (err: unknown) => batch.forEach(({ reject }) => reject(err)),
    );
  }

  async heartbeatStatus(now: Date): Promise<OverdueHeartbeat[]> {
    const references = await this.redis.smembers(this.indexKey());
    if (references.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const reference of references) pipeline.hmget(this.subscriptionKey(reference), 'seenAt', 'heartbeatPeriod');
    const replies = (await pipeline.exec()) ?? [];
    const entries = references.flatMap((subscription, i) => {
      const [err, values] = replies[i] ?? [];
      if (err || !Array.isArray(values)) return [];
      const [seenAt, period] = values as (string | null)[];
      if (seenAt === null || seenAt === undefined) return [];
      return [{ subscription, lastSeenMs: Number(seenAt), ...(period ? { heartbeatPeriodSeconds: Number(period) } : {}) }];
    });
    return overdueHeartbeats(entries, now);
  }

  private subscriptionKey(reference: string): string {
    return `${this.keyPrefix}:subscription:${reference}`;
  }

  private indexKey(): string {
    return `${this.keyPrefix}:subscriptions`;
  }
}
