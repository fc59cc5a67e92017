/**
 * Subscriptions R5 Backport IG on FHIR R4: a `history` Bundle whose first entry is a `Parameters`
 * (profile backport-subscription-status-r4).
 *
 * Tolerates what real servers send: HAPI's `timestamp` as `valueDate` (not `valueInstant`), a
 * status entry without `request`, counters that reset, extra parts such as Argonaut's `trigger`.
 */
import { InvalidInputError } from '../../errors.ts';
import type { NotificationAdapter } from '../notification.ts';
import { isRecord, parseCounter } from '../references.ts';
import { bundleEntries, parseTopicNotification, type TopicEvent, type TopicStatus } from './topic-bundle.ts';

type Parameter = Record<string, unknown>;

export const parseBackportR4: NotificationAdapter = (request) => {
  const bundle = request.json;
  if (!isRecord(bundle) || bundle.resourceType !== 'Bundle') throw new InvalidInputError('Expected a notification Bundle');
  const { statusResource, rest } = bundleEntries(bundle);
  if (statusResource.resourceType !== 'Parameters') {
    throw new InvalidInputError('A Backport R4 notification Bundle must start with a Parameters entry');
  }
  return parseTopicNotification('backport-r4', readStatusParameters(statusResource), rest);
};

/** Reads the backport-subscription-status-r4 `Parameters` into the version-neutral `TopicStatus`. */
export function readStatusParameters(parameters: Record<string, unknown>): TopicStatus {
  const list = Array.isArray(parameters.parameter) ? parameters.parameter.filter(isRecord) : [];
  const subscription = referenceOf(single(list, 'subscription'));
  if (!subscription) throw new InvalidInputError("The status Parameters have no 'subscription' reference");
  const type = single(list, 'type')?.valueCode;
  if (typeof type !== 'string') throw new InvalidInputError("The status Parameters have no 'type'");
  const status = single(list, 'status')?.valueCode;
  const topic = single(list, 'topic')?.valueCanonical ?? single(list, 'topic')?.valueUri;
  const eventsSince = parseCounter(primitiveValue(single(list, 'events-since-subscription-start')), 'events-since-subscription-start');
  const heartbeat = parseCounter(primitiveValue(single(list, 'heartbeat-period')), 'heartbeat-period');
  return {
    subscription,
    type,
    ...(typeof status === 'string' && { status }),
    ...(typeof topic === 'string' && { topic }),
    ...(eventsSince !== undefined && { eventsSinceSubscriptionStart: eventsSince }),
    ...(heartbeat !== undefined && { heartbeatPeriodSeconds: heartbeat }),
    errors: list.filter((p) => p.name === 'error').map(errorText),
    events: list.filter((p) => p.name === 'notification-event').map(readNotificationEvent),
  };
}

function readNotificationEvent(parameter: Parameter): TopicEvent {
  // Absent parts/focus mean `empty` content (a sweep finds the change); present but mistyped is
  // malformed (400), not silently "empty" (found by test/hostile).
  if (parameter.part !== undefined && (!Array.isArray(parameter.part) || !parameter.part.every(isRecord))) {
    throw new InvalidInputError('notification-event.part must be a list of parameters');
  }
  const parts = (parameter.part ?? []) as Parameter[];
  if (parts.length === 0) throw new InvalidInputError('notification-event has no event-number and no focus');
  const eventNumber = parseCounter(primitiveValue(single(parts, 'event-number')), 'notification-event.event-number');
  const timestamp = single(parts, 'timestamp');
  // HAPI sends `valueDate`; the IG says `valueInstant`; accept any date-like primitive.
  if (timestamp && typeof (timestamp.valueInstant ?? timestamp.valueDate ?? timestamp.valueDateTime) !== 'string') {
    throw new InvalidInputError('notification-event.timestamp must be a valueInstant, valueDateTime or valueDate');
  }
  const focusPart = single(parts, 'focus');
  const focus = referenceOf(focusPart);
  if (focusPart && focus === undefined) throw new InvalidInputError('notification-event.focus must be a valueReference with a reference');
  return { ...(eventNumber !== undefined && { eventNumber }), ...(focus !== undefined && { focus }) };
}

function single(list: readonly Parameter[], name: string): Parameter | undefined {
  return list.find((p) => p.name === name);
}

function referenceOf(parameter: Parameter | undefined): string | undefined {
  const value = parameter?.valueReference;
  return isRecord(value) && typeof value.reference === 'string' ? value.reference : undefined;
}

/** Counters are `valueString` in the IG; servers also send integer types. */
function primitiveValue(parameter: Parameter | undefined): unknown {
  if (!parameter) return undefined;
  return (
    parameter.valueString ??
    parameter.valueUnsignedInt ??
    parameter.valueInteger ??
    parameter.valueInteger64 ??
    parameter.valuePositiveInt ??
    parameter.valueDecimal
  );
}

function errorText(parameter: Parameter): string {
  const concept = parameter.valueCodeableConcept;
  if (!isRecord(concept)) return 'unknown';
  const coding = Array.isArray(concept.coding) ? concept.coding.find(isRecord) : undefined;
  const code = coding?.code ?? concept.text;
  return typeof code === 'string' ? code : 'unknown';
}
