/**
 * Medplum rest-hook: always `POST {endpoint}` with the bare resource (compact JSON) and headers
 * `X-Medplum-Interaction: create|update|delete`, `X-Medplum-Subscription`, and, for deletes, a
 * `{}` body plus `X-Medplum-Deleted-Resource: Type/id`. `X-Signature` is checked by `auth.ts`.
 */
import { InvalidInputError } from '../../errors.ts';
import type { NotificationAdapter } from '../notification.ts';
import { headerValue, isFhirId, parseResourceReference } from '../references.ts';
import type { ResourceAction, ResourceEvent } from '../resource-event.ts';
import { requireResourceBody } from '../resource-body.ts';

/** True when the request carries Medplum's rest-hook headers. */
export function isMedplumRequest(headers: Parameters<typeof headerValue>[0]): boolean {
  return headerValue(headers, 'x-medplum-interaction') !== undefined || headerValue(headers, 'x-medplum-subscription') !== undefined;
}

export const parseMedplum: NotificationAdapter = (request) => {
  const interaction = headerValue(request.headers, 'x-medplum-interaction') ?? 'update';
  const subscriptionId = headerValue(request.headers, 'x-medplum-subscription');
  const subscription = isFhirId(subscriptionId) ? { subscription: `Subscription/${subscriptionId}` } : {};
  if (interaction === 'delete') {
    const deleted = headerValue(request.headers, 'x-medplum-deleted-resource');
    const key = deleted === undefined ? undefined : parseResourceReference(deleted);
    if (!key) throw new InvalidInputError('A Medplum delete needs X-Medplum-Deleted-Resource: Type/id');
    const event: ResourceEvent = { resourceType: key.resourceType, id: key.id, action: 'delete', style: 'medplum', ...subscription };
    return { kind: 'events', style: 'medplum', events: [event] };
  }
  const action: ResourceAction = interaction === 'create' ? 'create' : interaction === 'update' ? 'update' : 'changed';
  const body = requireResourceBody(request.json, 'The Medplum notification body');
  const event: ResourceEvent = {
    resourceType: body.resourceType,
    id: body.id,
    ...(body.versionId !== undefined && { versionId: body.versionId }),
    ...(body.lastUpdated !== undefined && { lastUpdated: body.lastUpdated }),
    action,
    resource: body.resource,
    style: 'medplum',
    ...subscription,
  };
  return { kind: 'events', style: 'medplum', events: [event] };
};
