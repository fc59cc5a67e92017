/**
 * The HTTP requests a subscription delivery sends, built as plain data (pure functions).
 *
 * Shapes follow the reference captures in ../shared/reference/notifications (MANIFEST.json):
 * - HAPI R4 classic rest-hook with payload: `PUT {endpoint}/{Type}/{id}`, compact JSON body,
 *   `If-Match: "<version>"`; on delete (when asked for) `DELETE {endpoint}/{Type}/{id}`;
 *   without payload: `POST {endpoint}`, empty body, only the channel headers.
 * - Subscriptions Backport R4: `POST {endpoint}` with a `history` Bundle whose first entry is the
 *   `Parameters` SubscriptionStatus (`backport-r4-handshake.json`,
 *   `backport-r4-event-full-resource-observation.json`).
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Parameters, ParametersParameter } from 'fhir/r4.js';
import type { ResourceChange } from './repository.ts';
import { BACKPORT, type SubscriptionConfig } from './subscription-config.ts';

export interface OutgoingRequest {
  readonly method: 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Exact body bytes (compact JSON), or undefined for no body. */
  readonly body: string | undefined;
  /** For logs: what this request carries, ids only. */
  readonly label: string;
}

const USER_AGENT = 'fhir-risk-sandbox (FHIR Client; FHIR 4.0.1/R4)';

function channelHeaders(config: SubscriptionConfig): Record<string, string> {
  return Object.fromEntries(config.headers);
}

/** The HAPI-style classic rest-hook request for one change, or undefined when none is sent. */
export function classicRequest(
  config: SubscriptionConfig,
  change: ResourceChange,
  opts: { deletes: 'extension' | 'always' },
): OutgoingRequest | undefined {
  const label = `${change.interaction} ${change.resourceType}/${change.id}/_history/${change.versionId}`;
  if (change.interaction === 'delete' && !(config.sendDeleteMessages || opts.deletes === 'always')) return undefined;
  const base = config.endpoint.replace(/\/+$/, '');
  if (!config.payload) {
    return { method: 'POST', url: config.endpoint, headers: channelHeaders(config), body: undefined, label };
  }
  const url = `${base}/${change.resourceType}/${encodeURIComponent(change.id)}`;
  if (change.interaction === 'delete') {
    return { method: 'DELETE', url, headers: { 'User-Agent': USER_AGENT, ...channelHeaders(config) }, body: undefined, label };
  }
  const headers: Record<string, string> = {
    'Content-Type': 'application/fhir+json; charset=UTF-8',
    Accept: 'application/fhir+json;q=1.0, application/json+fhir;q=0.9',
    'User-Agent': USER_AGENT,
  };
  if (!config.stripVersionIds) headers['If-Match'] = `"${change.versionId}"`;
  return { method: 'PUT', url, headers: { ...headers, ...channelHeaders(config) }, body: JSON.stringify(change.resource), label };
}

export interface BackportNotice {
  readonly type: 'handshake' | 'heartbeat' | 'event-notification' | 'query-status';
  /** Subscription status reported in the notification. */
  readonly status: 'requested' | 'active' | 'error' | 'off';
  readonly eventsSinceSubscriptionStart: number;
  /** For an event notification. */
  readonly event?: { readonly eventNumber: number; readonly change: ResourceChange };
  readonly timestamp: string;
}

/** The Backport R4 notification Bundle (`history`, first entry the SubscriptionStatus Parameters). */
export function backportBundle(config: SubscriptionConfig, baseUrl: string, notice: BackportNotice): Bundle {
  const statusId = randomUUID();
  const subscriptionUrl = `${baseUrl}/Subscription/${config.id}`;
  const parameter: ParametersParameter[] = [{ name: 'subscription', valueReference: { reference: subscriptionUrl } }];
  if (config.topic && !(notice.type === 'event-notification' && config.content === 'empty')) {
    parameter.push({ name: 'topic', valueCanonical: config.topic });
  }
  parameter.push(
    { name: 'status', valueCode: notice.status },
    { name: 'type', valueCode: notice.type },
    { name: 'events-since-subscription-start', valueString: String(notice.eventsSinceSubscriptionStart) },
  );
  const entries: BundleEntry[] = [];
  if (notice.event) {
    const { change, eventNumber } = notice.event;
    const focusUrl = `${baseUrl}/${change.resourceType}/${change.id}`;
    const part: ParametersParameter[] = [
      { name: 'event-number', valueString: String(eventNumber) },
      { name: 'timestamp', valueInstant: notice.timestamp },
    ];
    if (config.content !== 'empty') part.push({ name: 'focus', valueReference: { reference: focusUrl } });
    parameter.push({ name: 'notification-event', part });
    if (config.content === 'full-resource') entries.push(resourceEntry(change, focusUrl));
  }
  const status: Parameters = {
    resourceType: 'Parameters',
    id: statusId,
    meta: { profile: [`${BACKPORT}/backport-subscription-status-r4`] },
    parameter,
  };
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { profile: [`${BACKPORT}/backport-subscription-notification-r4`] },
    type: 'history',
    timestamp: notice.timestamp,
    entry: [
      {
        fullUrl: `urn:uuid:${statusId}`,
        resource: status,
        request: { method: 'GET', url: `${subscriptionUrl}/$status` },
        response: { status: '200' },
      },
      ...entries,
    ],
  };
}

/** The changed resource as a history entry; a delete has no resource, only request/response. */
function resourceEntry(change: ResourceChange, fullUrl: string): BundleEntry {
  switch (change.interaction) {
    case 'create':
      return { fullUrl, resource: change.resource, request: { method: 'POST', url: change.resourceType }, response: { status: '201' } };
    case 'update':
      return {
        fullUrl,
        resource: change.resource,
        request: { method: 'PUT', url: `${change.resourceType}/${change.id}` },
        response: { status: '200' },
      };
    case 'delete':
      return { fullUrl, request: { method: 'DELETE', url: `${change.resourceType}/${change.id}` }, response: { status: '204' } };
  }
}

/** The Backport R4 POST for a notice. */
export function backportRequest(config: SubscriptionConfig, baseUrl: string, notice: BackportNotice): OutgoingRequest {
  const bundle = backportBundle(config, baseUrl, notice);
  const what = notice.event
    ? ` #${notice.event.eventNumber} ${notice.event.change.interaction} ${notice.event.change.resourceType}/${notice.event.change.id}`
    : '';
  return {
    method: 'POST',
    url: config.endpoint,
    headers: { 'Content-Type': config.payload ?? 'application/fhir+json', ...channelHeaders(config) },
    body: JSON.stringify(bundle),
    label: `${notice.type}${what}`,
  };
}
