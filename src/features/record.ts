/**
 * Assembling a PatientRecord from loose resources.
 */
import type { Condition, FhirResource, MedicationRequest, MedicationStatement, Observation, Patient } from 'fhir/r4.js';
import type { PatientRecord } from './types.ts';

/** Sorts resources into a PatientRecord by type. */
export function recordOf(patient: Patient, resources: readonly FhirResource[]): PatientRecord {
  const observations: Observation[] = [];
  const conditions: Condition[] = [];
  const medications: (MedicationRequest | MedicationStatement)[] = [];
  for (const r of resources) {
    if (r.resourceType === 'Observation') observations.push(r);
    else if (r.resourceType === 'Condition') conditions.push(r);
    else if (r.resourceType === 'MedicationRequest' || r.resourceType === 'MedicationStatement') medications.push(r);
  }
  return { patient, observations, conditions, medications };
}
