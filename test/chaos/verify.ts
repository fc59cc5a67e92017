/**
 * The guarantees, as a pure function: given what should exist (per patient, the assessment id
 * that scoring the patient's data now yields, per triggered model that applies) and what the
 * FHIR server holds, list every lost, duplicated, unexpected or different assessment.
 */
import type { RiskAssessment } from 'fhir/r4.js';

export const MODELS_SYSTEM = 'http://fhir-risk.org/fhir/CodeSystem/models';

/**
 * patientId → modelId → the deterministic RiskAssessment id expected (only models that apply).
 * Every patient of the run is a key (with an empty map when no model applies); assessments of
 * other patients are ignored.
 */
export type Expected = Map<string, Map<string, string>>;

export interface Verdict {
  /** Expected (patient, model) with no assessment. */
  lost: string[];
  /** (patient, model) with more than one live assessment. */
  duplicates: string[];
  /** Assessments for a (patient, model) that should have none (not triggered, or not applicable). */
  unexpected: string[];
  /** One assessment, but not the one the patient's data yields (scored from partial or wrong data). */
  different: string[];
  checked: number;
}

export function verify(expected: Expected, actual: readonly RiskAssessment[]): Verdict {
  const byKey = new Map<string, RiskAssessment[]>();
  const mine = actual.filter((ra) => expected.has(ra.subject?.reference?.replace(/^Patient\//, '') ?? ''));
  for (const ra of mine) {
    if (ra.status === 'entered-in-error') continue;
    const patient = ra.subject?.reference?.replace(/^Patient\//, '') ?? '?';
    const model = ra.method?.coding?.find((c) => c.system === MODELS_SYSTEM)?.code ?? '?';
    const key = `${patient}|${model}`;
    byKey.set(key, [...(byKey.get(key) ?? []), ra]);
  }
  const verdict: Verdict = { lost: [], duplicates: [], unexpected: [], different: [], checked: 0 };
  const expectedKeys = new Set<string>();
  for (const [patient, models] of expected) {
    for (const [model, id] of models) {
      const key = `${patient}|${model}`;
      expectedKeys.add(key);
      verdict.checked++;
      const found = byKey.get(key) ?? [];
      if (found.length === 0) verdict.lost.push(key);
      else if (found.length > 1) verdict.duplicates.push(`${key} ×${found.length}`);
      else if (found[0]!.id !== id) verdict.different.push(`${key}: ${found[0]!.id} ≠ ${id}`);
    }
  }
  for (const [key, found] of byKey) {
    if (!expectedKeys.has(key)) verdict.unexpected.push(`${key} ×${found.length}`);
  }
  return verdict;
}

export function verdictOk(v: Verdict): boolean {
  return v.lost.length + v.duplicates.length + v.unexpected.length + v.different.length === 0;
}

export function describeVerdict(v: Verdict): string {
  const sample = (xs: string[]) => (xs.length ? ` (e.g. ${xs.slice(0, 3).join('; ')})` : '');
  return (
    `checked ${v.checked} expected assessments: lost ${v.lost.length}${sample(v.lost)}, duplicates ${v.duplicates.length}${sample(v.duplicates)}, ` +
    `unexpected ${v.unexpected.length}${sample(v.unexpected)}, different ${v.different.length}${sample(v.different)}`
  );
}
