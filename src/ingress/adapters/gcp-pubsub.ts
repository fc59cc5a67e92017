/**
 * Google Cloud Healthcare API FHIR store notifications through a Pub/Sub push subscription:
 * `{ message: { attributes, data (base64), messageId, publishTime }, subscription }`.
 *
 * `payloadType` NameOnly → `data` is `projects/…/fhirStores/{store}/fhir/{Type}/{id}`;
 * FullResource → `data` is the resource JSON. Even a full-resource store falls back to NameOnly
 * for large resources, so `payloadType` decides per message, never the store's configuration.
 * The store path is dropped: only Type/id survive (SSRF rule).
 */
import { InvalidInputError } from '../../errors.ts';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from '../json-depth.ts';
import type { NotificationAdapter } from '../notification.ts';
import { isRecord, isResourceType, isVersionId, parseResourceReference } from '../references.ts';
import type { ResourceAction, ResourceEvent } from '../resource-event.ts';
import { requireResourceBody } from '../resource-body.ts';

const ACTIONS: Readonly<Record<string, ResourceAction>> = {
  CreateResource: 'create',
  UpdateResource: 'update',
  PatchResource: 'update',
  DeleteResource: 'delete',
};

/** True for a Pub/Sub push envelope. */
export function isPubSubPush(value: unknown): boolean {
  return isRecord(value) && isRecord(value.message) && typeof value.subscription === 'string' && value.resourceType === undefined;
}

export const parseGcpPubSub: NotificationAdapter = (request) => {
  const envelope = request.json;
  if (!isRecord(envelope) || !isRecord(envelope.message)) throw new InvalidInputError('Expected a Pub/Sub push envelope');
  const message = envelope.message;
  const attributes = isRecord(message.attributes) ? message.attributes : {};
  if (typeof message.data !== 'string') throw new InvalidInputError('The Pub/Sub message has no data');
  const data = Buffer.from(message.data, 'base64').toString('utf8');
  const action = typeof attributes.action === 'string' ? (ACTIONS[attributes.action] ?? 'changed') : 'changed';
  const attributeVersion = isVersionId(attributes.versionId) ? attributes.versionId : undefined;
  const attributeLastUpdated = rfc1123ToIso(attributes.lastUpdatedTime);
  const payloadType = attributes.payloadType ?? (data.trimStart().startsWith('{') ? 'FullResource' : 'NameOnly');

  let event: ResourceEvent;
  if (payloadType === 'FullResource') {
    let parsed: unknown;
    // The resource hides inside base64, out of reach of the router's depth check on the raw body.
    if (exceedsJsonDepth(data)) throw new InvalidInputError(`The Pub/Sub message data nests JSON deeper than ${MAX_JSON_DEPTH} levels`);
    try {
      parsed = JSON.parse(data);
    } catch {
      throw new InvalidInputError('The Pub/Sub message data is not a JSON resource');
    }
    const body = requireResourceBody(parsed, 'The Pub/Sub message data');
    const versionId = body.versionId ?? attributeVersion;
    const lastUpdated = body.lastUpdated ?? attributeLastUpdated;
    event = {
      resourceType: body.resourceType,
      id: body.id,
      ...(versionId !== undefined && { versionId }),
      ...(lastUpdated !== undefined && { lastUpdated }),
      action,
      resource: body.resource,
      style: 'gcp-pubsub',
    };
  } else {
    const key = parseResourceReference(data.trim());
    if (!key) throw new InvalidInputError('The Pub/Sub message data is not a FHIR resource name');
    if (isResourceType(attributes.resourceType) && attributes.resourceType !== key.resourceType) {
      throw new InvalidInputError('The Pub/Sub resourceType attribute does not match the resource name');
    }
    event = {
      resourceType: key.resourceType,
      id: key.id,
      ...(attributeVersion !== undefined && { versionId: attributeVersion }),
      ...(attributeLastUpdated !== undefined && { lastUpdated: attributeLastUpdated }),
      action,
      style: 'gcp-pubsub',
    };
  }
  return { kind: 'events', style: 'gcp-pubsub', events: [event] };
};

/** `Wed, 01 May 2024 09:31:02 UTC` → ISO 8601; undefined when absent or unparseable. */
function rfc1123ToIso(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}
