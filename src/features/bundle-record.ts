/**
 * A PatientRecord from a Bundle file (`fhir-risk assess --bundle FILE`): one Patient and its
 * resources, with `urn:uuid:` references resolved inside the Bundle (as a transaction would).
 */
import type { Bundle, FhirResource, Medication, MedicationRequest, MedicationStatement, Patient } from 'fhir/r4.js';
import { InvalidInputError } from '../errors.ts';
import { recordOf } from './record.ts';
import { patientIdOf } from './references.ts';
import type { PatientRecord } from './types.ts';

/** Bundle types that carry a set of resources (not responses, history or notifications). */
const ACCEPTED_TYPES: ReadonlySet<string> = new Set(['collection', 'transaction', 'batch', 'searchset', 'document']);

/**
 * Builds the record of the Bundle's single Patient.
 * @throws InvalidInputError when the input is not a resource-carrying Bundle or does not hold exactly one Patient.
 */
export function recordFromBundle(bundle: Bundle): PatientRecord {
  if (bundle?.resourceType !== 'Bundle') throw new InvalidInputError('not a FHIR Bundle');
  if (!ACCEPTED_TYPES.has(bundle.type)) {
    throw new InvalidInputError(`Bundle type ${String(bundle.type)} is not accepted (use collection, transaction, batch or searchset)`, 422);
  }
  const entries = (bundle.entry ?? []).filter((e): e is typeof e & { resource: FhirResource } => Boolean(e.resource?.resourceType));
  // Give id-less entries (typical of POST transactions) the id their urn:uuid fullUrl names.
  const resources = entries.map((e) => {
    const r = structuredClone(e.resource);
    if (!r.id && e.fullUrl?.startsWith('urn:uuid:')) r.id = e.fullUrl.slice('urn:uuid:'.length);
    return r;
  });
  const targets = new Map<string, string>();
  entries.forEach((e, i) => {
    const r = resources[i] as FhirResource;
    if (e.fullUrl && r.id) targets.set(e.fullUrl, `${r.resourceType}/${r.id}`);
  });
  for (const r of resources) rewriteReferences(r, targets);

  const patients = resources.filter((r): r is Patient => r.resourceType === 'Patient');
  if (patients.length !== 1) throw new InvalidInputError(`the Bundle must hold exactly one Patient; it holds ${patients.length}`, 422);
  const patient = patients[0] as Patient;
  if (!patient.id) throw new InvalidInputError('the Bundle Patient has no id and no urn:uuid fullUrl', 422);

  const medications = new Map(resources.filter((r): r is Medication => r.resourceType === 'Medication').map((m) => [`Medication/${m.id}`, m]));
  const own = resources
    .filter((r) => r.resourceType !== 'Patient' && patientIdOf(r) === patient.id)
    .map((r) => (r.resourceType === 'MedicationRequest' || r.resourceType === 'MedicationStatement' ? inlineMedication(r, medications) : r));
  return recordOf(patient, own);
}

/** Replaces every `reference` that names an entry's fullUrl with that entry's `Type/id`. */
function rewriteReferences(node: unknown, targets: ReadonlyMap<string, string>): void {
  if (Array.isArray(node)) {
    for (const item of node) rewriteReferences(item, targets);
  } else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(obj)) {
      if (key === 'reference' && typeof value === 'string') obj[key] = targets.get(value) ?? value;
      else rewriteReferences(value, targets);
    }
  }
}

/** Copies a referenced Medication's code into `medicationCodeableConcept`, so matching needs no lookup later. */
function inlineMedication<T extends MedicationRequest | MedicationStatement>(med: T, medications: ReadonlyMap<string, Medication>): T {
  if (med.medicationCodeableConcept || !med.medicationReference?.reference) return med;
  const code = medications.get(med.medicationReference.reference)?.code;
  return code ? { ...med, medicationCodeableConcept: code } : med;
}
