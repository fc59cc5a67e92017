/**
 * What fhir-risk remembers per source resource, in Redis (ids and versions only):
 * - the newest version processed, so a late retry of an older version is dropped as stale;
 * - the patient it belongs to, so a DELETE notification (which names no patient) can re-score.
 *
 * The bookkeeping for events (version check, the resource's patient, the score requests of its
 * patient) is one Lua script call per batch of events: one command instead of four per event,
 * which was a fifth of the pipeline's CPU in socket writes alone under a burst.
 */
import type { Redis } from 'ioredis';
import { RECORD_REQUESTS_LUA, scoreRequestsKey } from './score-requests.ts';

export interface SeenVersion {
  versionId?: string;
  lastUpdated?: string;
}

/**
 * Claims a batch of events in one script call (one command, not one per event: ioredis spends
 * 20–30 µs of CPU per command, a tenth of a notification's budget). Same order as
 * {@link isOlder}; `v` and `t` are the numeric forms stored beside the JSON fields.
 * KEYS: versions hash, patients hash, then one score-requests hash per event (the patients hash as
 * a placeholder when the event asks for no scoring). ARGV per event: ref, stored JSON, numeric
 * version or '', lastUpdated epoch ms or '', patient id or '', n, then n model ids.
 * Returns 1 (fresh) or 0 (stale) per event, in order.
 */
const CLAIM_LUA = `
local results = {}
local a = 1
for e = 1, #KEYS - 2 do
  local ref, stored, version, time, patient = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local n = tonumber(ARGV[a + 5])
  local fresh = 1
  local previous = redis.call('HGET', KEYS[1], ref)
  if previous then
    local p = cjson.decode(previous)
    local pv = p.v or (type(p.versionId) == 'string' and string.match(p.versionId, '^%d+$') and tonumber(p.versionId)) or nil
    if version ~= '' and pv then
      if tonumber(version) < pv then fresh = 0 end
    elseif time ~= '' and p.t then
      if tonumber(time) < p.t then fresh = 0 end
    end
  end
  if fresh == 1 then
    redis.call('HSET', KEYS[1], ref, stored)
    if patient ~= '' then
      redis.call('HSET', KEYS[2], ref, patient)
      for i = 1, n do redis.call('HINCRBY', KEYS[2 + e], 'req:' .. ARGV[a + 5 + i], 1) end
    end
  end
  results[e] = fresh
  a = a + 6 + n
end
return results`;

const REMEMBER_LUA = `${RECORD_REQUESTS_LUA}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
recordRequests(KEYS[2], 3)
return 1`;

interface IndexCommands {
  fhirRiskClaimEvents(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number[]>;
  fhirRiskRememberPatient(patients: string, requests: string, ...args: string[]): Promise<number>;
}

/** The patient an event's resource belongs to and the models it triggers. */
export interface ScoringAsk {
  readonly patientId: string;
  readonly models: readonly string[];
}

export class ResourceIndex {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    if (!('fhirRiskClaimEvents' in redis)) {
      // numberOfKeys varies with the batch: given per call.
      redis.defineCommand('fhirRiskClaimEvents', { lua: CLAIM_LUA });
      redis.defineCommand('fhirRiskRememberPatient', { numberOfKeys: 2, lua: REMEMBER_LUA });
    }
  }

  private get commands(): IndexCommands {
    return this.redis as unknown as IndexCommands;
  }

  private key(kind: 'ver' | 'patient'): string {
    return `${this.prefix}:index:${kind}`;
  }

  async patientOf(ref: string): Promise<string | undefined> {
    return (await this.redis.hget(this.key('patient'), ref)) ?? undefined;
  }

  /** Remembers the resource's patient and records the patient's score requests (one step). */
  async rememberPatient(ref: string, ask: ScoringAsk): Promise<void> {
    await this.commands.fhirRiskRememberPatient(this.key('patient'), scoreRequestsKey(this.prefix, ask.patientId), ref, ask.patientId, ...ask.models);
  }

  /**
   * Records `seen` as the newest version of `ref` unless a newer one is already recorded.
   * Returns false when `seen` is older than what was processed (the event is stale).
   * With `ask`, a fresh event also remembers the resource's patient and records the score requests,
   * atomically with the version check.
   *
   * Ordering: numeric versionIds compare numerically (HAPI, Smile); otherwise `lastUpdated`
   * decides; opaque versions without timestamps (Medplum, Google) are never called stale.
   */
  async claim(ref: string, seen: SeenVersion, ask?: ScoringAsk): Promise<boolean> {
    const [fresh] = await this.claimMany([{ ref, seen, ...(ask ? { ask } : {}) }]);
    return fresh === true;
  }

  /** {@link claim} for many events in one script call; one answer per event, in order. */
  async claimMany(events: readonly { ref: string; seen: SeenVersion; ask?: ScoringAsk }[]): Promise<boolean[]> {
    if (events.length === 0) return [];
    const patients = this.key('patient');
    const keys = [this.key('ver'), patients];
    const args: string[] = [];
    for (const { ref, seen, ask } of events) {
      const version = seen.versionId && /^\d+$/.test(seen.versionId) ? Number(seen.versionId) : undefined;
      const time = seen.lastUpdated ? Date.parse(seen.lastUpdated) : Number.NaN;
      const stored = JSON.stringify({ ...seen, ...(version !== undefined ? { v: version } : {}), ...(Number.isFinite(time) ? { t: time } : {}) });
      const models = ask?.models ?? [];
      keys.push(ask ? scoreRequestsKey(this.prefix, ask.patientId) : patients);
      args.push(ref, stored, version !== undefined ? String(version) : '', Number.isFinite(time) ? String(time) : '', ask?.patientId ?? '', String(models.length), ...models);
    }
    const replies = await this.commands.fhirRiskClaimEvents(keys.length, ...keys, ...args);
    if (replies.length !== events.length) throw new Error(`the claim script answered ${replies.length} of ${events.length} events`);
    return replies.map((r) => r === 1);
  }
}

/** The order the claim script applies, in TypeScript (documentation and unit tests). */
export function isOlder(candidate: SeenVersion, than: SeenVersion): boolean {
  const a = Number(candidate.versionId);
  const b = Number(than.versionId);
  if (candidate.versionId && than.versionId && Number.isInteger(a) && Number.isInteger(b)) return a < b;
  if (candidate.lastUpdated && than.lastUpdated) return Date.parse(candidate.lastUpdated) < Date.parse(than.lastUpdated);
  return false;
}
