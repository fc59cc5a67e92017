/**
 * A generated corpus of malformed and hostile notifications, built from well-formed ones of every
 * delivery style (test/support/notifications.ts) by truncating, nesting, retyping, resizing,
 * re-labelling, mis-signing and re-pointing them. Deterministic (seeded), so a failure names a
 * case that can be replayed.
 */
import { createHmac } from 'node:crypto';
import type { Observation } from 'fhir/r4.js';
import {
  FOREIGN_BASE,
  azureCloudEvents,
  azureEventGrid,
  backportR4,
  backportR4B,
  gcpPubSub,
  hapiPut,
  medplum,
  r5,
  type NotificationRequest,
} from '../support/notifications.ts';

export interface HostileCase {
  readonly name: string;
  readonly method: 'POST' | 'PUT' | 'DELETE';
  /** Sent as is (no URL normalisation): `..` and `%2e%2e` reach the server. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | Buffer;
  /** The status expected; `4xx` means any client error. */
  readonly expect: 401 | 413 | 415 | '4xx';
}

export interface CorpusContext {
  secret: string;
  /** A real Observation on the FHIR server (with meta.versionId), the subject of the base notifications. */
  observation: Observation & { id: string };
  /** Base URL of the catch-all server every foreign reference points at. */
  foreignBase: string;
  /** NOTIFY_BODY_LIMIT in bytes. */
  bodyLimit: number;
}

/** mulberry32: a tiny seeded PRNG, so the corpus is the same on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Base = { name: string; request: NotificationRequest; auth: Record<string, string> };

/** Well-formed notifications of every style, with the sender's host replaced by the catch-all. */
export function baseNotifications(ctx: CorpusContext): Base[] {
  const bearer = { authorization: `Bearer ${ctx.secret}` };
  const o = ctx.observation;
  const repoint = (r: NotificationRequest): NotificationRequest => ({ ...r, body: r.body.split(FOREIGN_BASE).join(ctx.foreignBase) });
  return [
    { name: 'hapi-put', request: hapiPut(o), auth: bearer },
    { name: 'backport-r4-full', request: repoint(backportR4(o, 'full-resource', 1, 'hostile-r4')), auth: bearer },
    { name: 'backport-r4-id-only', request: repoint(backportR4(o, 'id-only', 1, 'hostile-r4-ids')), auth: bearer },
    { name: 'backport-r4b-id-only', request: repoint(backportR4B(o, 'id-only', 1, 'hostile-r4b')), auth: bearer },
    { name: 'r5-full', request: repoint(r5(o, 'full-resource', 1, 'hostile-r5')), auth: bearer },
    { name: 'medplum', request: medplum(o, ctx.secret), auth: {} },
    { name: 'event-grid', request: azureEventGrid(o, ctx.secret), auth: {} },
    { name: 'cloud-events', request: azureCloudEvents(o, ctx.secret), auth: {} },
    { name: 'pubsub-full', request: gcpPubSub(o, 'FullResource', ctx.secret), auth: {} },
    { name: 'pubsub-name', request: gcpPubSub(o, 'NameOnly', ctx.secret), auth: {} },
  ];
}

const sign = (secret: string, body: string | Buffer) => createHmac('sha256', secret).update(body).digest('hex');

function fromBase(b: Base, name: string, patch: Partial<HostileCase> & Pick<HostileCase, 'expect'>): HostileCase {
  return {
    name: `${b.name}: ${name}`,
    method: b.request.method,
    path: b.request.path,
    headers: { ...b.request.headers, ...b.auth },
    body: b.request.body,
    ...patch,
  };
}

/** Re-signs a Medplum body so the case tests what comes after authentication. */
function resigned(b: Base, secret: string, body: string): Record<string, string> {
  const headers = { ...b.request.headers, ...b.auth };
  if (headers['x-signature'] !== undefined) headers['x-signature'] = sign(secret, body);
  return headers;
}

function nested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** Sets `value` at a JSON path of a clone of `json`; undefined when the path does not exist. */
function withValue(json: unknown, path: (string | number)[], value: unknown): unknown {
  const clone = structuredClone(json) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = clone;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) return undefined;
    node = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (!(last in node)) return undefined;
  node[last] = value;
  return clone;
}

