/**
 * The part shared by every topic-based notification Bundle (Backport R4 `Parameters`, Backport
 * R4B and R5 `SubscriptionStatus`): once the status entry is read into a `TopicStatus`, the rest
 * (matching each notification event's focus to a Bundle entry, content levels, kinds) is the same.
 */
import { InvalidInputError } from '../../errors.ts';
import type { NotificationParse, SubscriptionInfo } from '../notification.ts';
import { isRecord, parseResourceReference, versionFromEtag, type ResourceKey } from '../references.ts';
import type { DeliveryStyle, ResourceAction, ResourceEvent } from '../resource-event.ts';
import { readResourceBody } from '../resource-body.ts';

/** One `notification-event` / `notificationEvent`. */
export interface TopicEvent {
  readonly eventNumber?: number;
  /** The focus reference as sent; undefined for `empty` content. */
  readonly focus?: string;
}

/** The status entry of a notification Bundle, whatever its FHIR version. */
export interface TopicStatus {
  readonly subscription: string;
  readonly status?: string;
  /** handshake | heartbeat | event-notification | query-status | query-event */
  readonly type: string;
  readonly topic?: string;
  readonly eventsSinceSubscriptionStart?: number;
  readonly heartbeatPeriodSeconds?: number;
  readonly errors: readonly string[];
  readonly events: readonly TopicEvent[];
}

/** A Bundle entry after the status entry. */
interface ContentEntry {
  readonly fullUrl?: string;
  readonly key?: ResourceKey;
  readonly body?: ReturnType<typeof readResourceBody>;
  readonly action: ResourceAction;
}

/** Builds the parse result of a topic-based notification Bundle from its status and its entries. */
export function parseTopicNotification(style: DeliveryStyle, status: TopicStatus, entries: readonly unknown[]): NotificationParse {
  const subscription: SubscriptionInfo = {
    reference: status.subscription,
    ...(status.status !== undefined && { status: status.status }),
    ...(status.topic !== undefined && { topic: status.topic }),
    ...(status.eventsSinceSubscriptionStart !== undefined && {
      eventsSinceSubscriptionStart: status.eventsSinceSubscriptionStart,
    }),
    ...(status.heartbeatPeriodSeconds !== undefined && { heartbeatPeriodSeconds: status.heartbeatPeriodSeconds }),
    eventNumbers: status.events.flatMap((e) => (e.eventNumber === undefined ? [] : [e.eventNumber])),
    errors: status.errors,
  };
  switch (status.type) {
    case 'handshake':
    case 'heartbeat':
      return { kind: status.type, style, subscription };
    case 'query-status':
      return { kind: 'status', style, subscription };
    case 'event-notification':
    case 'query-event':
      return eventsParse(style, status, subscription, entries.map(readContentEntry));
    default:
      throw new InvalidInputError(`Unknown notification type '${status.type}'`);
  }
}

function eventsParse(
  style: DeliveryStyle,
  status: TopicStatus,
  subscription: SubscriptionInfo,
  entries: readonly ContentEntry[],
): NotificationParse {
  const events: ResourceEvent[] = [];
  let withoutFocus = 0;
  for (const topicEvent of status.events) {
    if (topicEvent.focus === undefined) {
      withoutFocus++;
      continue;
    }
    events.push(focusEvent(style, status.subscription, topicEvent, topicEvent.focus, entries));
  }
  // `empty` content (or an event with no focus): we know something changed, not what.
  const sweepReason =
    withoutFocus > 0 || status.events.length === 0
      ? `empty notification from ${status.subscription} (events ${subscription.eventNumbers.join(', ') || 'unnumbered'})`
      : undefined;
  return { kind: 'events', style, events, subscription, ...(sweepReason !== undefined && { sweepReason }) };
}

function focusEvent(
  style: DeliveryStyle,
  subscriptionReference: string,
  topicEvent: TopicEvent,
  focus: string,
  entries: readonly ContentEntry[],
): ResourceEvent {
  const focusKey = parseResourceReference(focus);
  const entry = entries.find((e) => matchesFocus(e, focus, focusKey));
  // A `urn:uuid:` focus names no resource by itself: the matching entry must.
  const key = focusKey ?? entry?.body ?? entry?.key;
  if (!key) throw new InvalidInputError(`Notification focus '${focus}' does not name a resource (Type/id)`);
  const body = entry?.body;
  const versionId = key.versionId ?? body?.versionId ?? entry?.key?.versionId;
  return {
    resourceType: key.resourceType,
    id: key.id,
    ...(versionId !== undefined && { versionId }),
    ...(body?.lastUpdated !== undefined && { lastUpdated: body.lastUpdated }),
    action: entry?.action ?? 'changed',
    ...(body !== undefined && { resource: body.resource }),
    style,
    subscription: subscriptionReference,
    ...(topicEvent.eventNumber !== undefined && { eventNumber: topicEvent.eventNumber }),
  };
}

function matchesFocus(entry: ContentEntry, focus: string, focusKey: ResourceKey | undefined): boolean {
  if (entry.fullUrl !== undefined && entry.fullUrl === focus) return true;
  const key = entry.body ?? entry.key;
  return key !== undefined && focusKey !== undefined && key.resourceType === focusKey.resourceType && key.id === focusKey.id;
}

function readContentEntry(value: unknown): ContentEntry {
  if (!isRecord(value)) throw new InvalidInputError('Bundle.entry must be objects');
  const body = value.resource === undefined ? undefined : readResourceBody(value.resource);
  if (value.resource !== undefined && !body) {
    throw new InvalidInputError('A notification Bundle entry holds a resource without a valid resourceType and id');
  }
  const request = isRecord(value.request) ? value.request : undefined;
  const response = isRecord(value.response) ? value.response : undefined;
  const fullUrl = typeof value.fullUrl === 'string' ? value.fullUrl : undefined;
  // Where the entry names its resource when it carries no body (id-only): request.url, then
  // response.location (`Encounter/2/_history/1`), then fullUrl. Version also from response.etag.
  const named =
    (typeof request?.url === 'string' ? parseResourceReference(request.url) : undefined) ??
    (typeof response?.location === 'string' ? parseResourceReference(response.location) : undefined) ??
    (fullUrl !== undefined ? parseResourceReference(fullUrl) : undefined);
  const etagVersion = versionFromEtag(typeof response?.etag === 'string' ? response.etag : undefined);
  const key = named && !named.versionId && etagVersion ? { ...named, versionId: etagVersion } : named;
  return {
    ...(fullUrl !== undefined && { fullUrl }),
    ...(key !== undefined && { key }),
    ...(body !== undefined && { body }),
    action: actionOf(request?.method, response?.status),
  };
}

/** History-entry semantics: POST creates, DELETE deletes, PUT updates unless the answer was 201. */
function actionOf(method: unknown, status: unknown): ResourceAction {
  switch (method) {
    case 'POST':
      return 'create';
    case 'DELETE':
      return 'delete';
    case 'PUT':
    case 'PATCH':
      return typeof status === 'string' && status.startsWith('201') ? 'create' : 'update';
    default:
      return 'changed';
  }
}

/** Reads `Bundle.entry` and checks the Bundle carries at least its status entry. */
export function bundleEntries(bundle: Record<string, unknown>): { statusResource: Record<string, unknown>; rest: unknown[] } {
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as unknown[]) : [];
  const first = entries[0];
  const statusResource = isRecord(first) && isRecord(first.resource) ? first.resource : undefined;
  if (!statusResource) throw new InvalidInputError('A notification Bundle must start with its status entry');
  return { statusResource, rest: entries.slice(1) };
}
