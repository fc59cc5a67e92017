/**
 * Coding keys: one string per (system, code), so code-set membership is a plain `Set.has`.
 */
import type { CodeableConcept, Coding } from 'fhir/r4.js';

export const LOINC = 'http://loinc.org';
export const SNOMED = 'http://snomed.info/sct';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
export const UCUM = 'http://unitsofmeasure.org';

/** `system|code`, the form FHIR token search uses too. */
export function codingKey(system: string, code: string): string {
  return `${system}|${code}`;
}

/**
 * Every key a listed concept should match. ICD-10 codes travel both with and without the dot
 * (`E11.9`, `E119`) depending on the EHR, so a listed ICD-10 code matches either spelling.
 */
export function conceptKeys(system: string, code: string): string[] {
  if (system === ICD10CM || system === ICD10) {
    const bare = code.replace('.', '').toUpperCase();
    const dotted = bare.length > 3 ? `${bare.slice(0, 3)}.${bare.slice(3)}` : bare;
    return [...new Set([codingKey(system, code), codingKey(system, bare), codingKey(system, dotted)])];
  }
  return [codingKey(system, code)];
}

/** Keys of the codings of a concept (codings without system or code are ignored). */
export function keysOf(concept: CodeableConcept | undefined): string[] {
  return codingKeysOf(concept?.coding);
}

export function codingKeysOf(codings: readonly Coding[] | undefined): string[] {
  const keys: string[] = [];
  for (const c of codings ?? []) if (c.system && c.code) keys.push(codingKey(c.system, c.code));
  return keys;
}

/** True when any coding of `concept` is in `set`. */
export function conceptMatches(concept: CodeableConcept | undefined, set: ReadonlySet<string>): boolean {
  return keysOf(concept).some((k) => set.has(k));
}
