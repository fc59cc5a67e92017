/**
 * What featurization consumes and produces.
 */
import type { Condition, MedicationRequest, MedicationStatement, Observation, Patient } from 'fhir/r4.js';

/** Everything fhir-risk read about one patient for one scoring (one FHIR batch read). */
export interface PatientRecord {
  readonly patient: Patient;
  readonly observations: readonly Observation[];
  readonly conditions: readonly Condition[];
  readonly medications: readonly (MedicationRequest | MedicationStatement)[];
}

/** One feature's value and where it came from. */
export interface FeatureValue {
  readonly name: string;
  readonly value: number;
  /** Unit the value is expressed in (the spec's target unit), when it has one. */
  readonly unit?: string;
  /** Versioned references (`Observation/1/_history/2`) of the resources that gave the value. */
  readonly basis: readonly string[];
  /** Set when the missing-data policy supplied the value: the text goes into RiskAssessment.note. */
  readonly assumption?: string;
}

/** Features in the ONNX input order, ready to run. */
export interface FeatureVector {
  readonly modelId: string;
  /** The time the assessment is "as of" (ISO dateTime). */
  readonly at: string;
  readonly values: readonly FeatureValue[];
}
