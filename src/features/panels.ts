/**
 * Panels known to carry a component as their value, so a feature that reads a component (systolic
 * BP 8480-6) also searches for the panels that hold it: FHIR `code` search matches only
 * `Observation.code`, not component codes, and `combo-code` is not supported by every EHR.
 */
import { LOINC, codingKey } from './codings.ts';
import type { SystemCode } from './value-sets.ts';

const BP_PANELS: readonly SystemCode[] = [
  { system: LOINC, code: '85354-9' }, // Blood pressure panel with all children optional (FHIR R4 vital signs)
  { system: LOINC, code: '55284-4' }, // Blood pressure systolic and diastolic (DSTU2-era, Synthea 2019)
  { system: LOINC, code: '35094-2' }, // Blood pressure panel (deprecated LOINC, still in older feeds)
];

const PANELS_BY_COMPONENT: ReadonlyMap<string, readonly SystemCode[]> = new Map([
  [codingKey(LOINC, '8480-6'), BP_PANELS], // systolic
  [codingKey(LOINC, '8462-4'), BP_PANELS], // diastolic
]);

/** The known panel codes that carry any of the given component codes. */
export function panelsCarrying(components: readonly SystemCode[]): SystemCode[] {
  return components.flatMap((c) => PANELS_BY_COMPONENT.get(codingKey(c.system, c.code)) ?? []);
}
