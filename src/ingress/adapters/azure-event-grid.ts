/**
 * Azure Health Data Services FHIR events through Event Grid, in both schemas:
 * - Event Grid schema: a JSON array of `{ eventType, subject, data, … }`;
 * - CloudEvents 1.0: `{ specversion, type, subject, data, … }`, one (structured) or an array (batch).
 *
 * Events carry no resource: `data.resourceType`, `resourceFhirId`, `resourceVersionId` only. The
 * `subject`/`resourceFhirAccount` host is ignored on purpose (SSRF rule, see references.ts).
 * The Event Grid validation handshake is answered with its `validationCode`.
 */
import { InvalidInputError } from '../../errors.ts';
import type { NotificationAdapter, NotificationParse } from '../notification.ts';
import { isFhirId, isRecord, isResourceType } from '../references.ts';
import type { DeliveryStyle, ResourceAction, ResourceEvent } from '../resource-event.ts';

const VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent';
const FHIR_EVENT_ACTIONS: Readonly<Record<string, ResourceAction>> = {
  'Microsoft.HealthcareApis.FhirResourceCreated': 'create',
  'Microsoft.HealthcareApis.FhirResourceUpdated': 'update',
  'Microsoft.HealthcareApis.FhirResourceDeleted': 'delete',
};

/** True for a CloudEvents structured event (an object with `specversion`). */
export function isCloudEvent(value: unknown): boolean {
  return isRecord(value) && typeof value.specversion === 'string';
}

export const parseAzureEventGrid: NotificationAdapter = (request) => {
  const body = request.json;
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw new InvalidInputError('An Event Grid delivery must hold at least one event');
  const style: DeliveryStyle = list.every(isCloudEvent) ? 'azure-cloudevents' : 'azure-event-grid';
  const events: ResourceEvent[] = [];
  for (const item of list) {
    if (!isRecord(item)) throw new InvalidInputError('Event Grid events must be JSON objects');
    const eventType = item.eventType ?? item.type;
    if (typeof eventType !== 'string') throw new InvalidInputError('An Event Grid event has no eventType/type');
    const data = isRecord(item.data) ? item.data : {};
    if (eventType === VALIDATION_EVENT) return validation(style, data);
    const action = FHIR_EVENT_ACTIONS[eventType];
    // Other event types (DICOM, subscription deletion) are well-formed but not ours: acknowledge.
    if (action === undefined) continue;
    events.push(fhirEvent(style, action, data));
  }
  return { kind: 'events', style, events };
};

function validation(style: DeliveryStyle, data: Record<string, unknown>): NotificationParse {
  if (typeof data.validationCode !== 'string' || data.validationCode.length === 0) {
    throw new InvalidInputError('The subscription validation event has no validationCode');
  }
  return { kind: 'validation', style, validationResponse: data.validationCode };
}

function fhirEvent(style: DeliveryStyle, action: ResourceAction, data: Record<string, unknown>): ResourceEvent {
  const { resourceType, resourceFhirId, resourceVersionId } = data;
  if (!isResourceType(resourceType) || !isFhirId(resourceFhirId)) {
    throw new InvalidInputError('A FHIR event needs data.resourceType and data.resourceFhirId');
  }
  const version =
    typeof resourceVersionId === 'number' && Number.isInteger(resourceVersionId) ? String(resourceVersionId)
    : typeof resourceVersionId === 'string' && /^\d+$/.test(resourceVersionId) ? resourceVersionId
    : undefined;
  return { resourceType, id: resourceFhirId, ...(version !== undefined && { versionId: version }), action, style };
}
