/**
 * What fhir-risk remembers per source resource, in Redis (ids and versions only):
 * - the newest version processed, so a late retry of an older version is dropped as stale;
 * - the patient it belongs to, so a DELETE notification (which names no patient) can re-score.
 */
import type { Redis } from 'ioredis';

export interface SeenVersion {
  versionId?: string;
  lastUpdated?: string;
}

export class ResourceIndex {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(kind: 'ver' | 'patient'): string {
    return `${this.prefix}:index:${kind}`;
  }

  async patientOf(ref: string): Promise<string | undefined> {
    return (await this.redis.hget(this.key('patient'), ref)) ?? undefined;
  }

  async rememberPatient(ref: string, patientId: string): Promise<void> {
    await this.redis.hset(this.key('patient'), ref, patientId);
  }

  /**
   * Records `seen` as the newest version of `ref` unless a newer one is already recorded.
   * Returns false when `seen` is older than what was processed (the event is stale).
   *
   * Ordering: numeric versionIds compare numerically (HAPI, Smile); otherwise `lastUpdated`
   * decides; opaque versions without timestamps (Medplum, Google) are never called stale.
   */
  async claim(ref: string, seen: SeenVersion): Promise<boolean> {
    const previousRaw = await this.redis.hget(this.key('ver'), ref);
    const previous = previousRaw ? (JSON.parse(previousRaw) as SeenVersion) : undefined;
    if (previous && isOlder(seen, previous)) return false;
    await this.redis.hset(this.key('ver'), ref, JSON.stringify(seen));
    return true;
  }
}

export function isOlder(candidate: SeenVersion, than: SeenVersion): boolean {
  const a = Number(candidate.versionId);
  const b = Number(than.versionId);
  if (candidate.versionId && than.versionId && Number.isInteger(a) && Number.isInteger(b)) return a < b;
  if (candidate.lastUpdated && than.lastUpdated) return Date.parse(candidate.lastUpdated) < Date.parse(than.lastUpdated);
  return false;
}
