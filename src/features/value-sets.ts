/**
 * Value sets shipped in `fhir-profiles/valuesets/`, loaded once and expanded locally.
 *
 * There is no terminology server: every ValueSet is fully listed, either as an `expansion.contains`
 * or as `compose.include[].concept` (optionally `include[].valueSet` of another listed set, and
 * `compose.exclude[].concept`). A filter (`is-a`, ECL, …) cannot be expanded here, so a file with
 * one is rejected at load time rather than silently matching nothing.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ValueSet, ValueSetComposeInclude } from 'fhir/r4.js';
import { FhirRiskError } from '../errors.ts';
import type { ManifestCoding, ModelManifest } from '../models/manifest.ts';
import { codingKey, conceptKeys } from './codings.ts';

/** A code set as written in a manifest (the zod output type, or a hand-written literal without defaults). */
export interface CodeSetInput {
  readonly codes?: readonly ManifestCoding[];
  readonly valueSets?: readonly string[];
}

export interface SystemCode {
  readonly system: string;
  readonly code: string;
}

export interface LoadedValueSet {
  readonly url: string;
  readonly name: string;
  /** The concepts as listed (original spelling), for FHIR search tokens. */
  readonly concepts: readonly SystemCode[];
  /** Match keys (`system|code`, ICD-10 with and without the dot). */
  readonly keys: ReadonlySet<string>;
}

/** All loaded value sets by canonical URL (a version suffix `|1.0.0` on a reference is ignored). */
export interface ValueSetIndex {
  readonly byUrl: ReadonlyMap<string, LoadedValueSet>;
}

/** A manifest or caller names a value set that is not loaded. */
export class UnknownValueSetError extends FhirRiskError {
  constructor(readonly url: string) {
    super(`unknown value set ${url} (not in fhir-profiles/valuesets)`);
  }
}

/** Reads every `*.json` ValueSet in `dir` (once, at start-up). Rejects naming the file on any problem. */
export async function loadValueSets(dir: string): Promise<ValueSetIndex> {
  const resources: ValueSet[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(join(dir, file), 'utf8'));
    } catch (err) {
      throw new Error(`value set file ${file}: not valid JSON`, { cause: err });
    }
    if ((parsed as { resourceType?: unknown })?.resourceType !== 'ValueSet') throw new Error(`value set file ${file}: not a ValueSet`);
    resources.push(parsed as ValueSet);
  }
  return valueSetIndex(resources);
}

/** Builds an index from ValueSet resources already in memory (tests, or sets fetched elsewhere). */
export function valueSetIndex(resources: readonly ValueSet[]): ValueSetIndex {
  const byUrlRaw = new Map<string, ValueSet>();
  for (const vs of resources) {
    if (!vs.url) throw new Error(`value set ${vs.id ?? '(no id)'}: has no url`);
    if (byUrlRaw.has(vs.url)) throw new Error(`value set ${vs.url}: defined twice`);
    byUrlRaw.set(vs.url, vs);
  }
  const done = new Map<string, LoadedValueSet>();
  const resolve = (url: string, trail: readonly string[]): LoadedValueSet => {
    const canonical = stripVersion(url);
    const cached = done.get(canonical);
    if (cached) return cached;
    if (trail.includes(canonical)) throw new Error(`value set ${canonical}: includes itself (${[...trail, canonical].join(' → ')})`);
    const vs = byUrlRaw.get(canonical);
    if (!vs) throw new UnknownValueSetError(canonical);
    const loaded = expandResource(vs, (inner) => resolve(inner, [...trail, canonical]));
    done.set(canonical, loaded);
    return loaded;
  };
  for (const url of byUrlRaw.keys()) resolve(url, []);
  return { byUrl: done };
}

function expandResource(vs: ValueSet, resolve: (url: string) => LoadedValueSet): LoadedValueSet {
  const url = vs.url as string;
  const concepts = new Map<string, SystemCode>();
  const add = (system: string | undefined, code: string | undefined): void => {
    if (system && code) concepts.set(codingKey(system, code), { system, code });
  };
  for (const c of vs.expansion?.contains ?? []) add(c.system, c.code);
  for (const inc of vs.compose?.include ?? []) {
    assertEnumerated(url, inc);
    for (const c of inc.concept ?? []) add(inc.system, c.code);
    for (const inner of inc.valueSet ?? []) for (const c of resolve(inner).concepts) add(c.system, c.code);
  }
  for (const exc of vs.compose?.exclude ?? []) {
    assertEnumerated(url, exc);
    for (const c of exc.concept ?? []) if (exc.system) concepts.delete(codingKey(exc.system, c.code));
  }
  if (concepts.size === 0) throw new Error(`value set ${url}: lists no concepts`);
  const list = [...concepts.values()];
  return { url, name: vs.name ?? url, concepts: list, keys: new Set(list.flatMap((c) => conceptKeys(c.system, c.code))) };
}

