/**
 * One feature's raw value from its source: Patient demographics, Observations, Conditions, medications.
 */
import type { Condition, MedicationRequest, MedicationStatement } from 'fhir/r4.js';
import type { FeatureSpec } from '../models/manifest.ts';
import { isConditionActiveAt, isMedicationActiveAt, medicationCodings } from './clinical-status.ts';
import { codingKeysOf, keysOf } from './codings.ts';
import type { Extraction } from './extraction.ts';
import { extractObservationFeature } from './observations.ts';
import { ageAt, describeSex, ombRaceCodes, patientSex } from './patient.ts';
import { versionedReference } from './references.ts';
import type { PatientRecord } from './types.ts';
import { expandCodeSet } from './value-sets.ts';
import type { CodeSetInput, ValueSetIndex } from './value-sets.ts';

/** Extracts `spec`'s value as of `at` (before missing-data policy and range checks). */
export function extractFeature(spec: FeatureSpec, record: PatientRecord, at: Date, valueSets: ValueSetIndex): Extraction {
  const { patient } = record;
  const patientRef = versionedReference(patient);
  const patientBasis = patientRef ? [patientRef] : [];
  const source = spec.source;
  switch (source.type) {
    case 'age': {
      const age = ageAt(patient, at);
      return age === undefined ? { kind: 'missing', detail: 'no birth date' } : { kind: 'value', value: age, basis: patientBasis };
    }
    case 'sex': {
      const sex = patientSex(patient);
      if (!sex) return { kind: 'missing', detail: `sex ${describeSex(patient)} is not female or male`, reason: 'sex-not-supported' };
      return { kind: 'value', value: sex === source.equals ? 1 : 0, basis: patientBasis };
    }
    case 'race': {
      // Missing race counts as 0 (MODELS.md section 0: other and missing categories use the White equations).
      const codes = new Set(source.codes);
      return { kind: 'value', value: ombRaceCodes(patient).some((c) => codes.has(c)) ? 1 : 0, basis: patientBasis };
    }
    case 'observation':
      return extractObservationFeature(spec, source, record.observations, at, valueSets);
    case 'condition':
      return presence(activeConditionsMatching(record.conditions, source.codes, at, valueSets));
    case 'medication':
      return presence(activeMedicationsMatching(record.medications, source.codes, at, valueSets));
  }
}

/**
 * Conditions and medications are read in full, so "no match" is a definite 0, as the manifest's
 * source docs say ("1 when … matches, else 0"). Absence of any resource gives no basis.
 */
function presence(matches: readonly (Condition | MedicationRequest | MedicationStatement)[]): Extraction {
  const basis = [...new Set(matches.map(versionedReference).filter((r): r is string => r !== undefined))].sort();
  return { kind: 'value', value: matches.length > 0 ? 1 : 0, basis };
}

/** Conditions in `codeSet` that held at `at`. */
export function activeConditionsMatching(
  conditions: readonly Condition[],
  codeSet: CodeSetInput,
  at: Date,
  valueSets: ValueSetIndex,
): Condition[] {
  const keys = expandCodeSet(codeSet, valueSets);
  return conditions.filter((c) => keysOf(c.code).some((k) => keys.has(k)) && isConditionActiveAt(c, at));
}

/** Active medication orders/statements whose drug is in `codeSet`. */
export function activeMedicationsMatching(
  medications: readonly (MedicationRequest | MedicationStatement)[],
  codeSet: CodeSetInput,
  at: Date,
  valueSets: ValueSetIndex,
): (MedicationRequest | MedicationStatement)[] {
  const keys = expandCodeSet(codeSet, valueSets);
  return medications.filter((m) => codingKeysOf(medicationCodings(m)).some((k) => keys.has(k)) && isMedicationActiveAt(m, at));
}
