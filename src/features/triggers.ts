/**
 * Which models a changed Observation or Condition concerns, and which patient it is about.
 */
import type { Condition, Observation } from 'fhir/r4.js';
import type { ModelManifest } from '../models/manifest.ts';
import { keysOf } from './codings.ts';
import { expandCodeSet } from './value-sets.ts';
import type { ValueSetIndex } from './value-sets.ts';

export { patientIdOf } from './references.ts';

/** Every coding key of the resource's code, and for an Observation those of its components (BP panels). */
function triggerKeys(resource: Observation | Condition): string[] {
  const keys = keysOf(resource.code);
  if (resource.resourceType === 'Observation') for (const c of resource.component ?? []) keys.push(...keysOf(c.code));
  return keys;
}

/**
 * Ids of the models whose `triggers` match any coding of the resource's code (or, for an
 * Observation, of a component's code), in manifest order. Status is not looked at: an
 * `entered-in-error` correction must re-score the patient as much as a new result does.
 */
export function modelsTriggeredBy(resource: Observation | Condition, manifests: readonly ModelManifest[], valueSets: ValueSetIndex): string[] {
  const keys = triggerKeys(resource);
  if (keys.length === 0) return [];
  return manifests.filter((m) => {
    const triggers = expandCodeSet(m.triggers, valueSets);
    return keys.some((k) => triggers.has(k));
  }).map((m) => m.id);
}
