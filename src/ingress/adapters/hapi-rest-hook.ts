/**
 * Classic (criteria-based) R4 rest-hook, as HAPI, Firely and FHIR Works on AWS send it:
 * - `PUT|POST {endpoint}/{Type}/{id}` with the resource (`If-Match: W/"3"` may carry the version);
 *   FHIR Works on AWS sends this PUT with an empty body, which we take as id-only;
 * - `DELETE {endpoint}/{Type}/{id}` (HAPI `send-delete-messages`);
 * - `POST {endpoint}` with an empty body: "something matched", no more (a ping);
 * - `POST {endpoint}` with a bare resource and no vendor headers.
 *
 * The sender does not say create or update (HAPI always PUTs), hence action `changed`.
 */
import { InvalidInputError } from '../../errors.ts';
import type { NotificationAdapter, NotificationParse } from '../notification.ts';
import { headerValue, isFhirId, isResourceType, versionFromEtag } from '../references.ts';
import { requireResourceBody } from '../resource-body.ts';

/** `POST /notify` with an empty body. */
export const parseHapiPing: NotificationAdapter = () => ({ kind: 'ping', style: 'hapi-rest-hook' });

/** `PUT|POST|DELETE /notify/:type/:id`. */
export const parseHapiResourcePath: NotificationAdapter = (request) => {
  const { type, id } = request.params;
  if (!isResourceType(type) || !isFhirId(id)) {
    throw new InvalidInputError('The notification path must be /notify/{ResourceType}/{id} with a valid FHIR type and id');
  }
  const versionFromHeader = versionFromEtag(headerValue(request.headers, 'if-match'));
  if (request.method === 'DELETE') {
    return single({ resourceType: type, id, action: 'delete', ...(versionFromHeader !== undefined && { versionId: versionFromHeader }) });
  }
  if (request.json === undefined) {
    // FHIR Works on AWS: PUT to the resource path with no body. Id-only: the worker fetches it.
    return single({ resourceType: type, id, action: 'changed', ...(versionFromHeader !== undefined && { versionId: versionFromHeader }) });
  }
  const body = requireResourceBody(request.json, 'The notification body');
  if (body.resourceType !== type || body.id !== id) {
    throw new InvalidInputError(`The body is ${body.resourceType}/${body.id} but the path names ${type}/${id}`);
  }
  const versionId = body.versionId ?? versionFromHeader;
  return single({
    resourceType: type,
    id,
    action: 'changed',
    ...(versionId !== undefined && { versionId }),
    ...(body.lastUpdated !== undefined && { lastUpdated: body.lastUpdated }),
    resource: body.resource,
  });
};

/** `POST /notify` with a bare resource and no vendor headers (a classic rest-hook POSTed to the endpoint). */
export const parseBareResource: NotificationAdapter = (request) => {
  const body = requireResourceBody(request.json, 'The notification body');
  return single({
    resourceType: body.resourceType,
    id: body.id,
    action: 'changed',
    ...(body.versionId !== undefined && { versionId: body.versionId }),
    ...(body.lastUpdated !== undefined && { lastUpdated: body.lastUpdated }),
    resource: body.resource,
  });
};

function single(event: Omit<Extract<NotificationParse, { kind: 'events' }>['events'][number], 'style'>): NotificationParse {
  return { kind: 'events', style: 'hapi-rest-hook', events: [{ ...event, style: 'hapi-rest-hook' }] };
}
