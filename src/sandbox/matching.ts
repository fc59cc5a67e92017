/**
 * Does a resource match a search? Medplum's `matchesSearchRequest`, with two kinds of filter
 * evaluated here instead:
 * - `identifier` tokens: without the 35 MB StructureDefinition bundles loaded (seconds per
 *   process start), Medplum's FHIRPath cannot tell that `Observation.identifier` is an
 *   `Identifier`, and its token matcher then never matches one. Conditional creates
 *   (`If-None-Exist: identifier=system|value`) are how fhir-risk writes RiskAssessments;
 * - `_lastUpdated` comparisons: reconciliation sweeps page through every resource of a type, and
 *   a direct comparison is ~20× cheaper than FHIRPath per resource.
 */
import { matchesSearchRequest, Operator, type Filter, type SearchRequest } from '@medplum/core';
import type { Resource as MResource } from '@medplum/fhirtypes';

interface IdentifierLike {
  system?: string;
  value?: string;
}

export function matchesSearch(resource: MResource, search: SearchRequest): boolean {
  const filters = search.filters ?? [];
  if (!filters.some(isOwnFilter)) return matchesSearchRequest(resource, search);
  for (const f of filters) {
    if (isIdentifierFilter(f) && !matchesIdentifierFilter(resource, f)) return false;
    if (isLastUpdatedFilter(f) && !matchesInstantFilter(resource.meta?.lastUpdated, f)) return false;
  }
  const rest = filters.filter((f) => !isOwnFilter(f));
  return rest.length === 0 || matchesSearchRequest(resource, { ...search, filters: rest });
}

function isOwnFilter(filter: Filter): boolean {
  return isIdentifierFilter(filter) || isLastUpdatedFilter(filter);
}

const INSTANT_OPERATORS: readonly string[] = [
  Operator.EQUALS,
  Operator.GREATER_THAN,
  Operator.GREATER_THAN_OR_EQUALS,
  Operator.LESS_THAN,
  Operator.LESS_THAN_OR_EQUALS,
];

function isLastUpdatedFilter(filter: Filter): boolean {
  return filter.code === '_lastUpdated' && INSTANT_OPERATORS.includes(filter.operator) && impliedRange(filter.value) !== undefined;
}

/**
 * The range `[start, end)` (ms) a FHIR date/dateTime search value stands for: `2024-01-01` is the
 * whole day (UTC when no zone is given), an instant with milliseconds is that millisecond.
 */
export function impliedRange(value: string): [number, number] | undefined {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const iso = `${y}-${mo ?? '01'}-${d ?? '01'}T${h ?? '00'}:${mi ?? '00'}:${s ?? '00'}${frac ?? ''}${zone ?? 'Z'}`;
  const start = Date.parse(iso);
  if (!Number.isFinite(start)) return undefined;
  const end = new Date(start);
  if (!mo) end.setUTCFullYear(end.getUTCFullYear() + 1);
  else if (!d) end.setUTCMonth(end.getUTCMonth() + 1);
  else if (!h) end.setUTCDate(end.getUTCDate() + 1);
  else if (!s) end.setUTCMinutes(end.getUTCMinutes() + 1);
  else if (!frac) end.setUTCSeconds(end.getUTCSeconds() + 1);
  else end.setUTCMilliseconds(end.getUTCMilliseconds() + 1);
  return [start, end.getTime()];
}

function matchesInstantFilter(instant: string | undefined, filter: Filter): boolean {
  const range = impliedRange(filter.value);
  const t = instant ? Date.parse(instant) : NaN;
  if (!range || !Number.isFinite(t)) return false;
  const [start, end] = range;
  switch (filter.operator) {
    case Operator.GREATER_THAN:
      return t >= end;
    case Operator.GREATER_THAN_OR_EQUALS:
      return t >= start;
    case Operator.LESS_THAN:
      return t < start;
    case Operator.LESS_THAN_OR_EQUALS:
      return t < end;
    default:
      return t >= start && t < end;
  }
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
