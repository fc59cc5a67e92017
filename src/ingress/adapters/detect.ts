/**
 * Picks the adapter for a request from its shape: route, headers, then body. Each rule is a fact
 * of one sender's wire format (see ../README.md for the table).
 */
import { InvalidInputError } from '../../errors.ts';
import type { NotificationAdapter, NotificationParse, NotificationRequest } from '../notification.ts';
import { isRecord } from '../references.ts';
import { isCloudEvent, parseAzureEventGrid } from './azure-event-grid.ts';
import { parseBackportR4 } from './backport-r4.ts';
import { isPubSubPush, parseGcpPubSub } from './gcp-pubsub.ts';
import { parseBareResource, parseHapiPing, parseHapiResourcePath } from './hapi-rest-hook.ts';
import { isMedplumRequest, parseMedplum } from './medplum.ts';
import { parseBackportR4B, parseR5 } from './subscription-status.ts';

/** Returns the adapter for this request; throws `InvalidInputError` (400) when none fits. */
export function selectAdapter(request: NotificationRequest): NotificationAdapter {
  if (request.params.type !== undefined || request.params.id !== undefined) return parseHapiResourcePath;
  const body = request.json;
  if (body === undefined) return parseHapiPing;
  // Before any body rule: a Medplum delete's body is a bare `{}`.
  if (isMedplumRequest(request.headers)) return parseMedplum;
  if (Array.isArray(body) || isCloudEvent(body)) return parseAzureEventGrid;
  if (isPubSubPush(body)) return parseGcpPubSub;
  if (!isRecord(body) || typeof body.resourceType !== 'string') {
    throw new InvalidInputError('The body is JSON but not a notification of any supported delivery style');
  }
  if (body.resourceType === 'Bundle') return bundleAdapter(body);
  return parseBareResource;
}

/** Parses a notification request of any supported delivery style. */
export function parseNotification(request: NotificationRequest): NotificationParse {
  return selectAdapter(request)(request);
}

/** Topic-based Bundles are told apart by their first entry, as the IG's invariants do. */
function bundleAdapter(bundle: Record<string, unknown>): NotificationAdapter {
  const first = Array.isArray(bundle.entry) ? (bundle.entry as unknown[])[0] : undefined;
  const statusType = isRecord(first) && isRecord(first.resource) ? first.resource.resourceType : undefined;
  if (statusType === 'Parameters' && bundle.type === 'history') return parseBackportR4;
  if (statusType === 'SubscriptionStatus') return bundle.type === 'history' ? parseBackportR4B : parseR5;
  throw new InvalidInputError(
    `A Bundle of type '${String(bundle.type).slice(0, 40)}' that does not start with a Parameters or SubscriptionStatus entry is not a subscription notification`,
  );
}
