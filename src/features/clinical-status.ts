/**
 * Which resources count as evidence at a given time: Observation status, Condition clinical and
 * verification status, medication status.
 */
import type { CodeableConcept, Coding, Condition, Medication, MedicationRequest, MedicationStatement, Observation } from 'fhir/r4.js';
import { parseFhirDateTime } from './time.ts';

/** Results that stand: preliminary, cancelled, entered-in-error and unknown do not. */
const USABLE_OBSERVATION_STATUS: ReadonlySet<string> = new Set(['final', 'amended', 'corrected']);

export function isUsableObservation(obs: Observation): boolean {
  return USABLE_OBSERVATION_STATUS.has(obs.status);
}

const ACTIVE_CLINICAL_STATUS: ReadonlySet<string> = new Set(['active', 'recurrence', 'relapse']);
const ENDED_CLINICAL_STATUS: ReadonlySet<string> = new Set(['inactive', 'remission', 'resolved']);
const REJECTED_VERIFICATION: ReadonlySet<string> = new Set(['refuted', 'entered-in-error']);

function statusCode(concept: CodeableConcept | undefined): string | undefined {
  return concept?.coding?.find((c) => c.code)?.code;
}

/**
 * Whether a Condition held at `at`: not refuted or entered in error, begun by `at` (onset, else
 * recorded date, when given), and either active now and not abated by `at`, or ended now but only
 * after `at` (so an assessment "as of" a past date sees the problem list as it was).
 */
export function isConditionActiveAt(condition: Condition, at: Date): boolean {
  if (REJECTED_VERIFICATION.has(statusCode(condition.verificationStatus) ?? '')) return false;
  const clinical = statusCode(condition.clinicalStatus);
  const began = parseFhirDateTime(condition.onsetDateTime ?? condition.onsetPeriod?.start ?? condition.recordedDate);
  if (began && began.getTime() > at.getTime()) return false;
  const abated = parseFhirDateTime(condition.abatementDateTime ?? condition.abatementPeriod?.end);
  if (clinical && ACTIVE_CLINICAL_STATUS.has(clinical)) return !abated || abated.getTime() > at.getTime();
  if (clinical && ENDED_CLINICAL_STATUS.has(clinical)) return abated !== undefined && abated.getTime() > at.getTime();
  return false;
}

/**
 * Whether a medication order or statement is current: status `active`, and not authored/asserted
 * after `at`. (A request's status is its state now; there is no history to replay for past `at`.)
 */
export function isMedicationActiveAt(med: MedicationRequest | MedicationStatement, at: Date): boolean {
  if (med.status !== 'active') return false;
  const when = med.resourceType === 'MedicationRequest' ? med.authoredOn : (med.dateAsserted ?? med.effectiveDateTime ?? med.effectivePeriod?.start);
  const t = parseFhirDateTime(when);
  return !t || t.getTime() <= at.getTime();
}

/** The drug codings of an order or statement: `medicationCodeableConcept`, or a contained Medication's code. */
export function medicationCodings(med: MedicationRequest | MedicationStatement): Coding[] {
  if (med.medicationCodeableConcept) return med.medicationCodeableConcept.coding ?? [];
  const ref = med.medicationReference?.reference;
  if (ref?.startsWith('#')) {
    const contained = med.contained?.find((r): r is Medication => r.resourceType === 'Medication' && r.id === ref.slice(1));
    return contained?.code?.coding ?? [];
  }
  return [];
}
