/**
 * Who a model is for: checked before any feature, in a fixed order so the reason is predictable:
 * deceased → sex → age → required condition → excluded condition.
 */
import { NotApplicableError } from '../errors.ts';
import type { ModelManifest } from '../models/manifest.ts';
import { ageAt, describeSex, isDeceasedAt, patientSex } from './patient.ts';
import { activeConditionsMatching } from './sources.ts';
import type { PatientRecord } from './types.ts';
import { describeCodeSet } from './value-sets.ts';
import type { ValueSetIndex } from './value-sets.ts';

/** Inclusive bounds as `40–79`, `≥ 16` or `≤ 79`. */
export function describeRange(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `${min}–${max}`;
  return min !== undefined ? `≥ ${min}` : `≤ ${max}`;
}

/** The age bounds that apply: the population's and every age feature's range, tightest wins. */
export function ageBounds(manifest: ModelManifest): { min?: number; max?: number } {
  let min = manifest.population.ageMin;
  let max = manifest.population.ageMax;
  for (const f of manifest.features) {
    if (f.source.type !== 'age' || !f.range) continue;
    if (f.range.min !== undefined) min = min === undefined ? f.range.min : Math.max(min, f.range.min);
    if (f.range.max !== undefined) max = max === undefined ? f.range.max : Math.min(max, f.range.max);
  }
  return { ...(min !== undefined && { min }), ...(max !== undefined && { max }) };
}

/** Throws NotApplicableError when the patient is outside the model's population at `at`. */
export function checkPopulation(manifest: ModelManifest, record: PatientRecord, at: Date, valueSets: ValueSetIndex): void {
  const { id, population } = manifest;
  const { patient } = record;
  if (isDeceasedAt(patient, at)) throw new NotApplicableError(id, 'deceased', 'the patient is deceased');

  if (population.sexes) {
    const sex = patientSex(patient);
    if (!sex || !population.sexes.includes(sex)) {
      throw new NotApplicableError(id, 'sex-not-supported', `sex ${sex ?? describeSex(patient)} not in ${population.sexes.join(', ')}`);
    }
  }

  const { min, max } = ageBounds(manifest);
  if (min !== undefined || max !== undefined) {
    const age = ageAt(patient, at);
    if (age === undefined) throw new NotApplicableError(id, 'missing-input', 'no birth date, so no age');
    if ((min !== undefined && age < min) || (max !== undefined && age > max)) {
      throw new NotApplicableError(id, 'age-out-of-range', `age ${age} outside ${describeRange(min, max)}`);
    }
  }

  if (population.requiresCondition && activeConditionsMatching(record.conditions, population.requiresCondition, at, valueSets).length === 0) {
    throw new NotApplicableError(id, 'no-indication', `no active ${describeCodeSet(population.requiresCondition)} condition`);
  }
  if (population.excludeConditions && activeConditionsMatching(record.conditions, population.excludeConditions, at, valueSets).length > 0) {
    throw new NotApplicableError(id, 'excluded-population', `active ${describeCodeSet(population.excludeConditions)} condition excludes this model`);
  }
}
