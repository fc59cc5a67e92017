/**
 * Search query normalization and searchset decoration shared by the REST search route and
 * subscription criteria matching.
 */
import { getSearchParameter } from '@medplum/core';
import type { Bundle as MBundle } from '@medplum/fhirtypes';

export type Query = Record<string, string | string[] | undefined>;

/**
 * Accepts a bare id for a reference parameter with a single target type (`patient=123` means
 * `patient=Patient/123`), as HAPI does; Medplum's matcher compares whole references only.
 */
export function normalizeReferenceValues(resourceType: string, query: Query): Query {
  const out: Query = {};
  for (const [name, raw] of Object.entries(query)) {
    if (raw === undefined || name.startsWith('_') || name.includes(':') || name.includes('.')) {
      out[name] = raw;
      continue;
    }
    const param = getSearchParameter(resourceType, name);
    const target = param?.type === 'reference' && param.target?.length === 1 ? param.target[0] : undefined;
    if (!target) {
      out[name] = raw;
      continue;
    }
    const fix = (value: string): string =>
      value
        .split(',')
        .map((v) => (v && !v.includes('/') ? `${target}/${v}` : v))
        .join(',');
    out[name] = Array.isArray(raw) ? raw.map(fix) : fix(raw);
  }
  return out;
}

/** The query as a URL query string (without `?`), repeated parameters kept. */
export function formatQuery(query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, v);
  }
  return params.toString();
}

function lastValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

export interface PagingOptions {
  /** Page size when the client sends no `_count`. */
  readonly defaultCount: number;
  /** Largest page size honoured; a larger `_count` is lowered to it. */
  readonly maxCount: number;
}

/** Sets `_count` (default, capped) and `_offset`, unless the client asked only for a count. */
export function applyPaging(query: Query, paging: PagingOptions): Query {
  if (lastValue(query._summary) === 'count') return query;
  const requested = Number(lastValue(query._count));
  const count = Number.isFinite(requested) && requested >= 0 ? Math.min(requested, paging.maxCount) : paging.defaultCount;
  const offset = Math.max(0, Number(lastValue(query._offset)) || 0);
  return { ...query, _count: String(count), _offset: String(offset) };
}

/**
 * Adds what a searchset from a real server carries and `MemoryRepository` leaves out: `fullUrl`
 * and `search.mode` on each entry, and `self`/`next`/`previous` links on the sandbox base.
 */
export function decorateSearchset(bundle: MBundle, baseUrl: string, resourceType: string, query: Query): MBundle {
  const count = Number(lastValue(query._count));
  const offset = Number(lastValue(query._offset)) || 0;
  const total = bundle.total ?? 0;
  const pageUrl = (pageOffset: number): string =>
    `${baseUrl}/${resourceType}?${formatQuery({ ...query, _offset: String(pageOffset) })}`;
  const link: NonNullable<MBundle['link']> = [{ relation: 'self', url: pageUrl(offset) }];
  if (Number.isFinite(count) && count > 0) {
    if (offset + count < total) link.push({ relation: 'next', url: pageUrl(offset + count) });
    if (offset > 0) link.push({ relation: 'previous', url: pageUrl(Math.max(0, offset - count)) });
  }
  return {
    ...bundle,
    link,
    entry: bundle.entry?.map((e) => ({
      fullUrl: e.resource ? `${baseUrl}/${e.resource.resourceType}/${e.resource.id}` : undefined,
      ...e,
      search: { mode: 'match' },
    })),
  };
}
