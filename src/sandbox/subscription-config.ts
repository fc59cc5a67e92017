/**
 * Reads a FHIR R4 `Subscription` into what delivery needs: style, endpoint, headers, payload,
 * and the search filters a changed resource must match.
 *
 * Two styles, decided the way HAPI decides them:
 * - `backport` when `meta.profile` names the Subscriptions Backport profile: `criteria` is a
 *   SubscriptionTopic canonical and the filters are `backport-filter-criteria` extensions on
 *   `_criteria`; content level from `backport-payload-content` on `_payload`;
 * - `classic` otherwise: `criteria` is itself a search (`Observation?code=…`).
 */
import { parseSearchRequest, type SearchRequest } from '@medplum/core';
import type { Extension, Subscription } from 'fhir/r4.js';
import { normalizeReferenceValues, type Query } from './search-query.ts';

export const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
export const BACKPORT_SUBSCRIPTION_PROFILE = `${BACKPORT}/backport-subscription`;
const FILTER_CRITERIA = `${BACKPORT}/backport-filter-criteria`;
const PAYLOAD_CONTENT = `${BACKPORT}/backport-payload-content`;
const HAPI = 'http://hapifhir.io/fhir/StructureDefinition';
const SEND_DELETES = `${HAPI}/subscription-send-delete-messages`;
const STRIP_VERSION_IDS = `${HAPI}/subscription-resthook-strip-version-ids`;

/** Without a filter, a topic-based subscription is taken to follow the Patient Data Feed types. */
const DEFAULT_TOPIC_TYPES = ['Observation', 'Condition'];

export type PayloadContent = 'empty' | 'id-only' | 'full-resource';

export interface SubscriptionConfig {
  readonly id: string;
  readonly style: 'classic' | 'backport';
  readonly status: Subscription['status'];
  readonly endpoint: string;
  /** `channel.header` split at the first colon, as HAPI does. */
  readonly headers: readonly (readonly [string, string])[];
  /** `channel.payload` (a MIME type) when set. */
  readonly payload: string | undefined;
  /** Backport content level (`full-resource` when the extension is absent). */
  readonly content: PayloadContent;
  /** The topic canonical (backport) or undefined (classic). */
  readonly topic: string | undefined;
  /** A change matches when it matches any filter; none means "any of DEFAULT_TOPIC_TYPES". */
  readonly filters: readonly SearchRequest[];
  /** HAPI's `subscription-send-delete-messages` extension on `channel`. */
  readonly sendDeleteMessages: boolean;
  /** HAPI's `subscription-resthook-strip-version-ids`: no `If-Match` on the PUT. */
  readonly stripVersionIds: boolean;
  /** Everything that shapes a delivery, for telling a status change from a reconfiguration. */
  readonly fingerprint: string;
}

export type ParsedSubscription = { ok: true; config: SubscriptionConfig } | { ok: false; reason: string };

function extensionBoolean(extensions: Extension[] | undefined, url: string): boolean {
  return extensions?.find((e) => e.url === url)?.valueBoolean === true;
}

/** A search URL (`Observation?code=…`) as a Medplum SearchRequest, bare patient ids accepted. */
export function parseCriteria(criteria: string): SearchRequest {
  const [path = '', search = ''] = criteria.split('?', 2);
  const resourceType = path.split('/').filter(Boolean).pop() ?? '';
  if (!/^[A-Z][A-Za-z]+$/.test(resourceType)) throw new Error(`criteria does not start with a resource type: ${criteria}`);
  const query: Query = {};
  for (const [name, value] of new URLSearchParams(search)) {
    const prev = query[name];
    query[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return parseSearchRequest(resourceType, normalizeReferenceValues(resourceType, query));
}

/** Reads a Subscription; `ok: false` says in plain words why it cannot be delivered. */
export function parseSubscription(sub: Subscription): ParsedSubscription {
  if (!sub.id) return { ok: false, reason: 'Subscription has no id' };
  const channel = sub.channel;
  if (channel?.type !== 'rest-hook') return { ok: false, reason: `channel.type ${channel?.type ?? '(none)'} is not supported; only rest-hook` };
  if (!channel.endpoint || !/^https?:\/\//.test(channel.endpoint)) {
    return { ok: false, reason: 'channel.endpoint must be an http(s) URL' };
  }
  const style = sub.meta?.profile?.includes(BACKPORT_SUBSCRIPTION_PROFILE) ? 'backport' : 'classic';
  const headers = (channel.header ?? []).flatMap((h): [string, string][] => {
    const colon = h.indexOf(':');
    return colon > 0 ? [[h.slice(0, colon).trim(), h.slice(colon + 1).trim()]] : [];
  });
  const contentCode = channel._payload?.extension?.find((e) => e.url === PAYLOAD_CONTENT)?.valueCode;
  const content: PayloadContent =
    contentCode === 'empty' || contentCode === 'id-only' || contentCode === 'full-resource' ? contentCode : 'full-resource';

  let filters: SearchRequest[];
  try {
    if (style === 'backport') {
      const texts = (sub._criteria?.extension ?? []).filter((e) => e.url === FILTER_CRITERIA).map((e) => e.valueString ?? '');
      filters = texts.filter(Boolean).map(parseCriteria);
    } else {
      if (!sub.criteria) return { ok: false, reason: 'criteria is required' };
      filters = [parseCriteria(sub.criteria)];
    }
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }

  const config = {
    id: sub.id,
    style,
    status: sub.status,
    endpoint: channel.endpoint,
    headers,
    payload: channel.payload,
    content,
    topic: style === 'backport' ? sub.criteria : undefined,
    filters,
    sendDeleteMessages: extensionBoolean(channel.extension, SEND_DELETES),
    stripVersionIds: extensionBoolean(channel.extension, STRIP_VERSION_IDS),
  } as const;
  const { status: _status, ...shape } = config;
  return { ok: true, config: { ...config, fingerprint: JSON.stringify(shape) } };
}

/** The resource types a config can ever match (for cheap pre-filtering). */
export function matchedTypes(config: SubscriptionConfig): string[] {
  return config.filters.length ? config.filters.map((f) => f.resourceType) : DEFAULT_TOPIC_TYPES;
}
