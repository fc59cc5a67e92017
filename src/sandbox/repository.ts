/**
 * `SandboxRepository`: Medplum's `MemoryRepository` made to behave like a HAPI-style server.
 *
 * What it adds to `MemoryRepository`, and why:
 * - numeric `meta.versionId` (1, 2, 3 …, a delete consumes one) and a server-assigned
 *   `meta.lastUpdated` on every write, as HAPI does; Medplum's in-memory store uses UUIDs and keeps
 *   whatever `lastUpdated` the client sent, which breaks `_lastUpdated` sweeps;
 * - a change journal, so the HTTP layer can roll back a failed transaction Bundle and hand only
 *   committed changes to subscription delivery;
 * - tombstones, so reading a deleted resource answers 410 Gone and its history stays readable;
 * - a patient index, so `Observation?patient=…` does not run FHIRPath over every Observation of
 *   every loaded patient (the demo loads ~100k resources);
 * - a search that sorts on several keys correctly and never mutates stored history.
 *
 * It reaches into two private maps of `MemoryRepository` (`resources`, `history`) for rollback and
 * search; both are plain maps in @medplum/fhir-router 4.5.2 (pinned). `internals()` is the only
 * place that does so.
 */
import {
  evalFhirPath,
  getSearchParameter,
  gone,
  notFound,
  OperationOutcomeError,
  Operator,
  type SearchRequest,
  type SortRule,
  type WithId,
} from '@medplum/core';
import type { Bundle as MBundle, BundleEntry as MBundleEntry, Resource as MResource } from '@medplum/fhirtypes';
import { MemoryRepository } from '@medplum/fhir-router';
import type { FhirResource } from 'fhir/r4.js';
import { matchesSearch } from './matching.ts';

/** What a write did, as subscription delivery and the HTTP layer see it. */
export type ChangeInteraction = 'create' | 'update' | 'delete';

export interface ResourceChange {
  readonly interaction: ChangeInteraction;
  readonly resourceType: string;
  readonly id: string;
  /** The version this change produced (for a delete, the version the delete consumed). */
  readonly versionId: string;
  /** When the change was stored (`meta.lastUpdated` of the new version; time of a delete). */
  readonly timestamp: string;
  /** The version written; for a delete, the last version before it (what subscriptions match on). */
  readonly resource: FhirResource;
}

interface Tombstone {
  readonly versionId: string;
  readonly deletedAt: string;
}

interface JournalEntry {
  readonly change: ResourceChange;
  readonly previous: MResource | undefined;
  readonly previousVersion: number | undefined;
}

interface MemoryRepositoryInternals {
  readonly resources: Map<string, Map<string, MResource>>;
  readonly history: Map<string, Map<string, MResource[]>>;
}

/**
 * Resource types whose `patient` search parameter is exactly their `subject` (or `patient`)
 * reference to a Patient: for these, the patient index gives an exact candidate set.
 */
const PATIENT_FIELD: Readonly<Record<string, 'subject' | 'patient'>> = {
  Observation: 'subject',
  Condition: 'subject',
  Encounter: 'subject',
  MedicationRequest: 'subject',
  MedicationStatement: 'subject',
  RiskAssessment: 'subject',
  DiagnosticReport: 'subject',
  Procedure: 'subject',
  ServiceRequest: 'subject',
  CarePlan: 'subject',
  AllergyIntolerance: 'patient',
  Immunization: 'patient',
};

export class SandboxRepository extends MemoryRepository {
  private readonly versions = new Map<string, number>();
  private readonly tombstones = new Map<string, Tombstone[]>();
  /** resourceType → `Patient/<id>` → ids of that type referring to the patient. */
  private readonly patientIndex = new Map<string, Map<string, Set<string>>>();
  private journal: JournalEntry[] | undefined;
  private changeListener: ((changes: ResourceChange[]) => void) | undefined;

  /**
   * Receives changes made outside a unit of work (direct calls on the repository, e.g. from a
   * test). Changes made inside one are returned by `commit()` instead.
   */
  setChangeListener(listener: ((changes: ResourceChange[]) => void) | undefined): void {
    this.changeListener = listener;
  }

  /** Starts recording changes. Callers serialize units of work (the sandbox's write lock). */
  beginUnitOfWork(): void {
    if (this.journal) throw new Error('SandboxRepository: a unit of work is already open');
    this.journal = [];
  }

  /** Ends the unit of work, keeping its changes; returns them in the order they happened. */
  commit(): ResourceChange[] {
    const entries = this.journal ?? [];
    this.journal = undefined;
    return entries.map((e) => e.change);
  }

  /** Ends the unit of work, undoing every change it recorded (newest first). */
  rollback(): void {
    const entries = this.journal ?? [];
    this.journal = undefined;
    const { resources, history } = this.internals();
    for (const { change, previous, previousVersion } of entries.reverse()) {
      const { resourceType, id } = change;
      const key = `${resourceType}/${id}`;
      const current = resources.get(resourceType)?.get(id);
      if (change.interaction === 'delete') this.tombstones.get(key)?.pop();
      else history.get(resourceType)?.get(id)?.pop();
      if (previous) mapFor(resources, resourceType).set(id, previous);
      else resources.get(resourceType)?.delete(id);
      if (previousVersion === undefined) this.versions.delete(key);
      else this.versions.set(key, previousVersion);
      this.reindex(resourceType, id, current, previous);
    }
  }

