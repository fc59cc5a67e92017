/**
 * Gathering one patient's data from the EHR in one FHIR batch: what to ask for (from the manifests),
 * how to read the answer, and paging only when a search was cut short.
 */
import type { Bundle, BundleEntry, Condition, FhirResource, MedicationRequest, Observation, OperationOutcome, Patient } from 'fhir/r4.js';
import { AuthError, InvalidInputError, NotFoundError, RetryableError } from '../errors.ts';
import type { EhrClient } from '../fhir/client-types.ts';
import type { ModelManifest } from '../models/manifest.ts';
import { panelsCarrying } from './panels.ts';
import { recordOf } from './record.ts';
import { patientIdOf } from './references.ts';
import type { PatientRecord } from './types.ts';
import { codeSetConcepts } from './value-sets.ts';
import type { CodeSetInput, ValueSetIndex } from './value-sets.ts';

export { recordFromBundle } from './bundle-record.ts';

/** Search page size. HAPI and Medplum both allow 1000; a longer history pages through `next`. */
export const PAGE_SIZE = 1000;
/** Pages followed per search when a page was full: 20 000 resources of one type is far beyond any model's need. */
export const MAX_PAGES = 20;

/** FHIR id syntax; anything else could smuggle parameters into the search URLs. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

type SearchType = 'Observation' | 'Condition' | 'MedicationRequest';

/** One search of the batch, in a form both the batch entry and `EhrClient.search` can use. */
export interface PatientSearch {
  readonly resourceType: SearchType;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * The searches the manifests need for one patient: Observations by every code any feature reads
 * (its codes, its component codes, and the known panels that carry those components), and Conditions / MedicationRequests only when some model uses them.
 */
export function patientSearches(patientId: string, manifests: readonly ModelManifest[], valueSets: ValueSetIndex): PatientSearch[] {
  if (!FHIR_ID.test(patientId)) throw new InvalidInputError(`invalid patient id: ${JSON.stringify(patientId.slice(0, 80))}`);
  const observationCodes: CodeSetInput[] = [];
  const componentCodes: CodeSetInput[] = [];
  let needsConditions = false;
  let needsMedications = false;
  for (const m of manifests) {
    if (m.population.requiresCondition || m.population.excludeConditions) needsConditions = true;
    for (const f of m.features) {
      if (f.source.type === 'observation') {
        observationCodes.push(f.source.codes);
        if (f.source.component) componentCodes.push(f.source.component);
      }
      if (f.source.type === 'condition') needsConditions = true;
      if (f.source.type === 'medication') needsMedications = true;
    }
  }
  const components = componentCodes.flatMap((s) => codeSetConcepts(s, valueSets));
  const concepts = [...observationCodes.flatMap((s) => codeSetConcepts(s, valueSets)), ...components, ...panelsCarrying(components)];
  const tokens = [...new Set(concepts.map((c) => `${c.system}|${c.code}`))].sort();
  const searches: PatientSearch[] = [];
  if (tokens.length > 0) {
    searches.push({ resourceType: 'Observation', params: { patient: patientId, code: tokens.join(','), _count: String(PAGE_SIZE), _sort: '-date' } });
  }
  if (needsConditions) searches.push({ resourceType: 'Condition', params: { patient: patientId, _count: String(PAGE_SIZE) } });
  if (needsMedications) searches.push({ resourceType: 'MedicationRequest', params: { patient: patientId, _count: String(PAGE_SIZE) } });
  return searches;
}

/** `Type?k=v&…` with each value encoded (commas between `code` tokens kept: they mean "or"). */
export function searchUrl(search: PatientSearch): string {
  const query = Object.entries(search.params)
    .map(([k, v]) => `${k}=${v.split(',').map(encodeURIComponent).join(',')}`)
    .join('&');
  return `${search.resourceType}?${query}`;
}

/**
 * The FHIR `batch` Bundle that reads everything the manifests need: `Patient/<id>` first, then the
 * searches of {@link patientSearches}.
 */
export function buildPatientQuery(patientId: string, manifests: readonly ModelManifest[], valueSets: ValueSetIndex): Bundle {
  const searches = patientSearches(patientId, manifests, valueSets);
  const entry: BundleEntry[] = [
    { request: { method: 'GET', url: `Patient/${encodeURIComponent(patientId)}` } },
    ...searches.map((s): BundleEntry => ({ request: { method: 'GET', url: searchUrl(s) } })),
  ];
  return { resourceType: 'Bundle', type: 'batch', entry };
}

interface BatchContents {
  readonly record: PatientRecord;
  /** Indexes of batch entries whose searchset has a `next` link. */
  readonly truncated: readonly number[];
}

/**
 * Reads a batch-response into a PatientRecord. Resources about another patient are dropped.
 * @throws RetryableError when an entry failed with 5xx or 429 (try the whole read again later);
 *   NotFoundError when the Patient is gone (404/410 or absent); AuthError on 401/403;
 *   InvalidInputError when the EHR rejected a search as malformed.
 */
export function parsePatientBatch(response: Bundle, patientId: string): PatientRecord {
  return readBatch(response, patientId).record;
}

function entryStatus(entry: BundleEntry): number {
  const status = Number.parseInt(entry.response?.status ?? '', 10);
  return Number.isNaN(status) ? (entry.resource ? 200 : 0) : status;
}

function outcomeText(entry: BundleEntry): string {
  const outcome = (entry.response?.outcome ?? entry.resource) as OperationOutcome | undefined;
  const text = outcome?.resourceType === 'OperationOutcome' ? outcome.issue?.[0]?.diagnostics : undefined;
  return text ? `: ${text.slice(0, 200)}` : '';
}

function readBatch(response: Bundle, patientId: string): BatchContents {
  if (response?.resourceType !== 'Bundle') throw new RetryableError('EHR batch answer is not a Bundle');
  let patient: Patient | undefined;
  let patientGone = false;
  const truncated: number[] = [];
  const found = new Map<string, FhirResource>();

  (response.entry ?? []).forEach((entry, index) => {
    const status = entryStatus(entry);
    const what = `batch entry ${index + 1}`;
    if (status >= 500 || status === 429) throw new RetryableError(`EHR answered ${status} to ${what}${outcomeText(entry)}`);
    if (status === 404 || status === 410) {
      patientGone = true;
      return;
    }
    if (status === 401 || status === 403) throw new AuthError(`EHR refused ${what} (${status})${outcomeText(entry)}`, status);
    if (status >= 400 || status === 0) throw new InvalidInputError(`EHR rejected ${what} (${status || 'no status'})${outcomeText(entry)}`, 422);
    const resource = entry.resource;
    if (resource?.resourceType === 'Patient') {
      if (resource.id === patientId) patient = resource;
      return;
    }
    if (resource?.resourceType !== 'Bundle') return;
    if (resource.link?.some((l) => l.relation === 'next')) truncated.push(index);
    for (const e of resource.entry ?? []) {
      const r = e.resource;
      if (!r || e.search?.mode === 'outcome' || patientIdOf(r) !== patientId) continue;
      found.set(`${r.resourceType}/${r.id ?? found.size}`, r);
    }
  });

  if (!patient) throw new NotFoundError(patientGone ? `Patient/${patientId} is not on the EHR (deleted or never existed)` : `EHR returned no Patient/${patientId}`);
  return { record: recordOf(patient, [...found.values()]), truncated };
}

/**
 * Reads the patient's record with one batch request; only a search whose page was full (a `next`
 * link) costs more requests: it is re-run through `client.search`, which follows `next` links.
 */
export async function gatherPatientRecord(
  client: EhrClient,
  patientId: string,
  manifests: readonly ModelManifest[],
  valueSets: ValueSetIndex,
): Promise<PatientRecord> {
  const searches = patientSearches(patientId, manifests, valueSets);
  const response = await client.batch(buildPatientQuery(patientId, manifests, valueSets));
  const { record, truncated } = readBatch(response, patientId);
  if (truncated.length === 0) return record;

  const byType = new Map<string, FhirResource[]>([
    ['Observation', [...record.observations]],
    ['Condition', [...record.conditions]],
    ['MedicationRequest', [...record.medications]],
  ]);
  for (const index of truncated) {
    const search = searches[index - 1]; // entry 0 is the Patient read
    if (!search) continue;
    const all = await client.search<Observation | Condition | MedicationRequest>(search.resourceType, { ...search.params }, MAX_PAGES);
    byType.set(search.resourceType, all.filter((r) => patientIdOf(r) === patientId));
  }
  return recordOf(record.patient, [...byType.values()].flat());
}
