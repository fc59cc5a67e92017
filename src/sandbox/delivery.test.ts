import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { Bundle, Observation, Parameters, Subscription } from 'fhir/r4.js';
import { startReceiver, type Receiver } from './receiver.ts';
import { startSandbox, type Sandbox } from './server.ts';

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const HAPI = 'http://hapifhir.io/fhir/StructureDefinition';
const FHIR_JSON = { 'Content-Type': 'application/fhir+json' };
const GLUCOSE = { coding: [{ system: 'http://loinc.org', code: '15074-8' }] };

let sandbox: Sandbox;
let receiver: Receiver;

async function write<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${sandbox.baseUrl}/${path}`, {
    method,
    headers: body ? FHIR_JSON : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(res.ok, `${method} ${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

function observation(extra: Partial<Observation> = {}): Observation {
  return { resourceType: 'Observation', status: 'final', code: GLUCOSE, subject: { reference: 'Patient/p1' }, ...extra };
}

function classicSubscription(extra: Partial<Subscription['channel']> = {}, criteria = 'Observation?code=http://loinc.org|15074-8'): Subscription {
  return {
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'test',
    criteria,
    channel: {
      type: 'rest-hook',
      endpoint: `${receiver.url}/notify`,
      payload: 'application/fhir+json',
      header: ['Authorization: Bearer secret-token-abc-123'],
      ...extra,
    },
  };
}

function backportSubscription(content: 'full-resource' | 'id-only', filter = 'Observation?patient=Patient/p1'): Subscription {
  return {
    resourceType: 'Subscription',
    meta: { profile: [`${BACKPORT}/backport-subscription`] },
    status: 'requested',
    reason: 'test',
    criteria: 'http://hl7.org/fhir/us/core/SubscriptionTopic/patient-data-feed',
    _criteria: { extension: [{ url: `${BACKPORT}/backport-filter-criteria`, valueString: filter }] },
    channel: {
      type: 'rest-hook',
      endpoint: `${receiver.url}/notify`,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: content }] },
      header: ['Authorization: Bearer x'],
    },
  };
}

function statusOf(bundle: Bundle): Record<string, unknown> {
  const params = (bundle.entry?.[0]?.resource as Parameters).parameter ?? [];
  const out: Record<string, unknown> = {};
  for (const p of params) {
    out[p.name] = p.valueCode ?? p.valueString ?? p.valueCanonical ?? p.valueReference?.reference ?? p.part;
  }
  return out;
}

async function readSubscription(id: string): Promise<Subscription> {
  return (await (await fetch(`${sandbox.baseUrl}/Subscription/${id}`)).json()) as Subscription;
}

before(async () => {
  sandbox = await startSandbox({
    retry: { initialDelayMs: 20, multiplier: 1.5, maxDelayMs: 100, giveUpAfterMs: 400, requestTimeoutMs: 1000 },
  });
});
after(async () => {
  await sandbox.close();
});
beforeEach(async () => {
  receiver = await startReceiver();
});
afterEach(async () => {
  // Stop every subscription of the test so the next one starts clean.
  const subs = (await (await fetch(`${sandbox.baseUrl}/Subscription?_count=1000`)).json()) as Bundle<Subscription>;
  for (const e of subs.entry ?? []) await write('DELETE', `Subscription/${e.resource?.id}`);
  await sandbox.deliveryIdle();
  await receiver.close();
});

