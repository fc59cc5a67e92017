/**
 * Reading the identity of a resource body carried by a notification.
 */
import type { FhirResource } from 'fhir/r4.js';
import { InvalidInputError } from '../errors.ts';
import { isFhirId, isRecord, isResourceType, isVersionId } from './references.ts';

/** Identity and version facts of a resource body, plus the body itself typed as a resource. */
export interface ResourceBody {
  readonly resource: FhirResource;
  readonly resourceType: string;
  readonly id: string;
  readonly versionId?: string;
  readonly lastUpdated?: string;
}

/** Returns the body's identity, or undefined when it is not a resource with a valid type and id. */
export function readResourceBody(value: unknown): ResourceBody | undefined {
  if (!isRecord(value) || !isResourceType(value.resourceType) || !isFhirId(value.id)) return undefined;
  const meta = isRecord(value.meta) ? value.meta : undefined;
  const versionId = isVersionId(meta?.versionId) ? meta.versionId : undefined;
  const lastUpdated = typeof meta?.lastUpdated === 'string' ? meta.lastUpdated : undefined;
  return {
    resource: value as unknown as FhirResource,
    resourceType: value.resourceType,
    id: value.id,
    ...(versionId !== undefined && { versionId }),
    ...(lastUpdated !== undefined && { lastUpdated }),
  };
}

/** Like `readResourceBody`, but a body without a valid resourceType and id is a 400. */
export function requireResourceBody(value: unknown, what: string): ResourceBody {
  const body = readResourceBody(value);
  if (!body) throw new InvalidInputError(`${what} is not a FHIR resource with a resourceType and an id`);
  return body;
}
