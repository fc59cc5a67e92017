/**
 * Turning whatever a notification names (a URL on any host, `Type/id/_history/3`, a Google store
 * path, `W/"3"`) into `Type` + `id` + version: the SSRF rule lives here.
 *
 * A notification may name a resource on another host (`https://elsewhere/fhir/Observation/1`). We
 * never keep that host: only the type, id and version survive, and the pipeline resolves them
 * against `FHIR_BASE_URL`. An attacker who can send notifications therefore cannot make us fetch
 * an arbitrary URL.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { InvalidInputError } from '../errors.ts';

/** A resource named by type and id (and version when known), with no host. */
export interface ResourceKey {
  readonly resourceType: string;
  readonly id: string;
  readonly versionId?: string;
}

/** FHIR resource type names: an upper-case letter then letters. */
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
/** FHIR `id`: 1–64 of `[A-Za-z0-9\-.]`. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** Opaque version ids (Medplum UUIDs, Google base64url): printable, no slash, bounded. */
const VERSION_ID = /^[A-Za-z0-9\-._~+=]{1,128}$/;

export function isResourceType(value: unknown): value is string {
  return typeof value === 'string' && RESOURCE_TYPE.test(value);
}

/**
 * Ids made only of dots (`.`, `..`) match FHIR's id regex but are path segments, not ids: read
 * as `Observation/..` they would make the EHR client request the FHIR base itself (URL
 * normalisation), i.e. path traversal. No server issues such ids; refuse them everywhere.
 */
const DOTS_ONLY = /^\.+$/;

export function isFhirId(value: unknown): value is string {
  return typeof value === 'string' && FHIR_ID.test(value) && !DOTS_ONLY.test(value);
}

export function isVersionId(value: unknown): value is string {
  return typeof value === 'string' && VERSION_ID.test(value) && !DOTS_ONLY.test(value);
}

/**
 * Parses a literal reference or URL into `Type/id[/_history/v]`, dropping scheme, host, base path,
 * query and fragment. Returns undefined for references that name no resource (`urn:uuid:…`,
 * contained `#x`, a bare id).
 */
export function parseResourceReference(reference: string): ResourceKey | undefined {
  const path = reference.split(/[?#]/, 1)[0] ?? '';
  if (path.startsWith('urn:')) return undefined;
  const segments = path.split('/').filter((s) => s.length > 0);
  // Search from the end: `…/Type/id` or `…/Type/id/_history/v`, whatever base path precedes it.
  for (let i = segments.length - 2; i >= 0; i--) {
    const type = segments[i];
    const id = segments[i + 1];
    if (!isResourceType(type) || !isFhirId(id)) continue;
    const rest = segments.slice(i + 2);
    if (rest.length === 0) return { resourceType: type, id };
    if (rest.length === 2 && rest[0] === '_history' && isVersionId(rest[1])) {
      return { resourceType: type, id, versionId: rest[1] };
    }
  }
  return undefined;
}

/** Like `parseResourceReference`, but a malformed reference is a 400. */
export function requireResourceReference(reference: unknown, what: string): ResourceKey {
  const key = typeof reference === 'string' ? parseResourceReference(reference) : undefined;
  if (!key) throw new InvalidInputError(`${what} is not a reference of the form Type/id`);
  return key;
}

/** The version in an ETag / If-Match value: `W/"3"` or `"3"` → `3`. */
export function versionFromEtag(etag: string | undefined): string | undefined {
  if (!etag) return undefined;
  const match = /^(?:W\/)?"([^"]*)"$/.exec(etag.trim());
  const version = match?.[1];
  return isVersionId(version) ? version : undefined;
}

/** A single header value (the first when repeated), trimmed; undefined when absent or empty. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers[name.toLowerCase()];
  const value = Array.isArray(raw) ? raw[0] : raw;
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Event counters arrive as strings (`"2"`, integer64) or numbers; anything else is a 400. */
export function parseCounter(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^\d{1,15}$/.test(text.trim())) {
    throw new InvalidInputError(`${what} is not a non-negative integer`);
  }
  return Number(text.trim());
}