function assertEnumerated(url: string, inc: ValueSetComposeInclude): void {
  if (inc.filter?.length) throw new Error(`value set ${url}: uses a filter; list the concepts (there is no terminology server)`);
  if (!inc.system && !inc.valueSet?.length) throw new Error(`value set ${url}: an include has neither system nor valueSet`);
  if (inc.system && !inc.concept?.length && !inc.valueSet?.length) {
    throw new Error(`value set ${url}: includes all of ${inc.system}; list the concepts`);
  }
}

function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar >= 0 ? url.slice(0, bar) : url;
}

const expansions = new WeakMap<ValueSetIndex, WeakMap<object, ReadonlySet<string>>>();

/**
 * The match keys (`system|code`) of a manifest code set: its inline codes plus its value sets.
 * Cached per (code set object, index), so calling it on every scoring is cheap.
 * @throws UnknownValueSetError naming the URL when a value set is not loaded.
 */
export function expandCodeSet(codeSet: CodeSetInput, valueSets: ValueSetIndex): ReadonlySet<string> {
  let perIndex = expansions.get(valueSets);
  if (!perIndex) expansions.set(valueSets, (perIndex = new WeakMap()));
  const cached = perIndex.get(codeSet);
  if (cached) return cached;
  const keys = new Set<string>();
  for (const c of codeSet.codes ?? []) for (const k of conceptKeys(c.system, c.code)) keys.add(k);
  for (const url of codeSet.valueSets ?? []) for (const k of lookup(url, valueSets).keys) keys.add(k);
  perIndex.set(codeSet, keys);
  return keys;
}

/** The concepts of a code set as listed (for FHIR search tokens), de-duplicated, in a stable order. */
export function codeSetConcepts(codeSet: CodeSetInput, valueSets: ValueSetIndex): SystemCode[] {
  const all = new Map<string, SystemCode>();
  for (const c of codeSet.codes ?? []) all.set(codingKey(c.system, c.code), { system: c.system, code: c.code });
  for (const url of codeSet.valueSets ?? []) for (const c of lookup(url, valueSets).concepts) all.set(codingKey(c.system, c.code), c);
  return [...all.values()];
}

/** Short human name of a code set for diagnostics: its value set names, else its first codes. */
export function describeCodeSet(codeSet: CodeSetInput): string {
  const names = (codeSet.valueSets ?? []).map((u) => stripVersion(u).split('/').pop() ?? u);
  const codes = (codeSet.codes ?? []).map((c) => c.display ?? c.code);
  return [...names, ...codes].slice(0, 3).join(', ') || '(no codes)';
}

function lookup(url: string, valueSets: ValueSetIndex): LoadedValueSet {
  const found = valueSets.byUrl.get(stripVersion(url));
  if (!found) throw new UnknownValueSetError(stripVersion(url));
  return found;
}

/** Every value set URL a manifest refers to that is not loaded: one line each (empty when all resolve). */
export function manifestValueSetProblems(manifest: ModelManifest, valueSets: ValueSetIndex): string[] {
  const sets: CodeSetInput[] = [manifest.triggers];
  if (manifest.population.requiresCondition) sets.push(manifest.population.requiresCondition);
  if (manifest.population.excludeConditions) sets.push(manifest.population.excludeConditions);
  for (const f of manifest.features) {
    if (f.source.type === 'observation') {
      sets.push(f.source.codes);
      if (f.source.component) sets.push(f.source.component);
    } else if (f.source.type === 'condition' || f.source.type === 'medication') sets.push(f.source.codes);
  }
  const missing = new Set<string>();
  for (const s of sets) for (const url of s.valueSets ?? []) if (!valueSets.byUrl.has(stripVersion(url))) missing.add(stripVersion(url));
  return [...missing].map((url) => `model ${manifest.id}: unknown value set ${url}`);
}

/**
 * The shipped `fhir-profiles/valuesets` directory, found from this file both in the source tree
 * (`src/features/`) and in the build (`dist/src/features/`).
 */
export function defaultValueSetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '../../fhir-profiles/valuesets'), join(here, '../../../fhir-profiles/valuesets')];
  return candidates.find((c) => existsSync(c)) ?? (candidates[0] as string);
}
