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

// One call per event-loop tick for every observation of that tick, applied in arrival order (so
// two notifications of one subscription are applied in order). One command instead of one per
// notification: ioredis spends 15–25 µs of CPU per command.
// KEYS[1] = index set, KEYS[1 + i] = subscription hash of observation i. ARGV, 6 per observation:
// reference, seenAtMs, heartbeatPeriod ('' = unchanged), mode ('' = no counter step), lowest,
// highest. Returns one reply per observation: {} or {from, to} (a gap).
const OBSERVE_SCRIPT = `
local replies = {}
for i = 1, #KEYS - 1 do
  local key = KEYS[1 + i]
  local a = (i - 1) * 6
  local reply = {}
  redis.call('SADD', KEYS[1], ARGV[a + 1])
  local seen = tonumber(redis.call('HGET', key, 'seenAt'))
  local at = tonumber(ARGV[a + 2])
  if seen == nil or at > seen then redis.call('HSET', key, 'seenAt', ARGV[a + 2]) end
  if ARGV[a + 3] ~= '' then redis.call('HSET', key, 'heartbeatPeriod', ARGV[a + 3]) end
  local mode = ARGV[a + 4]
  if mode ~= '' then
    local lowest = tonumber(ARGV[a + 5])
    local highest = tonumber(ARGV[a + 6])
    local last = tonumber(redis.call('HGET', key, 'last'))
    if mode == 'reset' or last == nil then
      redis.call('HSET', key, 'last', highest)
    elseif highest < last then
      if mode == 'authoritative' or lowest <= 1 then redis.call('HSET', key, 'last', highest) end
    else
      redis.call('HSET', key, 'last', highest)
      if lowest > last + 1 then reply = {last + 1, lowest - 1} end
    end
  end
  replies[i] = reply
end
return replies
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
    // numberOfKeys varies with the tick's observations: given per call.
    redis.defineCommand(OBSERVE_COMMAND, { lua: OBSERVE_SCRIPT });
  }

  /** Observations waiting for this tick's script call (see `flush`). */
  private pending: { key: string; args: string[]; resolve: (reply: unknown) => void; reject: (err: unknown) => void }[] = [];

  async observe(observation: SubscriptionObservation): Promise<EventGap | undefined> {
    const step = counterStep(observation);
    const key = this.subscriptionKey(observation.subscription);
    const args = [
      observation.subscription,
      String(observation.at.getTime()),
      observation.heartbeatPeriodSeconds === undefined ? '' : String(observation.heartbeatPeriodSeconds),
      step?.mode ?? '',
      String(step?.lowest ?? 0),
      String(step?.highest ?? 0),
    ];
    const result = (await new Promise<unknown>((resolve, reject) => {
      this.pending.push({ key, args, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    })) as number[];
    if (result.length !== 2) return undefined;
    return { subscription: observation.subscription, from: Number(result[0]), to: Number(result[1]) };
  }

  /**
   * Sends every observation of this tick in one script call, in arrival order: under a burst, one
   * command and one socket write instead of one per notification, as the event sink batches its
   * writes.
   */
  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const keys = [this.indexKey(), ...batch.map((o) => o.key)];
    const observe = (this.redis as unknown as Record<typeof OBSERVE_COMMAND, (numberOfKeys: number, ...keysAndArgs: string[]) => Promise<unknown[]>>)[OBSERVE_COMMAND];
    observe.call(this.redis, keys.length, ...keys, ...batch.flatMap((o) => o.args)).then(
      (replies) =>
        batch.forEach(({ resolve, reject }, i) => {
          if (replies?.[i] === undefined) reject(new Error('no reply from Redis'));
          else resolve(replies[i]);
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