describe('R4 classic rest-hook (HAPI style)', () => {
  it('PUTs a matching Observation to {endpoint}/Observation/{id} with the channel headers; becomes active', async () => {
    const sub = await write<Subscription>('POST', 'Subscription', classicSubscription());
    const obs = await write<Observation>('POST', 'Observation', observation());
    await write('POST', 'Observation', observation({ code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] } }));
    await sandbox.deliveryIdle();

    assert.equal(receiver.requests.length, 1, 'the non-matching Observation is not delivered');
    const [put] = receiver.requests;
    assert.equal(put?.method, 'PUT');
    assert.equal(put?.url, `/notify/Observation/${obs.id}`);
    assert.equal(put?.headers.authorization, 'Bearer secret-token-abc-123');
    assert.equal(put?.headers['content-type'], 'application/fhir+json; charset=UTF-8');
    assert.equal(put?.headers['if-match'], '"1"');
    const body = JSON.parse(put?.body ?? '') as Observation;
    assert.equal(body.id, obs.id);
    assert.equal(body.meta?.versionId, '1');
    assert.equal((await readSubscription(sub.id ?? '')).status, 'active');
  });

  it('without payload POSTs an empty body to {endpoint}', async () => {
    await write('POST', 'Subscription', classicSubscription({ payload: undefined }, 'Observation'));
    await write('POST', 'Observation', observation());
    await sandbox.deliveryIdle();
    const [post] = receiver.requests;
    assert.equal(post?.method, 'POST');
    assert.equal(post?.url, '/notify');
    assert.equal(post?.body, '');
    assert.equal(post?.headers['content-type'], undefined);
    assert.equal(post?.headers.authorization, 'Bearer secret-token-abc-123');
  });

  it('follows Condition criteria too, and only that type', async () => {
    await write('POST', 'Subscription', classicSubscription({}, 'Condition?patient=p1'));
    const condition = await write<{ id: string }>('POST', 'Condition', {
      resourceType: 'Condition',
      subject: { reference: 'Patient/p1' },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '49436004' }] },
    });
    await write('POST', 'Observation', observation());
    await sandbox.deliveryIdle();
    assert.deepEqual(receiver.requests.map((r) => `${r.method} ${r.url}`), [`PUT /notify/Condition/${condition.id}`]);
  });

  it('sets a Subscription it cannot follow to error, with the reason', async () => {
    const sub = await write<Subscription>('POST', 'Subscription', classicSubscription({}, 'not a search'));
    await sandbox.deliveryIdle();
    const stored = await readSubscription(sub.id ?? '');
    assert.equal(stored.status, 'error');
    assert.match(stored.error ?? '', /criteria/);
  });

  it('delivers updates in order, and DELETE on delete when send-delete-messages is set', async () => {
    await write('POST', 'Subscription', classicSubscription({ extension: [{ url: `${HAPI}/subscription-send-delete-messages`, valueBoolean: true }] }));
    const obs = await write<Observation>('POST', 'Observation', observation());
    await write('PUT', `Observation/${obs.id}`, { ...obs, status: 'amended' });
    await write('DELETE', `Observation/${obs.id}`);
    await sandbox.deliveryIdle();
    assert.deepEqual(
      receiver.requests.map((r) => `${r.method} ${r.url} ${r.headers['if-match'] ?? ''}`),
      [`PUT /notify/Observation/${obs.id} "1"`, `PUT /notify/Observation/${obs.id} "2"`, `DELETE /notify/Observation/${obs.id} `],
    );
  });

  it('sends no DELETE without the extension (as HAPI)', async () => {
    await write('POST', 'Subscription', classicSubscription());
    const obs = await write<Observation>('POST', 'Observation', observation());
    await write('DELETE', `Observation/${obs.id}`);
    await sandbox.deliveryIdle();
    assert.deepEqual(receiver.requests.map((r) => r.method), ['PUT']);
  });

  it('retries after a receiver 500 and delivers', async () => {
    receiver.reply = (_req, i) => (i < 2 ? { status: 500 } : { status: 200, body: '{"resourceType":"OperationOutcome","issue":[]}' });
    await write('POST', 'Subscription', classicSubscription());
    const before = { ...sandbox.counters.delivery };
    await write('POST', 'Observation', observation());
    await sandbox.deliveryIdle();
    assert.equal(receiver.requests.length, 3);
    assert.equal(sandbox.counters.delivery.failedAttempts - before.failedAttempts, 2);
    assert.equal(sandbox.counters.delivery.delivered - before.delivered, 1);
  });

  it('gives up after the retry window, logs it, and moves on to the next notification', async () => {
    receiver.reply = (req) => (req.url.endsWith('/bad') ? { status: 503 } : { status: 200 });
    await write('POST', 'Subscription', classicSubscription({}, 'Observation'));
    const before = { ...sandbox.counters.delivery };
    await write('PUT', 'Observation/bad', observation({ id: 'bad' }));
    await write('PUT', 'Observation/good', observation({ id: 'good' }));
    await sandbox.deliveryIdle();
    assert.equal(sandbox.counters.delivery.gaveUp - before.gaveUp, 1);
    const urls = receiver.requests.map((r) => r.url);
    assert.ok(urls.filter((u) => u.endsWith('/bad')).length >= 3, 'retried several times');
    assert.equal(urls.at(-1), '/notify/Observation/good', 'in order: the next one only after giving up');
  });

  it('does not block the write on a slow or dead receiver', async () => {
    await receiver.close();
    await write('POST', 'Subscription', classicSubscription({ endpoint: 'http://127.0.0.1:9/notify' }));
    await write('POST', 'Observation', observation());
    // The write has been answered while its notification is still being retried.
    assert.ok(sandbox.pendingDeliveries > 0);
    receiver = await startReceiver();
  });
});

