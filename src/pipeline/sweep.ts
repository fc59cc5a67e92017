/**
 * Reconciliation sweep: `_lastUpdated` searches for every model's trigger codes since the last
 * sweep, fed through the same sink as notifications (so dedup and staleness rules apply).
 *
 * It closes the gaps events leave: a server that gave up retrying (HAPI drops a notification
 * after ~60 s of failures), bulk loads that emit no events, servers without subscriptions (AWS
 * HealthLake, most Epic sites: there it is the polling mode). One sweep at a time across all
 * pods (a Redis lock); the watermark advances only when a sweep completes.
 */
import type { FhirResource, Observation } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import { expandCodeSet, type ValueSetIndex } from '../features/value-sets.ts';
import type { EhrClient } from '../fhir/client-types.ts';
import type { EventSink, ResourceEvent } from '../ingress/resource-event.ts';
import type { ModelRegistry } from '../models/types.ts';
import { logger } from '../observability/logger.ts';

export interface SweepDeps {
  ehr: EhrClient;
  sink: EventSink;
  models: ModelRegistry;
  valueSets: ValueSetIndex;
  redis: Redis;
  prefix: string;
  /** Override the watermark (e.g. `fhir-risk sweep --since`). */
  since?: Date;
}

export interface SweepResult {
  since: string;
  until: string;
  found: number;
  accepted: number;
  skipped?: 'locked';
}

/** A first sweep with no watermark looks back this far. */
const FIRST_SWEEP_LOOKBACK_MS = 24 * 3600 * 1000;
/** Codes per search request: keeps URLs well under common 8 KB limits. */
const CODES_PER_SEARCH = 40;
const LOCK_TTL_MS = 10 * 60 * 1000;

export async function runSweep(deps: SweepDeps): Promise<SweepResult> {
  const lockKey = `${deps.prefix}:sweep:lock`;
  const watermarkKey = `${deps.prefix}:sweep:watermark`;
  const until = new Date();
  const acquired = await deps.redis.set(lockKey, until.toISOString(), 'PX', LOCK_TTL_MS, 'NX');
  if (acquired !== 'OK') return { since: '', until: until.toISOString(), found: 0, accepted: 0, skipped: 'locked' };
  try {
    const stored = await deps.redis.get(watermarkKey);
    const since = deps.since ?? (stored ? new Date(stored) : new Date(until.getTime() - FIRST_SWEEP_LOOKBACK_MS));
    const codes = new Set<string>();
    for (const model of deps.models.list()) {
      for (const c of expandCodeSet(model.manifest.triggers, deps.valueSets)) codes.add(c);
    }
    let found = 0;
    let accepted = 0;
    const codeList = [...codes];
    for (const resourceType of ['Observation', 'Condition'] as const) {
      for (let i = 0; i < codeList.length; i += CODES_PER_SEARCH) {
        const resources = await deps.ehr.search<FhirResource>(resourceType, {
          code: codeList.slice(i, i + CODES_PER_SEARCH).join(','),
          _lastUpdated: `gt${since.toISOString()}`,
          _count: '500',
        });
        found += resources.length;
        const events: ResourceEvent[] = resources
          .filter((r): r is FhirResource & { id: string } => typeof r.id === 'string')
          .map((resource) => ({
            resourceType: resource.resourceType,
            id: resource.id,
            action: 'changed',
            style: 'sweep',
            resource,
            ...((resource as Observation).meta?.versionId ? { versionId: (resource as Observation).meta!.versionId! } : {}),
            ...((resource as Observation).meta?.lastUpdated ? { lastUpdated: (resource as Observation).meta!.lastUpdated! } : {}),
          }));
        if (events.length > 0) accepted += (await deps.sink.enqueue(events)).accepted;
      }
    }
    await deps.redis.set(watermarkKey, until.toISOString());
    logger.info({ since: since.toISOString(), found, accepted }, 'reconciliation sweep done');
    return { since: since.toISOString(), until: until.toISOString(), found, accepted };
  } finally {
    await deps.redis.del(lockKey);
  }
}
