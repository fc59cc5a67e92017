/**
 * Notification payloads about our own test patients, shaped like the reference fixtures of each
 * delivery style (../shared/reference/notifications/), so end-to-end tests can follow every
 * style and content level all the way to a RiskAssessment.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4.js';

export type Content = 'full-resource' | 'id-only' | 'empty';

/** One HTTP request to fhir-risk: path relative to the service root. */
export interface NotificationRequest {
  method: 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers: Record<string, string>;
  body: string;
}

type Focus = FhirResource & { id: string };

const BACKPORT_SD = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
/** The notifying server's base as the notification names it: deliberately another host (SSRF rule). */
export const FOREIGN_BASE = 'https://ehr.example.org/fhir';

function json(method: NotificationRequest['method'], path: string, body: unknown, headers: Record<string, string> = {}): NotificationRequest {
  return { method, path, headers: { 'content-type': 'application/fhir+json', ...headers }, body: JSON.stringify(body) };
}

export function hapiPut(resource: Focus): NotificationRequest {
  const version = resource.meta?.versionId;
  return json('PUT', `/notify/${resource.resourceType}/${resource.id}`, resource, version ? { 'if-match': `W/"${version}"` } : {});
}

export function hapiDelete(resourceType: string, id: string): NotificationRequest {
  return { method: 'DELETE', path: `/notify/${resourceType}/${id}`, headers: {}, body: '' };
}

export function hapiPing(): NotificationRequest {
  return { method: 'POST', path: '/notify', headers: {}, body: '' };
}

function focusUrl(resource: Focus): string {
  const version = resource.meta?.versionId;
  return `${FOREIGN_BASE}/${resource.resourceType}/${resource.id}${version ? `/_history/${version}` : ''}`;
}

function resourceEntries(resource: Focus, content: Content): BundleEntry[] {
  if (content === 'empty') return [];
  const entry: BundleEntry = {
    fullUrl: `${FOREIGN_BASE}/${resource.resourceType}/${resource.id}`,
    request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
    response: { status: '200' },
  };
  if (content === 'full-resource') entry.resource = resource;
  return [entry];
}

/** Subscriptions Backport IG, R4: history Bundle whose first entry is a Parameters SubscriptionStatus. */
export function backportR4(resource: Focus, content: Content, eventNumber: number, subscription = 'fhir-risk-r4'): NotificationRequest {
  const statusId = randomUUID();
  const event =
    content === 'empty'
      ? []
      : [
          {
            name: 'notification-event',
            part: [
              { name: 'event-number', valueString: String(eventNumber) },
              { name: 'timestamp', valueInstant: new Date().toISOString() },
              { name: 'focus', valueReference: { reference: focusUrl(resource) } },
            ],
          },
        ];
  const bundle: Bundle = {
    resourceType: 'Bundle',
    meta: { profile: [`${BACKPORT_SD}/backport-subscription-notification-r4`] },
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:${statusId}`,
        resource: {
          resourceType: 'Parameters',
          id: statusId,
          meta: { profile: [`${BACKPORT_SD}/backport-subscription-status-r4`] },
          parameter: [
            { name: 'subscription', valueReference: { reference: `${FOREIGN_BASE}/Subscription/${subscription}` } },
            { name: 'topic', valueCanonical: 'http://fhir-risk.org/fhir/SubscriptionTopic/observation-changes' },
            { name: 'status', valueCode: 'active' },
            { name: 'type', valueCode: 'event-notification' },
            { name: 'events-since-subscription-start', valueString: String(eventNumber) },
            ...event,
          ],
        },
        request: { method: 'GET', url: `${FOREIGN_BASE}/Subscription/${subscription}/$status` },
        response: { status: '200' },
      },
      ...resourceEntries(resource, content),
    ],
  };
  return json('POST', '/notify', bundle);
}

function subscriptionStatus(resource: Focus, content: Content, eventNumber: number, subscription: string) {
  return {
    resourceType: 'SubscriptionStatus',
    id: randomUUID(),
    status: 'active',
    type: 'event-notification',
    eventsSinceSubscriptionStart: String(eventNumber),
    ...(content === 'empty'
      ? {}
      : { notificationEvent: [{ eventNumber: String(eventNumber), timestamp: new Date().toISOString(), focus: { reference: focusUrl(resource) } }] }),
    subscription: { reference: `${FOREIGN_BASE}/Subscription/${subscription}` },
    topic: 'http://fhir-risk.org/fhir/SubscriptionTopic/observation-changes',
  };
}

/** Backport IG, R4B: history Bundle whose first entry is a SubscriptionStatus. */
export function backportR4B(resource: Focus, content: Content, eventNumber: number, subscription = 'fhir-risk-r4b'): NotificationRequest {
  const status = subscriptionStatus(resource, content, eventNumber, subscription);
  return json('POST', '/notify', {
    resourceType: 'Bundle',
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${status.id}`, resource: status, request: { method: 'GET', url: `${FOREIGN_BASE}/Subscription/${subscription}/$status` }, response: { status: '200' } },
      ...resourceEntries(resource, content),
    ],
  });
}