describe('Subscriptions Backport R4', () => {
  it('sends a handshake, turns active, then an event-notification with the full resource', async () => {
    const sub = await write<Subscription>('POST', 'Subscription', backportSubscription('full-resource'));
    await sandbox.deliveryIdle();
    assert.equal((await readSubscription(sub.id ?? '')).status, 'active');
    const obs = await write<Observation>('POST', 'Observation', observation());
    await write('POST', 'Observation', observation({ subject: { reference: 'Patient/other' } }));
    await sandbox.deliveryIdle();

    assert.equal(receiver.requests.length, 2);
    const [handshake, event] = receiver.requests.map((r) => {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/notify');
      assert.equal(r.headers['content-type'], 'application/fhir+json');
      assert.equal(r.headers.authorization, 'Bearer x');
      return JSON.parse(r.body) as Bundle;
    });
    assert.equal(handshake?.type, 'history');
    assert.deepEqual(handshake?.meta?.profile, [`${BACKPORT}/backport-subscription-notification-r4`]);
    const hs = statusOf(handshake as Bundle);
    assert.equal(hs.type, 'handshake');
    assert.equal(hs.status, 'requested');
    assert.equal(hs['events-since-subscription-start'], '0');
    assert.equal(hs.subscription, `${sandbox.baseUrl}/Subscription/${sub.id}`);
    assert.equal(handshake?.entry?.[0]?.request?.url, `${sandbox.baseUrl}/Subscription/${sub.id}/$status`);

    const ev = statusOf(event as Bundle);
    assert.equal(ev.type, 'event-notification');
    assert.equal(ev.status, 'active');
    assert.equal(ev.topic, 'http://hl7.org/fhir/us/core/SubscriptionTopic/patient-data-feed');
    assert.equal(ev['events-since-subscription-start'], '1');
    const parts = ev['notification-event'] as { name: string; valueString?: string; valueReference?: { reference: string } }[];
    assert.equal(parts.find((p) => p.name === 'event-number')?.valueString, '1');
    const focus = `${sandbox.baseUrl}/Observation/${obs.id}`;
    assert.equal(parts.find((p) => p.name === 'focus')?.valueReference?.reference, focus);
    assert.match(event?.entry?.[0]?.fullUrl ?? '', /^urn:uuid:[0-9a-f-]{36}$/);
    const second = event?.entry?.[1];
    assert.equal(second?.fullUrl, focus);
    assert.equal((second?.resource as Observation).id, obs.id);
    assert.deepEqual(second?.request, { method: 'POST', url: 'Observation' });
    assert.equal(second?.response?.status, '201');
  });

  it('id-only content carries the focus and no resource; event numbers count up', async () => {
    await write('POST', 'Subscription', backportSubscription('id-only'));
    await write('POST', 'Observation', observation());
    await write('POST', 'Observation', observation());
    await sandbox.deliveryIdle();
    const events = receiver.requests.slice(1).map((r) => JSON.parse(r.body) as Bundle);
    assert.equal(events.length, 2);
    assert.deepEqual(events.map((b) => statusOf(b)['events-since-subscription-start']), ['1', '2']);
    for (const b of events) assert.equal(b.entry?.length, 1);
  });

  it('counts an empty 200 reply as a failed delivery (HAPI rejects it) and retries', async () => {
    receiver.reply = (_req, i) => (i === 0 ? { status: 200 } : { status: 204 });
    const sub = await write<Subscription>('POST', 'Subscription', backportSubscription('id-only'));
    await sandbox.deliveryIdle();
    assert.equal(receiver.requests.length, 2, 'handshake sent twice');
    assert.equal((await readSubscription(sub.id ?? '')).status, 'active');
  });

  it('a handshake that never succeeds leaves the Subscription in error and delivers nothing', async () => {
    receiver.reply = () => ({ status: 500 });
    const sub = await write<Subscription>('POST', 'Subscription', backportSubscription('full-resource'));
    await sandbox.deliveryIdle();
    const stored = await readSubscription(sub.id ?? '');
    assert.equal(stored.status, 'error');
    const count = receiver.requests.length;
    await write('POST', 'Observation', observation());
    await sandbox.deliveryIdle();
    assert.equal(receiver.requests.length, count);
  });

  it('answers $status with the event count', async () => {
    const sub = await write<Subscription>('POST', 'Subscription', backportSubscription('id-only'));
    await write('POST', 'Observation', observation());
    await sandbox.deliveryIdle();
    const status = (await (await fetch(`${sandbox.baseUrl}/Subscription/${sub.id}/$status`)).json()) as Bundle;
    assert.equal(statusOf(status).type, 'query-status');
    assert.equal(statusOf(status)['events-since-subscription-start'], '1');
  });
});
