/**
 * Notification payloads about our own test patients, shaped exactly like the reference
 * fixtures of each delivery style (see ../shared/reference/notifications/).
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, FhirResource } from 'fhir/r4.js';

/** Subscriptions Backport IG, R4: history Bundle, first entry Parameters, then the resource. */
export function backportR4FullResource(resource: FhirResource & { id: string }, opts: { serverBase: string; eventNumber: number }): Bundle {
  const statusId = randomUUID();
  const focus = `${opts.serverBase}/${resource.resourceType}/${resource.id}`;
  return {
    resourceType: 'Bundle',
    meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4'] },
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:${statusId}`,
        resource: {
          resourceType: 'Parameters',
          id: statusId,
          meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4'] },
          parameter: [
            { name: 'subscription', valueReference: { reference: `${opts.serverBase}/Subscription/e2e-feed` } },
            { name: 'topic', valueCanonical: 'http://fhir-risk.org/fhir/SubscriptionTopic/observation-changes' },
            { name: 'status', valueCode: 'active' },
            { name: 'type', valueCode: 'event-notification' },
            { name: 'events-since-subscription-start', valueString: String(opts.eventNumber) },
            {
              name: 'notification-event',
              part: [
                { name: 'event-number', valueString: String(opts.eventNumber) },
                { name: 'timestamp', valueInstant: new Date().toISOString() },
                { name: 'focus', valueReference: { reference: focus } },
              ],
            },
          ],
        },
        request: { method: 'GET', url: `${opts.serverBase}/Subscription/e2e-feed/$status` },
        response: { status: '200' },
      },
      {
        fullUrl: focus,
        resource,
        request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
        response: { status: '201' },
      },
    ],
  };
}
