/**
 * Notification Bundles whose first entry is a `SubscriptionStatus` resource: Backport IG on R4B
 * (`Bundle.type` history) and R5 (`subscription-notification`). HAPI R5 has been seen sending
 * `transaction` (hapifhir/hapi-fhir#5208); the status entry decides, not the Bundle type.
 */
import { InvalidInputError } from '../../errors.ts';
import type { NotificationAdapter } from '../notification.ts';
import { isRecord, parseCounter } from '../references.ts';
import type { DeliveryStyle } from '../resource-event.ts';
import { bundleEntries, parseTopicNotification, type TopicEvent, type TopicStatus } from './topic-bundle.ts';

function adapterFor(style: DeliveryStyle): NotificationAdapter {
  return (request) => {
    const bundle = request.json;
    if (!isRecord(bundle) || bundle.resourceType !== 'Bundle') throw new InvalidInputError('Expected a notification Bundle');
    const { statusResource, rest } = bundleEntries(bundle);
    if (statusResource.resourceType !== 'SubscriptionStatus') {
      throw new InvalidInputError('This notification Bundle must start with a SubscriptionStatus entry');
    }
    return parseTopicNotification(style, readSubscriptionStatus(statusResource), rest);
  };
}

/** Backport IG on FHIR R4B. */
export const parseBackportR4B: NotificationAdapter = adapterFor('backport-r4b');
/** FHIR R5 `subscription-notification`. */
export const parseR5: NotificationAdapter = adapterFor('r5');

/** Reads a `SubscriptionStatus` (R4B or R5) into the version-neutral `TopicStatus`. */
export function readSubscriptionStatus(status: Record<string, unknown>): TopicStatus {
  const subscription = isRecord(status.subscription) ? status.subscription.reference : undefined;
  if (typeof subscription !== 'string') throw new InvalidInputError('SubscriptionStatus.subscription has no reference');
  if (typeof status.type !== 'string') throw new InvalidInputError('SubscriptionStatus.type is missing');
  const eventsSince = parseCounter(status.eventsSinceSubscriptionStart, 'eventsSinceSubscriptionStart');
  // Absent (or an empty list) means `empty` content; present but mistyped is malformed (400).
  if (status.notificationEvent !== undefined && (!Array.isArray(status.notificationEvent) || !status.notificationEvent.every(isRecord))) {
    throw new InvalidInputError('SubscriptionStatus.notificationEvent must be a list of events');
  }
  const events = (status.notificationEvent ?? []) as Record<string, unknown>[];
  const errors = Array.isArray(status.error) ? status.error.filter(isRecord) : [];
  return {
    subscription,
    type: status.type,
    ...(typeof status.status === 'string' && { status: status.status }),
    ...(typeof status.topic === 'string' && { topic: status.topic }),
    ...(eventsSince !== undefined && { eventsSinceSubscriptionStart: eventsSince }),
    errors: errors.map((e) => {
      const coding = Array.isArray(e.coding) ? e.coding.find(isRecord) : undefined;
      const code = coding?.code ?? e.text;
      return typeof code === 'string' ? code : 'unknown';
    }),
    events: events.map((e): TopicEvent => {
      const eventNumber = parseCounter(e.eventNumber, 'notificationEvent.eventNumber');
      const focus = isRecord(e.focus) && typeof e.focus.reference === 'string' ? e.focus.reference : undefined;
      if (e.focus !== undefined && focus === undefined) throw new InvalidInputError('notificationEvent.focus must be a Reference with a reference');
      return { ...(eventNumber !== undefined && { eventNumber }), ...(focus !== undefined && { focus }) };
    }),
  };
}
