/**
 * Quantities to the feature's UCUM unit, with @lhncbc/ucum-lhc.
 *
 * Cholesterol in mmol/L becomes mg/dL through UCUM's mole↔mass conversion with a molar mass. We use
 * 386.7 g/mol rather than cholesterol's 386.65 so that the factor is exactly MODELS.md's
 * "mmol/L × 38.67 = mg/dL" (the factor preventr and the PREVENT paper use); the 0.5 % smaller
 * `/0.026` of the cerner and cardiac-risk apps is not used.
 */
import ucum from '@lhncbc/ucum-lhc';
import type { Quantity } from 'fhir/r4.js';
import { LOINC, UCUM, codingKey } from './codings.ts';

/** g/mol giving mmol/L × 38.67 = mg/dL (see the file comment). */
export const CHOLESTEROL_MOLAR_MASS = 386.7;

/** Molar mass by analyte (Observation code), for mole↔mass conversions. */
const MOLAR_MASS_BY_CODE: ReadonlyMap<string, number> = new Map([
  [codingKey(LOINC, '2093-3'), CHOLESTEROL_MOLAR_MASS], // total cholesterol, mass
  [codingKey(LOINC, '14647-2'), CHOLESTEROL_MOLAR_MASS], // total cholesterol, moles
  [codingKey(LOINC, '2085-9'), CHOLESTEROL_MOLAR_MASS], // HDL cholesterol, mass
  [codingKey(LOINC, '14646-4'), CHOLESTEROL_MOLAR_MASS], // HDL cholesterol, moles
]);

/** Common non-UCUM spellings seen in `Quantity.unit` when `code` is absent. */
const UNIT_ALIASES: ReadonlyMap<string, string> = new Map([
  ['mmHg', 'mm[Hg]'],
  ['mm Hg', 'mm[Hg]'],
  ['°C', 'Cel'],
  ['degC', 'Cel'],
  ['°F', '[degF]'],
  ['degF', '[degF]'],
  ['bpm', '/min'],
  ['beats/min', '/min'],
  ['breaths/min', '/min'],
  ['mg/dl', 'mg/dL'],
  ['mmol/l', 'mmol/L'],
]);

export type Conversion = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly problem: string };

let utils: ReturnType<typeof ucum.UcumLhcUtils.getInstance> | undefined;

/** The UCUM unit a Quantity is in: `code` when it is UCUM (or has no system), else the `unit` text. */
export function sourceUnit(q: Quantity): string | undefined {
  const raw = q.code && (!q.system || q.system === UCUM) ? q.code : q.unit;
  return raw === undefined ? undefined : (UNIT_ALIASES.get(raw) ?? raw);
}

/** A unit with no dimension beyond annotations (`1`, `{score}`): a bare number is already in it. */
function isDimensionless(unit: string): boolean {
  return unit === '1' || /^\{[^}]*\}$/.test(unit);
}

/**
 * Converts a Quantity's value to `targetUnit` (UCUM). `analyteKeys` are the Observation's coding
 * keys, used to find a molar mass. Without a target unit the value is taken as it is.
 */
export function convertQuantity(q: Quantity, targetUnit: string | undefined, analyteKeys: readonly string[] = []): Conversion {
  if (typeof q.value !== 'number' || !Number.isFinite(q.value)) return { ok: false, problem: 'no numeric value' };
  if (q.comparator) return { ok: false, problem: `value has comparator ${q.comparator}` };
  if (targetUnit === undefined) return { ok: true, value: q.value };
  const from = sourceUnit(q);
  if (from === undefined || from === '') {
    return isDimensionless(targetUnit) ? { ok: true, value: q.value } : { ok: false, problem: 'no unit' };
  }
  if (from === targetUnit) return { ok: true, value: q.value };
  const molecularWeight = analyteKeys.map((k) => MOLAR_MASS_BY_CODE.get(k)).find((m) => m !== undefined);
  utils ??= ucum.UcumLhcUtils.getInstance();
  const result = utils.convertUnitTo(from, q.value, targetUnit, molecularWeight === undefined ? {} : { molecularWeight });
  if (result.status !== 'succeeded' || typeof result.toVal !== 'number' || !Number.isFinite(result.toVal)) {
    return { ok: false, problem: `unit ${from} not convertible to ${targetUnit}` };
  }
  return { ok: true, value: result.toVal };
}
