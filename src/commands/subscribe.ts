/**
 * `fhir-risk subscribe`: creates the Subscriptions that make an EHR notify fhir-risk.
 *
 * Two shapes: the R4 classic rest-hook (HAPI, Smile, Medplum) with the resource as payload, and
 * the Subscriptions Backport R4 topic-based form. Criteria name the trigger codes of the loaded
 * models, so the EHR sends only what a model uses.
 */
import type { Subscription } from 'fhir/r4.js';

export const BACKPORT_PROFILE = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription';
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

export interface SubscriptionOptions {
  /** Our notification endpoint, e.g. https://fhir-risk.hospital.org/notify */
  endpoint: string;
  style: 'r4' | 'backport';
  content: 'full-resource' | 'id-only';
  /** Sent as `Authorization: Bearer <secret>` (NOTIFY_SECRET). */
  secret?: string;
  /** `system|code` trigger codes per resource type; empty means every resource of the type. */
  codes: { Observation: string[]; Condition: string[] };
  /** Seconds between heartbeats the server should send (Backport only). */
  heartbeatSeconds?: number;
}

export function buildSubscriptions(options: SubscriptionOptions): Subscription[] {
  return (['Observation', 'Condition'] as const).map((type) => {
    const codes = options.codes[type];
    const criteria = codes.length > 0 ? `${type}?code=${codes.join(',')}` : type;
    const header = options.secret ? [`Authorization: Bearer ${options.secret}`] : undefined;
    if (options.style === 'r4') {
      return {
        resourceType: 'Subscription',
        status: 'requested',
        reason: `fhir-risk: re-score patients when a ${type} a model uses changes`,
        criteria,
        channel: {
          type: 'rest-hook',
          endpoint: options.endpoint,
          ...(options.content === 'full-resource' ? { payload: 'application/fhir+json' } : {}),
          ...(header ? { header } : {}),
        },
      } satisfies Subscription;
    }
    return {
      resourceType: 'Subscription',
      meta: { profile: [BACKPORT_PROFILE] },
      status: 'requested',
      reason: `fhir-risk: re-score patients when a ${type} a model uses changes`,
      criteria: `http://fhir-risk.org/fhir/SubscriptionTopic/${type.toLowerCase()}-changes`,
      _criteria: { extension: [{ url: `${BACKPORT}/backport-filter-criteria`, valueString: criteria }] },
      channel: {
        extension: [{ url: `${BACKPORT}/backport-heartbeat-period`, valueUnsignedInt: options.heartbeatSeconds ?? 3600 }],
        type: 'rest-hook',
        endpoint: options.endpoint,
        payload: 'application/fhir+json',
        _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: options.content }] },
        ...(header ? { header } : {}),
      },
    } satisfies Subscription;
  });
}