  /** True when the resource exists now (not deleted, ever created). */
  exists(resourceType: string, id: string): boolean {
    return this.internals().resources.get(resourceType)?.has(id) ?? false;
  }

  /** Every current resource of a type (stored objects: do not mutate). For tests and benchmarks. */
  count(resourceType: string): number {
    return this.internals().resources.get(resourceType)?.size ?? 0;
  }

  override async createResource<T extends MResource>(resource: T): Promise<WithId<T>> {
    const id = resource.id ?? this.generateId();
    const { resourceType } = resource;
    const key = `${resourceType}/${id}`;
    const previous = this.internals().resources.get(resourceType)?.get(id);
    const previousVersion = this.versions.get(key);
    const versionId = String((previousVersion ?? 0) + 1);
    const lastUpdated = new Date().toISOString();
    const saved = await super.createResource({ ...resource, id, meta: { ...resource.meta, versionId, lastUpdated } });
    this.versions.set(key, Number(versionId));
    this.reindex(resourceType, id, previous, saved);
    this.record({
      change: {
        interaction: previous ? 'update' : 'create',
        resourceType,
        id,
        versionId,
        timestamp: lastUpdated,
        resource: toR4(saved),
      },
      previous,
      previousVersion,
    });
    return saved;
  }

  override async deleteResource(resourceType: string, id: string): Promise<void> {
    const previous = this.internals().resources.get(resourceType)?.get(id);
    if (!previous) throw new OperationOutcomeError(notFound);
    await super.deleteResource(resourceType, id);
    const key = `${resourceType}/${id}`;
    const previousVersion = this.versions.get(key);
    const versionId = String((previousVersion ?? 0) + 1);
    const deletedAt = new Date().toISOString();
    this.versions.set(key, Number(versionId));
    const stones = this.tombstones.get(key) ?? [];
    stones.push({ versionId, deletedAt });
    this.tombstones.set(key, stones);
    this.reindex(resourceType, id, previous, undefined);
    this.record({
      change: { interaction: 'delete', resourceType, id, versionId, timestamp: deletedAt, resource: toR4(previous) },
      previous,
      previousVersion,
    });
  }

  /** Like `MemoryRepository.readResource`, but a deleted resource is 410 Gone, as on HAPI. */
  override async readResource<T extends MResource>(resourceType: string, id: string): Promise<T> {
    const current = this.internals().resources.get(resourceType)?.get(id);
    if (current) return structuredClone(current) as T;
    if (this.tombstones.has(`${resourceType}/${id}`)) throw new OperationOutcomeError(gone);
    throw new OperationOutcomeError(notFound);
  }

  /** Any stored version, including versions of a resource deleted since. */
  override async readVersion<T extends MResource>(resourceType: string, id: string, versionId: string): Promise<T> {
    const version = this.internals()
      .history.get(resourceType)
      ?.get(id)
      ?.find((v) => v.meta?.versionId === versionId);
    if (!version) throw new OperationOutcomeError(notFound);
    return structuredClone(version) as T;
  }

  /**
   * Instance history, newest first, with `request`/`response` on each entry and delete entries,
   * as a FHIR history Bundle. (`MemoryRepository.readHistory` reverses its stored array in place.)
   */
  override async readHistory<T extends MResource>(resourceType: string, id: string): Promise<MBundle<T>> {
    const versions = this.internals().history.get(resourceType)?.get(id) ?? [];
    const stones = this.tombstones.get(`${resourceType}/${id}`) ?? [];
    if (versions.length === 0) throw new OperationOutcomeError(notFound);
    const entries: { version: number; entry: MBundleEntry<T> }[] = [];
    for (const v of versions) {
      const version = Number(v.meta?.versionId);
      entries.push({
        version,
        entry: {
          resource: structuredClone(v) as T,
          request: { method: version === 1 ? 'POST' : 'PUT', url: version === 1 ? resourceType : `${resourceType}/${id}` },
          response: {
            status: version === 1 ? '201' : '200',
            etag: `W/"${version}"`,
            lastModified: v.meta?.lastUpdated,
          },
        },
      });
    }
    for (const s of stones) {
      entries.push({
        version: Number(s.versionId),
        entry: {
          request: { method: 'DELETE', url: `${resourceType}/${id}` },
          response: { status: '204', etag: `W/"${s.versionId}"`, lastModified: s.deletedAt },
        },
      });
    }
    entries.sort((a, b) => b.version - a.version);
    return { resourceType: 'Bundle', type: 'history', total: entries.length, entry: entries.map((e) => e.entry) };
  }

