/**
 * Which models a patient is waiting to be scored with, and which assessment each model last wrote:
 * one small Redis hash per patient (ids and model ids only, never clinical data).
 *
 * Why a hash and not the job data: one scoring job per patient reads the patient's data once for
 * every model an event (or several) triggered. BullMQ's deduplication keeps the first job's data
 * and drops later adds, so the models of a second event must live somewhere the pending job will
 * find them. Fields:
 * - `req:<model>` → a counter, raised by every request for that model;
 * - `last:<model>` → the identifier of the assessment last written for it.
 *
 * Crash safety: a scoring reads the requests, scores, and only then removes each request whose
 * counter it saw (compare-and-delete). A request raised meanwhile keeps its field and is scored by
 * the follow-up job BullMQ keeps for it (`keepLastIfActive`); a worker killed mid-scoring leaves
 * every request in place for the retried job. Nothing is removed before it is scored.
 */
import type { Redis } from 'ioredis';

const REQUEST = 'req:';
const LAST_WRITTEN = 'last:';

/** The hash holding one patient's requests and last-written identifiers. */
export function scoreRequestsKey(prefix: string, patientId: string): string {
  return `${prefix}:scoring:${patientId}`;
}

/** `HINCRBY key req:<model> 1` for each model, as Lua (the event worker's script embeds it). */
export const RECORD_REQUESTS_LUA = `
local function recordRequests(key, firstArg)
  for i = firstArg, #ARGV do redis.call('HINCRBY', key, 'req:' .. ARGV[i], 1) end
end`;

/**
 * KEYS[1] the patient's hash; ARGV: n settled, then n × (model, counter seen), then the rest as
 * (model, identifier) pairs written. Removes a request only if nobody raised it since it was read.
 */
const SETTLE_LUA = `
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local field = 'req:' .. ARGV[2 + 2 * i]
  if redis.call('HGET', KEYS[1], field) == ARGV[3 + 2 * i] then redis.call('HDEL', KEYS[1], field) end
end
for i = 2 + 2 * n, #ARGV, 2 do redis.call('HSET', KEYS[1], 'last:' .. ARGV[i], ARGV[i + 1]) end
return n`;

const RECORD_LUA = `${RECORD_REQUESTS_LUA}
recordRequests(KEYS[1], 1)
return #ARGV`;

interface ScoringCommands {
  fhirRiskSettleScoring(key: string, ...args: string[]): Promise<number>;
  fhirRiskRecordScoring(key: string, ...args: string[]): Promise<number>;
}

/** What a scoring finds for its patient when it starts. */
export interface PatientScoringState {
  /** Requested model → the counter seen (hand it back to `settle`). */
  readonly requested: ReadonlyMap<string, string>;
  /** Model → identifier of the assessment last written for this patient. */
  readonly lastWritten: ReadonlyMap<string, string>;
}

export class ScoreRequests {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    // defineCommand: EVALSHA after the first call instead of sending the script every time.
    if (!('fhirRiskSettleScoring' in redis)) {
      redis.defineCommand('fhirRiskSettleScoring', { numberOfKeys: 1, lua: SETTLE_LUA });
      redis.defineCommand('fhirRiskRecordScoring', { numberOfKeys: 1, lua: RECORD_LUA });
    }
  }

  private get commands(): ScoringCommands {
    return this.redis as unknown as ScoringCommands;
  }

  private key(patientId: string): string {
    return scoreRequestsKey(this.prefix, patientId);
  }

  /** Asks for a scoring of `patientId` with each of `modelIds` (the job that does it is queued separately). */
  async record(patientId: string, modelIds: readonly string[]): Promise<void> {
    if (modelIds.length === 0) return;
    await this.commands.fhirRiskRecordScoring(this.key(patientId), ...modelIds);
  }

  async read(patientId: string): Promise<PatientScoringState> {
    const fields = await this.redis.hgetall(this.key(patientId));
    const requested = new Map<string, string>();
    const lastWritten = new Map<string, string>();
    for (const [field, value] of Object.entries(fields)) {
      if (field.startsWith(REQUEST)) requested.set(field.slice(REQUEST.length), value);
      else if (field.startsWith(LAST_WRITTEN)) lastWritten.set(field.slice(LAST_WRITTEN.length), value);
    }
    return { requested, lastWritten };
  }

  /**
   * Removes the requests that were scored (unless raised again since `read`) and records the
   * identifiers written, in one atomic step.
   */
  async settle(patientId: string, scored: ReadonlyMap<string, string>, written: ReadonlyMap<string, string>): Promise<void> {
    if (scored.size === 0 && written.size === 0) return;
    const args = [String(scored.size), ...[...scored].flat(), ...[...written].flat()];
    await this.commands.fhirRiskSettleScoring(this.key(patientId), ...args);
  }
}