/** Paths whose value a notification cannot do without (per style, as the adapters read them). */
const ESSENTIAL_PATHS: Record<string, (string | number)[][]> = {
  'hapi-put': [['resourceType'], ['id']],
  'backport-r4-full': [['resourceType'], ['type'], ['entry'], ['entry', 0], ['entry', 0, 'resource'], ['entry', 0, 'resource', 'resourceType'], ['entry', 0, 'resource', 'parameter']],
  'backport-r4-id-only': [['entry'], ['entry', 0, 'resource', 'parameter'], ['entry', 0, 'resource', 'parameter', 5, 'part'], ['entry', 0, 'resource', 'parameter', 5, 'part', 2, 'valueReference'], ['entry', 0, 'resource', 'parameter', 5, 'part', 2, 'valueReference', 'reference']],
  'backport-r4b-id-only': [['entry'], ['entry', 0, 'resource'], ['entry', 0, 'resource', 'notificationEvent'], ['entry', 0, 'resource', 'notificationEvent', 0, 'focus'], ['entry', 0, 'resource', 'notificationEvent', 0, 'focus', 'reference']],
  'r5-full': [['resourceType'], ['entry'], ['entry', 0, 'resource'], ['entry', 0, 'resource', 'resourceType']],
  'medplum': [['resourceType'], ['id']],
  'event-grid': [[0], [0, 'data'], [0, 'data', 'resourceFhirId'], [0, 'data', 'resourceType'], [0, 'eventType']],
  'cloud-events': [[0], [0, 'data'], [0, 'data', 'resourceFhirId'], [0, 'data', 'resourceType'], [0, 'type']],
  'pubsub-full': [['message'], ['message', 'data']],
  'pubsub-name': [['message'], ['message', 'data']],
};
/**
 * Values that are not malformed where they go: an Event Grid topic carries event types we do not
 * handle (acknowledged and ignored, or Event Grid would retry and dead-letter them), and an
 * R4B `notificationEvent` list may be empty (`empty` content: a sweep finds the change).
 */
function toleratedByDesign(style: string, path: (string | number)[], value: unknown): boolean {
  const last = path[path.length - 1];
  if ((style === 'event-grid' || style === 'cloud-events') && (last === 'eventType' || last === 'type') && value === '') return true;
  return last === 'notificationEvent' && Array.isArray(value) && value.length === 0;
}
const WRONG_VALUES: unknown[] = [1, -1.5, true, null, [], {}, '', [null], { resourceType: 1 }];