  /**
   * Search over current resources: candidates from the patient index when the search names a
   * patient, then `matchesSearch` (Medplum's matcher), multi-key sort, offset and count.
   */
  override async search<T extends MResource>(searchRequest: SearchRequest<T>): Promise<MBundle<WithId<T>>> {
    const matches: MResource[] = [];
    for (const resource of this.candidates(searchRequest)) {
      if (matchesSearch(resource, searchRequest)) matches.push(resource);
    }
    if (searchRequest.sortRules?.length) sortResources(matches, searchRequest.sortRules);
    const offset = searchRequest.offset ?? 0;
    const page = searchRequest.count === undefined ? matches.slice(offset) : matches.slice(offset, offset + searchRequest.count);
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      total: matches.length,
      entry: page.length ? page.map((r) => ({ resource: structuredClone(r) as WithId<T> })) : undefined,
    };
  }

  private *candidates(searchRequest: SearchRequest): Iterable<MResource> {
    const { resourceType } = searchRequest;
    const all = this.internals().resources.get(resourceType);
    if (!all) return;
    const patients = PATIENT_FIELD[resourceType] ? patientFilterValues(searchRequest) : undefined;
    if (!patients) {
      yield* all.values();
      return;
    }
    const byPatient = this.patientIndex.get(resourceType);
    const seen = new Set<string>();
    for (const patient of patients) {
      for (const id of byPatient?.get(patient) ?? []) {
        const resource = all.get(id);
        if (resource && !seen.has(id)) {
          seen.add(id);
          yield resource;
        }
      }
    }
  }

  private reindex(resourceType: string, id: string, before: MResource | undefined, after: MResource | undefined): void {
    const field = PATIENT_FIELD[resourceType];
    if (!field) return;
    const index = this.patientIndex.get(resourceType) ?? new Map<string, Set<string>>();
    this.patientIndex.set(resourceType, index);
    const oldRef = before ? patientReference(before, field) : undefined;
    const newRef = after ? patientReference(after, field) : undefined;
    if (oldRef && oldRef !== newRef) index.get(oldRef)?.delete(id);
    if (newRef) {
      const ids = index.get(newRef) ?? new Set<string>();
      ids.add(id);
      index.set(newRef, ids);
    }
  }

  private record(entry: JournalEntry): void {
    if (this.journal) this.journal.push(entry);
    else this.changeListener?.([entry.change]);
  }

  private internals(): MemoryRepositoryInternals {
    return this as unknown as MemoryRepositoryInternals;
  }
}

function mapFor<V>(maps: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let map = maps.get(key);
  if (!map) {
    map = new Map();
    maps.set(key, map);
  }
  return map;
}

function patientReference(resource: MResource, field: 'subject' | 'patient'): string | undefined {
  const ref = (resource as unknown as Record<string, { reference?: string } | undefined>)[field]?.reference;
  return ref?.startsWith('Patient/') ? ref : undefined;
}

/**
 * The `Patient/<id>` values of a plain equality filter on `patient` (or on `subject` naming
 * Patients), or undefined when the search does not pin the patient that way.
 */
function patientFilterValues(searchRequest: SearchRequest): string[] | undefined {
  for (const filter of searchRequest.filters ?? []) {
    if (filter.operator !== Operator.EQUALS) continue;
    if (filter.code !== 'patient' && filter.code !== 'subject') continue;
    const values = filter.value.split(',');
    if (values.every((v) => v.startsWith('Patient/'))) return values;
  }
  return undefined;
}

/** A stable multi-key sort: the first rule decides, later rules break ties. Missing values sort last. */
function sortResources(resources: MResource[], rules: readonly SortRule[]): void {
  const keys = new Map<MResource, (string | number | undefined)[]>();
  for (const r of resources) keys.set(r, rules.map((rule) => sortKey(r, rule.code)));
  resources.sort((a, b) => {
    const ka = keys.get(a) ?? [];
    const kb = keys.get(b) ?? [];
    for (let i = 0; i < rules.length; i++) {
      const [x, y] = [ka[i], kb[i]];
      if (x === undefined || y === undefined) {
        if (x !== y) return x === undefined ? 1 : -1;
        continue;
      }
      const cmp = compareKeys(x, y);
      if (cmp !== 0) return rules[i]?.descending ? -cmp : cmp;
    }
    return 0;
  });
}

function sortKey(resource: MResource, code: string): string | number | undefined {
  if (code === '_lastUpdated') return resource.meta?.lastUpdated;
  if (code === '_id') return resource.id;
  const expression = getSearchParameter(resource.resourceType, code)?.expression;
  if (!expression) return undefined;
  const first = evalFhirPath(expression, resource)[0];
  if (first === undefined || first === null) return undefined;
  if (typeof first === 'number' || typeof first === 'string') return first;
  if (typeof first === 'object') {
    const o = first as Record<string, unknown>;
    for (const k of ['start', 'value', 'code', 'reference', 'display', 'text']) {
      const v = o[k];
      if (typeof v === 'string' || typeof v === 'number') return v;
    }
    const coding = (o.coding as { code?: string }[] | undefined)?.[0]?.code;
    if (coding) return coding;
  }
  return JSON.stringify(first);
}

function compareKeys(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Medplum's and @types/fhir's Resource describe the same JSON; this is the one crossing point. */
export function toR4(resource: MResource): FhirResource {
  return resource as unknown as FhirResource;
}
