/**
 * Does a resource match a search? Medplum's `matchesSearchRequest`, with `identifier` token
 * filters evaluated here.
 *
 * Why: without the 35 MB StructureDefinition bundles loaded (seconds per process start),
 * Medplum's FHIRPath cannot tell that `Observation.identifier` is an `Identifier`, and its token
 * matcher then never matches one. Conditional creates (`If-None-Exist: identifier=system|value`)
 * are exactly how fhir-risk writes RiskAssessments, so identifier search must work.
 */
import { matchesSearchRequest, Operator, type Filter, type SearchRequest } from '@medplum/core';
import type { Resource as MResource } from '@medplum/fhirtypes';

interface IdentifierLike {
  system?: string;
  value?: string;
}

export function matchesSearch(resource: MResource, search: SearchRequest): boolean {
  const filters = search.filters ?? [];
  const own = filters.filter(isIdentifierFilter);
  if (own.length === 0) return matchesSearchRequest(resource, search);
  if (!own.every((f) => matchesIdentifierFilter(resource, f))) return false;
  return matchesSearchRequest(resource, { ...search, filters: filters.filter((f) => !isIdentifierFilter(f)) });
}

function isIdentifierFilter(filter: Filter): boolean {
  return filter.code === 'identifier' && (filter.operator === Operator.EQUALS || filter.operator === Operator.NOT_EQUALS);
}

/** FHIR token semantics: `value`, `system|value`, `system|`, `|value`; commas mean OR. */
function matchesIdentifierFilter(resource: MResource, filter: Filter): boolean {
  const raw = (resource as unknown as { identifier?: IdentifierLike | IdentifierLike[] }).identifier;
  const identifiers = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const found = filter.value.split(',').some((token) => identifiers.some((id) => tokenMatches(id, token)));
  return filter.operator === Operator.NOT_EQUALS ? !found : found;
}

function tokenMatches(id: IdentifierLike, token: string): boolean {
  const bar = token.indexOf('|');
  if (bar < 0) return id.value === token;
  const system = token.slice(0, bar);
  const value = token.slice(bar + 1);
  if (!system) return !id.system && id.value === value;
  return id.system === system && (!value || id.value === value);
}
