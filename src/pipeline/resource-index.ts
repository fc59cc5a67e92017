/**
 * What fhir-risk remembers per source resource, in Redis (ids and versions only):
 * - the newest version processed, so a late retry of an older version is dropped as stale;
 * - the patient it belongs to, so a DELETE notification (which names no patient) can re-score.
 *
 * The bookkeeping for one event (version check, the resource's patient, the score requests of its
 * patient) is one Lua script: one round trip per event instead of four (ingress pipelines a whole
 * batch of them), which was a fifth of the pipeline's CPU in socket writes alone under a burst.
 */
import type { Redis } from 'ioredis';
import { RECORD_REQUESTS_LUA, scoreRequestsKey } from './score-requests.ts';

export interface SeenVersion {
  versionId?: string;
  lastUpdated?: string;
}

/** Same order as {@link isOlder}, in Lua; `v` and `t` are the numeric forms stored beside the JSON fields. */
const CLAIM_LUA = `${RECORD_REQUESTS_LUA}
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous then
  local p = cjson.decode(previous)
  local pv = p.v or (type(p.versionId) == 'string' and string.match(p.versionId, '^%d+$') and tonumber(p.versionId)) or nil
  if ARGV[3] ~= '' and pv then
    if tonumber(ARGV[3]) < pv then return 0 end
  elseif ARGV[4] ~= '' and p.t then
    if tonumber(ARGV[4]) < p.t then return 0 end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
  recordRequests(KEYS[3], 6)
end
return 1`;

const REMEMBER_LUA = `${RECORD_REQUESTS_LUA}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
recordRequests(KEYS[2], 3)
return 1`;

interface IndexCommands {
  fhirRiskClaimEvent(versions: string, patients: string, requests: string, ...args: string[]): Promise<number>;
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
    if (!('fhirRiskClaimEvent' in redis)) {
      redis.defineCommand('fhirRiskClaimEvent', { numberOfKeys: 3, lua: CLAIM_LUA });
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
    return (await this.commands.fhirRiskClaimEvent(...this.claimArgs(ref, seen, ask))) === 1;
  }

  /** {@link claim} for many events in one pipelined round trip; one answer per event, in order. */
  async claimMany(events: readonly { ref: string; seen: SeenVersion; ask?: ScoringAsk }[]): Promise<boolean[]> {
    const pipeline = this.redis.pipeline() as unknown as IndexCommands & { exec(): Promise<[Error | null, unknown][] | null> };
    for (const e of events) void pipeline.fhirRiskClaimEvent(...this.claimArgs(e.ref, e.seen, e.ask));
    const replies = (await pipeline.exec()) ?? [];
    return events.map((_, i) => {
      const [err, reply] = replies[i] ?? [new Error('Redis pipeline answered fewer replies than commands'), undefined];
      if (err) throw err;
      return reply === 1;
    });
  }

  private claimArgs(ref: string, seen: SeenVersion, ask?: ScoringAsk): [string, string, string, ...string[]] {
    const version = seen.versionId && /^\d+$/.test(seen.versionId) ? Number(seen.versionId) : undefined;
    const time = seen.lastUpdated ? Date.parse(seen.lastUpdated) : Number.NaN;
    const stored = JSON.stringify({ ...seen, ...(version !== undefined ? { v: version } : {}), ...(Number.isFinite(time) ? { t: time } : {}) });
    const patients = this.key('patient');
    return [
      this.key('ver'),
      patients,
      ask ? scoreRequestsKey(this.prefix, ask.patientId) : patients,
      ref,
      stored,
      version !== undefined ? String(version) : '',
      Number.isFinite(time) ? String(time) : '',
      ask?.patientId ?? '',
      ...(ask?.models ?? []),
    ];
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