/** R5: `subscription-notification` Bundle. */
export function r5(resource: Focus, content: Content, eventNumber: number, subscription = 'fhir-risk-r5'): NotificationRequest {
  const status = subscriptionStatus(resource, content, eventNumber, subscription);
  return json('POST', '/notify', {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'subscription-notification',
    timestamp: new Date().toISOString(),
    entry: [{ fullUrl: `urn:uuid:${status.id}`, resource: status }, ...resourceEntries(resource, content)],
  });
}

/** Medplum: the bare resource, signed with X-Signature = hex HMAC-SHA256(raw body, secret). */
export function medplum(resource: Focus, secret: string): NotificationRequest {
  const body = JSON.stringify(resource);
  return {
    method: 'POST',
    path: '/notify',
    headers: {
      'content-type': 'application/fhir+json',
      'x-medplum-interaction': 'update',
      'x-medplum-subscription': 'fhir-risk-medplum',
      'x-signature': createHmac('sha256', secret).update(body).digest('hex'),
    },
    body,
  };
}

function azureData(resource: Focus) {
  return {
    resourceType: resource.resourceType,
    resourceFhirAccount: 'ehr.fhir.azurehealthcareapis.com',
    resourceFhirId: resource.id,
    resourceVersionId: Number(resource.meta?.versionId ?? 1) || 1,
  };
}

/** Azure Health Data Services through Event Grid (event grid schema): ids and version only. */
export function azureEventGrid(resource: Focus, token: string): NotificationRequest {
  return json(
    'POST',
    `/notify?token=${encodeURIComponent(token)}`,
    [
      {
        id: randomUUID(),
        topic: '/subscriptions/x/resourceGroups/y/providers/Microsoft.HealthcareApis/workspaces/z',
        subject: `ehr.fhir.azurehealthcareapis.com/${resource.resourceType}/${resource.id}`,
        data: azureData(resource),
        eventType: 'Microsoft.HealthcareApis.FhirResourceUpdated',
        dataVersion: '1',
        metadataVersion: '1',
        eventTime: new Date().toISOString(),
      },
    ],
    { 'content-type': 'application/json' },
  );
}

/** Azure Health Data Services, CloudEvents schema. */
export function azureCloudEvents(resource: Focus, token: string): NotificationRequest {
  return json(
    'POST',
    `/notify?token=${encodeURIComponent(token)}`,
    [
      {
        id: randomUUID(),
        source: '/subscriptions/x/resourceGroups/y/providers/Microsoft.HealthcareApis/workspaces/z',
        specversion: '1.0',
        type: 'Microsoft.HealthcareApis.FhirResourceUpdated',
        dataschema: '#2',
        subject: `ehr.fhir.azurehealthcareapis.com/${resource.resourceType}/${resource.id}`,
        time: new Date().toISOString(),
        data: azureData(resource),
      },
    ],
    { 'content-type': 'application/cloudevents-batch+json' },
  );
}

/** Google Cloud Healthcare API, Pub/Sub push: FullResource or NameOnly payload. */
export function gcpPubSub(resource: Focus, payloadType: 'FullResource' | 'NameOnly', token: string): NotificationRequest {
  const name = `projects/p/locations/l/datasets/d/fhirStores/s/fhir/${resource.resourceType}/${resource.id}`;
  const data = Buffer.from(payloadType === 'FullResource' ? JSON.stringify(resource) : name).toString('base64');
  return json(
    'POST',
    `/notify?token=${encodeURIComponent(token)}`,
    {
      message: {
        attributes: {
          action: 'UpdateResource',
          payloadType,
          resourceType: resource.resourceType,
          storeName: 'projects/p/locations/l/datasets/d/fhirStores/s',
          ...(resource.meta?.versionId ? { versionId: resource.meta.versionId } : {}),
        },
        data,
        messageId: String(Date.now()),
        publishTime: new Date().toISOString(),
      },
      subscription: 'projects/p/subscriptions/fhir-risk-push',
    },
    { 'content-type': 'application/json' },
  );
}

export async function send(serviceUrl: string, request: NotificationRequest, extraHeaders: Record<string, string> = {}): Promise<Response> {
  return fetch(`${serviceUrl}${request.path}`, {
    method: request.method,
    headers: { ...request.headers, ...extraHeaders },
    ...(request.body !== '' ? { body: request.body } : {}),
  });
}
