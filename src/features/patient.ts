/**
 * Demographics read from the Patient resource: sex, race, age, deceased.
 */
import type { Patient } from 'fhir/r4.js';
import { completedYears, parseFhirDateTime } from './time.ts';

export const US_CORE_BIRTHSEX = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex';
export const US_CORE_RACE = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';

export type Sex = 'female' | 'male';

/** `Patient.gender` when female/male; otherwise the US Core birth sex (F/M); otherwise undefined. */
export function patientSex(patient: Patient): Sex | undefined {
  if (patient.gender === 'female' || patient.gender === 'male') return patient.gender;
  const birthSex = patient.extension?.find((e) => e.url === US_CORE_BIRTHSEX)?.valueCode;
  return birthSex === 'F' ? 'female' : birthSex === 'M' ? 'male' : undefined;
}

/** Words for a sex we cannot use, for diagnostics (`other`, `unknown`, or `not recorded`). */
export function describeSex(patient: Patient): string {
  return patient.gender ?? 'not recorded';
}

/** OMB race category codes (`urn:oid:2.16.840.1.113883.6.238`) from the US Core race extension. */
export function ombRaceCodes(patient: Patient): string[] {
  const race = patient.extension?.find((e) => e.url === US_CORE_RACE);
  return (race?.extension ?? [])
    .filter((e) => e.url === 'ombCategory')
    .map((e) => e.valueCoding?.code)
    .filter((c): c is string => typeof c === 'string');
}

/** Dead at `at`: `deceasedBoolean` true, or a `deceasedDateTime` on or before `at`. */
export function isDeceasedAt(patient: Patient, at: Date): boolean {
  if (patient.deceasedBoolean === true) return true;
  const died = parseFhirDateTime(patient.deceasedDateTime);
  return died !== undefined && died.getTime() <= at.getTime();
}

/** Completed years at `at`; undefined without a birth date. */
export function ageAt(patient: Patient, at: Date): number | undefined {
  return completedYears(patient.birthDate, at);
}