/** ≥ 1,000 malformed or hostile notifications. Every one must be refused with a 4xx OperationOutcome. */
export function hostileCorpus(ctx: CorpusContext): HostileCase[] {
  const random = prng(0x5eed);
  const bases = baseNotifications(ctx);
  const out: HostileCase[] = [];
  const bearer = { authorization: `Bearer ${ctx.secret}` };
  const json = { 'content-type': 'application/fhir+json', ...bearer };
  const foreignObservation = `${ctx.foreignBase}/Observation`;
  const obs = ctx.observation;
  const observationWith = (extra: Record<string, unknown>) => JSON.stringify({ ...obs, ...extra });

  // 1. Truncated JSON: every proper prefix of a JSON object or array is invalid.
  for (const b of bases) {
    const body = b.request.body;
    for (let i = 0; i < 60; i++) {
      const cut = 1 + Math.floor(random() * (body.length - 1));
      const truncated = body.slice(0, cut);
      out.push(fromBase(b, `truncated at ${cut}/${body.length}`, { body: truncated, headers: resigned(b, ctx.secret, truncated), expect: '4xx' }));
    }
  }

  // 2. Deeply nested JSON, in every place a body can hide it.
  for (const depth of [101, 1000, 10_000, 100_000]) {
    for (const kind of ['array', 'object'] as const) {
      const deep = nested(depth, kind);
      const inResource = `${observationWith({}).slice(0, -1)},"deep":${deep}}`;
      out.push({ name: `bare resource with ${kind}s ${depth} deep`, method: 'POST', path: '/notify', headers: json, body: inResource, expect: '4xx' });
      out.push({ name: `hapi PUT with ${kind}s ${depth} deep`, method: 'PUT', path: `/notify/Observation/${obs.id}`, headers: json, body: inResource, expect: '4xx' });
      out.push({ name: `top level ${kind}s ${depth} deep`, method: 'POST', path: '/notify', headers: json, body: deep, expect: '4xx' });
      const pubsub = JSON.stringify({ message: { attributes: { payloadType: 'FullResource' }, data: Buffer.from(inResource).toString('base64'), messageId: '1' }, subscription: 's' });
      out.push({ name: `pub/sub data with ${kind}s ${depth} deep`, method: 'POST', path: `/notify?token=${ctx.secret}`, headers: { 'content-type': 'application/json' }, body: pubsub, expect: '4xx' });
    }
  }

  // 3. Wrong types where a notification needs a value.
  for (const b of bases) {
    const parsed = JSON.parse(b.request.body) as unknown;
    for (const path of ESSENTIAL_PATHS[b.name] ?? []) {
      for (const value of WRONG_VALUES) {
        if (toleratedByDesign(b.name, path, value)) continue;
        const mutated = withValue(parsed, path, value);
        if (mutated === undefined) throw new Error(`corpus: ${b.name} has no ${path.join('.')}`);
        const body = JSON.stringify(mutated);
        out.push(fromBase(b, `${path.join('.')} = ${JSON.stringify(value)}`, { body, headers: resigned(b, ctx.secret, body), expect: '4xx' }));
      }
    }
  }
  for (const body of ['null', '1', '"Observation"', 'true', '[]', '{}', '[1,2]', '[[]]']) {
    out.push({ name: `JSON ${body} as a notification`, method: 'POST', path: '/notify', headers: json, body, expect: '4xx' });
  }

  // 4. Bodies over NOTIFY_BODY_LIMIT (valid JSON otherwise: the limit alone must refuse them).
  for (const size of [ctx.bodyLimit + 1, ctx.bodyLimit * 2, ctx.bodyLimit * 8]) {
    const padded = `${observationWith({}).slice(0, -1)},"pad":"${'x'.repeat(size)}"}`;
    out.push({ name: `bare resource of ${padded.length} bytes`, method: 'POST', path: '/notify', headers: json, body: padded, expect: 413 });
    out.push({ name: `hapi PUT of ${padded.length} bytes`, method: 'PUT', path: `/notify/Observation/${obs.id}`, headers: json, body: padded, expect: 413 });
  }

  // 5. Media types that are not JSON (or not UTF-8).
  const mediaTypes = [
    'text/plain',
    'application/xml',
    'application/fhir+xml',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'text/html',
    'application/octet-stream',
    'image/png',
    'application/javascript',
    'application/fhir+json; charset=iso-8859-1',
    'application/json; charset=utf-16',
    'application/fhir+json;charset="windows-1252"',
  ];
  for (const b of bases.slice(0, 6)) {
    for (const type of mediaTypes) out.push(fromBase(b, `Content-Type ${type}`, { headers: { ...b.request.headers, ...b.auth, 'content-type': type }, expect: 415 }));
    const { 'content-type': _dropped, ...noType } = { ...b.request.headers, ...b.auth };
    out.push(fromBase(b, 'no Content-Type', { headers: noType, expect: 415 }));
  }

  // 6. Bad signatures (X-Signature decides alone, even next to a valid Bearer).
  const medplumBase = bases.find((b) => b.name === 'medplum')!;
  const signedBody = medplumBase.request.body;
  const hex = () => Array.from({ length: 64 }, () => Math.floor(random() * 16).toString(16)).join('');
  const badSignatures = [
    ...Array.from({ length: 40 }, hex),
    sign('another-secret-0123456789', signedBody),
    sign(ctx.secret, `${signedBody} `),
    sign(ctx.secret, signedBody).slice(0, 63),
    `${sign(ctx.secret, signedBody)}0`,
    sign(ctx.secret, signedBody).replace(/^./, 'z'),
    `sha256=${sign(ctx.secret, signedBody)}`,
    createHmac('sha256', ctx.secret).update(signedBody).digest('base64'),
    createHmac('sha1', ctx.secret).update(signedBody).digest('hex'),
    'not-a-signature',
    '0'.repeat(64),
  ];
  for (const [i, signature] of badSignatures.entries()) {
    out.push(fromBase(medplumBase, `bad X-Signature #${i}`, { headers: { ...medplumBase.request.headers, 'x-signature': signature }, expect: 401 }));
    if (i % 4 === 0) out.push(fromBase(medplumBase, `bad X-Signature #${i} next to a valid Bearer`, { headers: { ...medplumBase.request.headers, ...bearer, 'x-signature': signature }, expect: 401 }));
  }

  // 7. A captured signature replayed with an altered body.
  const goodSignature = sign(ctx.secret, signedBody);
  const alterations: [string, string][] = [
    ['another id', signedBody.replace(`"id":"${obs.id}"`, '"id":"someone-else"')],
    ['another value', signedBody.replace(/"value":\d+(\.\d+)?/, '"value":999')],
    ['trailing newline', `${signedBody}\n`],
    ['leading space', ` ${signedBody}`],
    ['pretty-printed', JSON.stringify(JSON.parse(signedBody), null, 2)],
    ['keys reordered', JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(signedBody) as object).reverse()))],
    ['unicode escape of the same text', signedBody.replace('"Observation"', '"\\u004fbservation"')],
    ['duplicate key appended', `${signedBody.slice(0, -1)},"id":"someone-else"}`],
    ['status entered-in-error', signedBody.replace('"status":"final"', '"status":"entered-in-error"')],
  ];
  for (let i = 0; i < 40; i++) {
    const at = Math.floor(random() * signedBody.length);
    const char = String.fromCharCode(97 + Math.floor(random() * 26));
    if (signedBody[at] !== char) alterations.push([`byte ${at} changed`, signedBody.slice(0, at) + char + signedBody.slice(at + 1)]);
  }
  for (const [what, body] of alterations) {
    out.push(fromBase(medplumBase, `replayed signature, ${what}`, { body, headers: { ...medplumBase.request.headers, 'x-signature': goodSignature }, expect: 401 }));
  }

  // 8. Missing or wrong credentials.
  const wrongAuth: [string, Record<string, string>, string][] = [
    ['no credentials', {}, ''],
    ['wrong Bearer', { authorization: 'Bearer wrong-secret-0123456789' }, ''],
    ['Bearer with a prefix of the secret', { authorization: `Bearer ${ctx.secret.slice(0, -1)}` }, ''],
    ['Bearer with the secret and more', { authorization: `Bearer ${ctx.secret}x` }, ''],
    ['Basic scheme', { authorization: `Basic ${Buffer.from(`x:${ctx.secret}`).toString('base64')}` }, ''],
    ['secret without scheme', { authorization: ctx.secret }, ''],
    ['wrong token', {}, '?token=wrong'],
    ['token twice', {}, `?token=${ctx.secret}&token=${ctx.secret}`],
    ['token as an object', {}, `?token[a]=${ctx.secret}`],
    ['empty token', {}, '?token='],
  ];
  for (const b of bases.filter((x) => x.name !== 'medplum')) {
    for (const [what, auth, query] of wrongAuth) {
      const path = b.request.path.replace(/\?token=[^&]*/, '') + query;
      out.push(fromBase(b, what, { path, headers: { ...b.request.headers, ...auth }, expect: 401 }));
    }
  }

  // 9. References and fullUrls on other hosts that name no resource, or traverse.
  const badFocus = [
    `${ctx.foreignBase}`,
    `${ctx.foreignBase}/`,
    `${foreignObservation}`,
    `${foreignObservation}/..`,
    `${foreignObservation}/.`,
    `${foreignObservation}/%2e%2e`,
    `${foreignObservation}/..%2fPatient`,
    `${foreignObservation}/${'x'.repeat(65)}`,
    `${ctx.foreignBase}/observation/${obs.id}`,
    `${ctx.foreignBase}/Observation/${obs.id}/_history/..`,
    'Observation/..',
    'Observation/%2e%2e',
    'Observation/..%2fPatient',
    '../../Observation',
    'urn:uuid:6f1e3a52-0000-4000-8000-000000000000',
    '#contained',
    'file:///etc/passwd',
    `javascript:alert(1)`,
    '',
  ];
  const idOnly = bases.filter((b) => b.name.endsWith('id-only'));
  for (const b of idOnly) {
    for (const focus of badFocus) {
      const body = b.request.body.split(`${ctx.foreignBase}/Observation/${obs.id}/_history/${obs.meta?.versionId}`).join(focus);
      out.push(fromBase(b, `focus ${JSON.stringify(focus)}`, { body, expect: '4xx' }));
    }
  }
  const eventGrid = bases.filter((b) => b.name === 'event-grid' || b.name === 'cloud-events');
  for (const b of eventGrid) {
    for (const id of ['..', '.', '%2e%2e', '../Patient', '..%2fPatient', 'a/b', 'x'.repeat(65), '', ' ', 'a b', 'ä', '$x', 'x\u0000']) {
      const parsed = JSON.parse(b.request.body) as [{ data: { resourceFhirId: string } }];
      parsed[0].data.resourceFhirId = id;
      out.push(fromBase(b, `resourceFhirId ${JSON.stringify(id)}`, { body: JSON.stringify(parsed), expect: '4xx' }));
    }
  }
  const pubsubName = bases.find((b) => b.name === 'pubsub-name')!;
  for (const name of ['projects/p/fhir/Observation/..', 'projects/p/fhir/Observation/%2e%2e', '../../Observation', 'projects/p/fhir/Observation', 'projects/p/fhir/Observation/a b', `${foreignObservation}/..`]) {
    const parsed = JSON.parse(pubsubName.request.body) as { message: { data: string } };
    parsed.message.data = Buffer.from(name).toString('base64');
    out.push(fromBase(pubsubName, `name ${JSON.stringify(name)}`, { body: JSON.stringify(parsed), expect: '4xx' }));
  }

  // 10. Path traversal and invalid ids in the HAPI route (sent raw: no client-side normalisation).
  const routeIds = [
    '..',
    '.',
    '%2e%2e',
    '%2E%2E',
    '.%2e',
    '..%2fPatient',
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e%2f%2e%2e',
    '..;',
    '..%5cPatient',
    'x%00',
    'x%2fy',
    'x'.repeat(65),
    'a%20b',
    '%C3%A4',
    '$x',
    '*',
    '%',
  ];
  for (const method of ['PUT', 'POST', 'DELETE'] as const) {
    for (const id of routeIds) {
      const body = method === 'DELETE' ? '' : observationWith({ id: decodeURIComponentSafe(id) });
      out.push({ name: `${method} /notify/Observation/${id}`, method, path: `/notify/Observation/${id}`, headers: method === 'DELETE' ? bearer : json, body, expect: '4xx' });
    }
    out.push({ name: `${method} /notify/..%2fPatient/x`, method, path: '/notify/..%2fPatient/x', headers: json, body: method === 'DELETE' ? '' : observationWith({}), expect: '4xx' });
    out.push({ name: `${method} /notify/Observation/${obs.id}/..`, method, path: `/notify/Observation/${obs.id}/..`, headers: json, body: method === 'DELETE' ? '' : observationWith({}), expect: '4xx' });
  }
  for (const id of ['..', '.', '../Patient', 'x'.repeat(65), '', 'a b', 'ä', '$x', 'x/y', 1, null]) {
    out.push({ name: `bare resource with id ${JSON.stringify(id)}`, method: 'POST', path: '/notify', headers: json, body: observationWith({ id }), expect: '4xx' });
  }

  // 11. Prototype-pollution keys carrying what would make the body valid if merged into a prototype.
  const pollution = [
    `{"__proto__":${observationWith({})}}`,
    `{"constructor":{"prototype":${observationWith({})}}}`,
    `{"__proto__":{"resourceType":"Bundle","type":"history"},"entry":[]}`,
    `{"resourceType":"Bundle","type":"history","__proto__":{"entry":${JSON.stringify((JSON.parse(bases[1]!.request.body) as { entry: unknown }).entry)}}}`,
    `[{"__proto__":${JSON.stringify((JSON.parse(bases[6]!.request.body) as unknown[])[0])}}]`,
    `{"__proto__":{"message":${JSON.stringify((JSON.parse(bases[8]!.request.body) as { message: unknown }).message)}}}`,
    `{"message":{"__proto__":{"data":"${Buffer.from(observationWith({})).toString('base64')}"}}}`,
    `{"resourceType":"Observation","__proto__":{"id":"${obs.id}"}}`,
    `{"resourceType":"Observation","constructor":{"prototype":{"id":"${obs.id}"}}}`,
  ];
  for (const [i, body] of pollution.entries()) {
    out.push({ name: `prototype pollution #${i}`, method: 'POST', path: '/notify', headers: json, body, expect: '4xx' });
  }
  return out;
}

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
