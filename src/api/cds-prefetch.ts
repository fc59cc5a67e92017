/**
 * CDS Hooks prefetch: the templates fhir-risk advertises (derived from the loaded models' feature
 * specs, so they ask for exactly what `gatherPatientRecord` would read) and the reading of what a
 * CDS client sent back under those keys.
 *
 * Per the spec, a key the client did not satisfy is absent, a key it satisfied with no data is
 * `null`, and a search result is a `searchset` Bundle without a `next` link. Anything else under
 * one of our keys is treated as "not prefetched": fhir-risk then fetches it itself.
 */
import type { Bundle, FhirResource, Patient, RiskAssessment } from 'fhir/r4.js';
import { patientSearches, searchUrl, type PatientSearch } from '../features/gather.ts';
import { patientIdOf } from '../features/references.ts';
import type { ValueSetIndex } from '../features/value-sets.ts';
import type { ModelManifest } from '../models/manifest.ts';
import { ASSESSMENT_IDENTIFIER_SYSTEM } from '../writeback/identifier.ts';

/** The prefetch token of the patient in context. */
export const PATIENT_TOKEN = '{{context.patientId}}';

/** Prefetch keys, one per kind of data. */
export const PREFETCH_KEYS = {
  patient: 'patient',
  Observation: 'observations',
  Condition: 'conditions',
  MedicationRequest: 'medications',
  riskAssessments: 'riskAssessments',
} as const;

type SearchType = PatientSearch['resourceType'];

/** A FHIR id that cannot occur in a template, replaced by the token after the URL is built. */
const ID_PLACEHOLDER = 'fhir-risk-cds-patient-id-placeholder';

/** How many stored assessments to prefetch: enough for the latest of every model over a few re-scorings. */
export const STORED_ASSESSMENTS_COUNT = 100;

/**
 * The searches for a patient's latest fhir-risk assessments, as `EhrClient.search` params.
 * `subject` is written `Patient/<id>`: RiskAssessment.subject may also be a Group, and R4 asks
 * for the type when a reference parameter has several target types.
 */
export function storedAssessmentsSearch(patientId: string): Record<string, string> {
  return {
    subject: `Patient/${patientId}`,
    identifier: `${ASSESSMENT_IDENTIFIER_SYSTEM}|`,
    _sort: '-date',
    _count: String(STORED_ASSESSMENTS_COUNT),
  };
}

/**
 * The discovery `prefetch` object: the Patient, one search per resource type the models read
 * (Observations by every code any feature uses, Conditions and MedicationRequests when a model
 * uses them), and the latest fhir-risk RiskAssessments.
 */
export function prefetchTemplates(manifests: readonly ModelManifest[], valueSets: ValueSetIndex): Record<string, string> {
  const templates: Record<string, string> = { [PREFETCH_KEYS.patient]: `Patient/${PATIENT_TOKEN}` };
  for (const search of patientSearches(ID_PLACEHOLDER, manifests, valueSets)) {
    templates[PREFETCH_KEYS[search.resourceType]] = searchUrl(search).replace(ID_PLACEHOLDER, PATIENT_TOKEN);
  }
  const stored = storedAssessmentsSearch(ID_PLACEHOLDER);
  templates[PREFETCH_KEYS.riskAssessments] =
    `RiskAssessment?subject=Patient/${PATIENT_TOKEN}&identifier=${stored.identifier}&_sort=${stored._sort}&_count=${stored._count}`;
  return templates;
}

/** What a request's prefetch holds, once checked against our templates. */
export interface PrefetchedData {
  /** The Patient in context, when prefetched (and really that patient). */
  readonly patient?: Patient;
  /** Resources by search type, for the searches the client answered completely. */
  readonly searches: ReadonlyMap<SearchType, readonly FhirResource[]>;
  /** fhir-risk RiskAssessments of the patient, when the client prefetched them. */
  readonly riskAssessments?: readonly RiskAssessment[];
  /** Keys present but unusable (wrong type, another patient, a `next` link), for the debug log. */
  readonly ignored: readonly string[];
}

/** Reads the request's `prefetch` for the patient in context. Never throws: bad data is ignored. */
export function readPrefetch(prefetch: Readonly<Record<string, unknown>> | undefined, patientId: string): PrefetchedData {
  const ignored: string[] = [];
  const searches = new Map<SearchType, readonly FhirResource[]>();
  if (!prefetch) return { searches, ignored };

  let patient: Patient | undefined;
  const rawPatient = prefetch[PREFETCH_KEYS.patient];
  if (rawPatient !== undefined && rawPatient !== null) {
    const candidate = rawPatient as Partial<Patient>;
    if (candidate.resourceType === 'Patient' && candidate.id === patientId) patient = candidate as Patient;
    else ignored.push(PREFETCH_KEYS.patient);
  }

  for (const type of ['Observation', 'Condition', 'MedicationRequest'] as const) {
    const key = PREFETCH_KEYS[type];
    if (!(key in prefetch)) continue;
    const found = searchResults(prefetch[key], patientId, type);
    if (found) searches.set(type, found);
    else ignored.push(key);
  }

  let riskAssessments: RiskAssessment[] | undefined;
  if (PREFETCH_KEYS.riskAssessments in prefetch) {
    riskAssessments = searchResults(prefetch[PREFETCH_KEYS.riskAssessments], patientId, 'RiskAssessment') as RiskAssessment[] | undefined;
    if (!riskAssessments) ignored.push(PREFETCH_KEYS.riskAssessments);
  }

  return { ...(patient ? { patient } : {}), searches, ...(riskAssessments ? { riskAssessments } : {}), ignored };
}

/**
 * The resources of `type` about the patient in a prefetched search result: `null` means "no
 * data" (an empty result); undefined means unusable (not a searchset Bundle, or cut short).
 */
function searchResults(value: unknown, patientId: string, type: FhirResource['resourceType']): FhirResource[] | undefined {
  if (value === null) return [];
  const bundle = value as Partial<Bundle>;
  if (bundle?.resourceType !== 'Bundle' || (bundle.type !== undefined && bundle.type !== 'searchset')) return undefined;
  // The spec forbids paged prefetch; a next link means the client sent only part of the data.
  if (bundle.link?.some((l) => l.relation === 'next')) return undefined;
  return (bundle.entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is FhirResource => r?.resourceType === type && patientIdOf(r) === patientId);
}

/** Whether the prefetch holds everything `manifest` reads: the Patient and each of its searches. */
export function prefetchCovers(data: PrefetchedData, manifest: ModelManifest, valueSets: ValueSetIndex): boolean {
  if (!data.patient) return false;
  return patientSearches(data.patient.id ?? ID_PLACEHOLDER, [manifest], valueSets).every((s) => data.searches.has(s.resourceType));
}
