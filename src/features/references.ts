/**
 * References between resources: versioned basis references and the patient a resource is about.
 */
import type { FhirResource, Reference, Resource } from 'fhir/r4.js';

/** `Type/id/_history/vid`, or `Type/id` when the resource has no version; undefined without an id. */
export function versionedReference(resource: Resource): string | undefined {
  if (!resource.id) return undefined;
  const base = `${resource.resourceType}/${resource.id}`;
  return resource.meta?.versionId ? `${base}/_history/${resource.meta.versionId}` : base;
}

/**
 * The id in a reference to `type`: `Patient/1`, `Patient/1/_history/2`, an absolute URL
 * `https://ehr/fhir/Patient/1`, or `urn:uuid:<id>` (Bundles whose entries carry that fullUrl, as Synthea's do).
 */
export function referencedId(reference: string | undefined, type: string): string | undefined {
  if (!reference) return undefined;
  if (reference.startsWith('urn:uuid:')) return reference.slice('urn:uuid:'.length) || undefined;
  const path = reference.split(/[?#]/)[0] ?? '';
  const parts = path.split('/');
  const at = parts.lastIndexOf(type);
  const id = at >= 0 ? parts[at + 1] : undefined;
  return id ? decodeURIComponent(id) : undefined;
}

/** The patient id a clinical resource is about (`subject`, else `patient`), if it names one. */
export function patientIdOf(resource: FhirResource | Resource): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id;
  const holder = resource as { subject?: Reference; patient?: Reference };
  const ref = holder.subject ?? holder.patient;
  if (!ref?.reference) return undefined;
  if (ref.reference.startsWith('urn:uuid:')) return referencedId(ref.reference, 'Patient');
  // Only a reference to a Patient counts: a Group or Device subject names no patient.
  return /(^|\/)Patient\//.test(ref.reference) ? referencedId(ref.reference, 'Patient') : undefined;
}
