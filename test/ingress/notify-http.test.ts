/**
 * HTTP behaviour of /notify beyond the fixtures: auth, limits, media types, malformed input, queue
 * outage, the SSRF rule, gap detection and heartbeat tracking.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import express from 'express';
import request from 'supertest';
import { QueueUnavailableError } from '../../src/errors.ts';
import type { EnqueueResult, EventSink, ResourceEvent } from '../../src/ingress/resource-event.ts';
import { createIngressRouter, type IngressRouterDeps } from '../../src/ingress/router.ts';
import { InMemorySubscriptionTracker } from '../../src/ingress/subscription-tracker.ts';

const FIXTURES = new URL('../fixtures/notifications', import.meta.url).pathname;
const SECRET = 'test-notify-secret';

/** Test double: records events and sweep requests; can simulate a Redis outage or a slow store. */
class RecordingEventSinkDouble implements EventSink {
  readonly enqueued: ResourceEvent[] = [];
  readonly sweeps: string[] = [];
  queueDown = false;
  /** When set, enqueue waits for this promise before it "stores" the events. */
  gate: Promise<void> | undefined;
  async enqueue(events: readonly ResourceEvent[]): Promise<EnqueueResult> {
    if (this.gate) await this.gate;
    if (this.queueDown) throw new QueueUnavailableError('The event queue (Redis) is unavailable; retry later');
    this.enqueued.push(...events);
    return { accepted: events.length, duplicates: 0, ignored: 0 };
  }
  async requestSweep(reason: string): Promise<void> {
    if (this.queueDown) throw new QueueUnavailableError('The sweep queue (Redis) is unavailable; retry later');
    this.sweeps.push(reason);
  }
}

function appWith(sink: EventSink, deps: Partial<IngressRouterDeps> = {}): express.Express {
  const app = express();
  app.use(createIngressRouter({ sink, ...deps }));
  return app;
}

const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const hmac = (secret: string, body: string): string => createHmac('sha256', secret).update(body).digest('hex');
const OBSERVATION = JSON.stringify({ resourceType: 'Observation', id: 'obs-1', meta: { versionId: '3' }, status: 'final' });

/** A Backport R4 notification Bundle for `Observation/<id>` with the given event number. */
function backportEvent(eventNumber: number, options: { focus?: string; fullUrl?: string; timestamp?: Record<string, string> } = {}): string {
  const focus = options.focus ?? 'Observation/obs-1';
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'history',
    entry: [
      {
        fullUrl: 'urn:uuid:0d7f6a4e-0000-4000-8000-000000000001',
        resource: {
          resourceType: 'Parameters',
          parameter: [
            { name: 'subscription', valueReference: { reference: 'Subscription/feed' } },
            { name: 'status', valueCode: 'active' },
            { name: 'type', valueCode: 'event-notification' },
            { name: 'events-since-subscription-start', valueString: String(eventNumber) },
            {
              name: 'notification-event',
              part: [
                { name: 'event-number', valueString: String(eventNumber) },
                { name: 'timestamp', ...(options.timestamp ?? { valueInstant: '2024-05-01T09:31:02Z' }) },
                { name: 'focus', valueReference: { reference: focus } },
              ],
            },
          ],
        },
      },
      ...(options.fullUrl
        ? [{ fullUrl: options.fullUrl, resource: { resourceType: 'Observation', id: 'obs-1', status: 'final' }, request: { method: 'PUT', url: 'Observation/obs-1' } }]
        : []),
    ],
  });
}

function backportStatus(type: 'handshake' | 'heartbeat', count: number, heartbeatPeriod?: number): string {
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'history',
    entry: [
      {
        resource: {
          resourceType: 'Parameters',
          parameter: [
            { name: 'subscription', valueReference: { reference: 'Subscription/feed' } },
            { name: 'status', valueCode: type === 'handshake' ? 'requested' : 'active' },
            { name: 'type', valueCode: type },
            { name: 'events-since-subscription-start', valueString: String(count) },
            ...(heartbeatPeriod === undefined ? [] : [{ name: 'heartbeat-period', valueUnsignedInt: heartbeatPeriod }]),
          ],
        },
      },
    ],
  });
}

describe('notification auth (NOTIFY_SECRET)', () => {
  const medplumBody = fixture('medplum-resthook-observation.body.json');

  it('accepts a valid X-Signature over the raw body', async () => {
    const sink = new RecordingEventSinkDouble();
    await request(appWith(sink, { notifySecret: '0123456789' }))
      .post('/notify')
      .set('Content-Type', 'application/fhir+json')
      .set('X-Medplum-Interaction', 'create')
      .set('X-Signature', 'cb4f0e2a88a9b28845b35a81f1ab73e48b86b5ee53d03a2db982877c802a610a')
      .send(medplumBody)
      .expect(200);
    assert.equal(sink.enqueued.length, 1);
  });

  it('verifies the signature over the exact bytes, not re-serialised JSON', async () => {
    const sink = new RecordingEventSinkDouble();
    const pretty = JSON.stringify(JSON.parse(OBSERVATION), null, 2) + '\n';
    await request(appWith(sink, { notifySecret: SECRET }))
      .post('/notify')
      .set('Content-Type', 'application/fhir+json')
      .set('X-Signature', hmac(SECRET, pretty))
      .send(pretty)
      .expect(200);
    const compactSignature = hmac(SECRET, OBSERVATION);
    const res = await request(appWith(sink, { notifySecret: SECRET }))
      .post('/notify')
      .set('Content-Type', 'application/fhir+json')
      .set('X-Signature', compactSignature)
      .send(pretty);
    assert.equal(res.status, 401);
  });

  it('rejects a bad signature even when the Bearer token is right (the signature decides alone)', async () => {
    const sink = new RecordingEventSinkDouble();
    const res = await request(appWith(sink, { notifySecret: SECRET }))
      .post('/notify')
      .set('Content-Type', 'application/fhir+json')
      .set('Authorization', `Bearer ${SECRET}`)
      .set('X-Signature', hmac('another-secret', OBSERVATION))
      .send(OBSERVATION);
    assert.equal(res.status, 401);
    assert.equal(res.body.resourceType, 'OperationOutcome');
    assert.equal(res.body.issue[0].code, 'login');
    assert.deepEqual(sink.enqueued, []);
  });

  it('rejects a signature that is not hex SHA-256', async () => {
    const res = await request(appWith(new RecordingEventSinkDouble(), { notifySecret: SECRET }))
      .post('/notify')
      .set('Content-Type', 'application/fhir+json')
      .set('X-Signature', 'sha256=abc')
      .send(OBSERVATION);
    assert.equal(res.status, 401);
  });

  for (const [name, setCredential, expected] of [
    ['a matching Bearer token', (r: request.Test) => r.set('Authorization', `Bearer ${SECRET}`), 200],
    ['a wrong Bearer token', (r: request.Test) => r.set('Authorization', 'Bearer nope'), 401],
    ['a matching ?token=', (r: request.Test) => r.query({ token: SECRET }), 200],
    ['a wrong ?token=', (r: request.Test) => r.query({ token: `${SECRET}x` }), 401],
    ['no credential at all', (r: request.Test) => r, 401],
  ] as const) {
    it(`answers ${expected} to ${name}`, async () => {
      const sink = new RecordingEventSinkDouble();
      const req = request(appWith(sink, { notifySecret: SECRET })).post('/notify').set('Content-Type', 'application/fhir+json');
      const res = await setCredential(req).send(OBSERVATION);
      assert.equal(res.status, expected);
      assert.equal(res.body.resourceType, 'OperationOutcome');
      assert.equal(sink.enqueued.length, expected === 200 ? 1 : 0);
    });
  }

  it('checks auth on the empty ping and on DELETE too', async () => {
    const sink = new RecordingEventSinkDouble();
    const app = appWith(sink, { notifySecret: SECRET });
    await request(app).post('/notify').expect(401);
    await request(app).delete('/notify/Observation/obs-1').expect(401);
    assert.deepEqual(sink.sweeps, []);
    assert.deepEqual(sink.enqueued, []);
    await request(app).post('/notify').set('Authorization', `Bearer ${SECRET}`).expect(200);
    assert.deepEqual(sink.sweeps, ['empty ping']);
  });
});

describe('request errors become OperationOutcomes with the right status', () => {
  it('413 when the body is over the limit', async () => {
    const res = await request(appWith(new RecordingEventSinkDouble(), { bodyLimitBytes: 100 }))
      .post('/notify')
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Observation', id: 'big', note: [{ text: 'x'.repeat(200) }] }));
    assert.equal(res.status, 413);
    assert.match(res.headers['content-type'] ?? '', /^application\/fhir\+json/);
    assert.equal(res.body.issue[0].code, 'too-costly');
  });

  it('415 for a media type that is not JSON, a body without Content-Type, or a non-UTF-8 charset', async () => {
    const app = appWith(new RecordingEventSinkDouble());
    for (const contentType of ['text/plain', 'application/xml', 'application/fhir+json; charset=iso-8859-1']) {
      const res = await request(app).post('/notify').set('Content-Type', contentType).send(OBSERVATION);
      assert.equal(res.status, 415, contentType);
      assert.equal(res.body.issue[0].code, 'not-supported');
    }
    const noType = await request(app).post('/notify').send(Buffer.from(OBSERVATION));
    assert.equal(noType.status, 415);
  });

  it('accepts every JSON flavour real senders use', async () => {
    const app = appWith(new RecordingEventSinkDouble());
    for (const contentType of ['application/fhir+json; fhirVersion=4.0', 'application/json; charset=UTF-8', 'application/json+fhir']) {
      await request(app).post('/notify').set('Content-Type', contentType).send(OBSERVATION).expect(200);
    }
  });

  it('400 for malformed JSON, without echoing the body', async () => {
    const res = await request(appWith(new RecordingEventSinkDouble()))
      .post('/notify')
      .set('Content-Type', 'application/fhir+json')
      .send('{"resourceType":"Observation","note":"secret-patient-text"');
    assert.equal(res.status, 400);
    assert.equal(res.body.issue[0].code, 'structure');
    assert.doesNotMatch(JSON.stringify(res.body), /secret-patient-text/);
  });

  it('400 for JSON that is not a notification', async () => {
    const app = appWith(new RecordingEventSinkDouble());
    const notNotifications = [
      '42',
      '{"hello":"world"}',
      JSON.stringify({ resourceType: 'Bundle', type: 'searchset', entry: [{ resource: { resourceType: 'Patient', id: 'p' } }] }),
      JSON.stringify({ resourceType: 'Observation', status: 'final' }),
      '[]',
    ];
    for (const body of notNotifications) {
      const res = await request(app).post('/notify').set('Content-Type', 'application/json').send(body);
      assert.equal(res.status, 400, body);
      assert.equal(res.body.resourceType, 'OperationOutcome');
    }
  });

  it('400 when the PUT body names another resource than the path', async () => {
    const res = await request(appWith(new RecordingEventSinkDouble()))
      .put('/notify/Observation/other')
      .set('Content-Type', 'application/fhir+json')
      .send(OBSERVATION);
    assert.equal(res.status, 400);
  });

  it('503 with Retry-After (never 2xx) when the queue rejects, and the tracker does not advance', async () => {
    const sink = new RecordingEventSinkDouble();
    const app = appWith(sink);
    await request(app).post('/notify').set('Content-Type', 'application/fhir+json').send(backportEvent(1)).expect(200);
    sink.queueDown = true;
    const res = await request(app).post('/notify').set('Content-Type', 'application/fhir+json').send(backportEvent(2));
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '5');
    assert.equal(res.body.issue[0].code, 'transient');
    const ping = await request(app).post('/notify');
    assert.equal(ping.status, 503);
    sink.queueDown = false;
    await request(app).post('/notify').set('Content-Type', 'application/fhir+json').send(backportEvent(3)).expect(200);
    // Event 2 was refused, so 3 reveals it missing.
    assert.deepEqual(sink.sweeps, ['gap in Subscription/feed events 2..2']);
  });

  it('answers only after the sink has stored the events', async () => {
    const sink = new RecordingEventSinkDouble();
    let release!: () => void;
    sink.gate = new Promise((resolve) => (release = resolve));
    let answered = false;
    const pending = request(appWith(sink))
      .post('/notify')
      .set('Content-Type', 'application/fhir+json')
      .send(OBSERVATION)
      .then((res) => {
        answered = true;
        return res;
      });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(answered, false);
    release();
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(sink.enqueued.length, 1);
  });
});

describe('delivery-style details', () => {
  it('answers the Event Grid validation handshake with its code as JSON', async () => {
    const res = await request(appWith(new RecordingEventSinkDouble()))
      .post('/notify')
      .set('Content-Type', 'application/json')
      .set('aeg-event-type', 'SubscriptionValidation')
      .send(fixture('azure-eventgrid-subscription-validation.json'));
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    assert.deepEqual(res.body, { validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' });
  });

  it('answers the CloudEvents webhook abuse-protection OPTIONS request', async () => {
    const res = await request(appWith(new RecordingEventSinkDouble()))
      .options('/notify')
      .set('WebHook-Request-Origin', 'eventgrid.azure.net');
    assert.equal(res.status, 200);
    assert.equal(res.headers['webhook-allowed-origin'], 'eventgrid.azure.net');
  });

  it('never keeps another host from a notification: only Type/id (+version) reach the sink (SSRF)', async () => {
    const sink = new RecordingEventSinkDouble();
    const app = appWith(sink);
    const evil = 'https://evil.example.net:8443/fhir/Observation/obs-1/_history/4';
    await request(app)
      .post('/notify')
      .set('Content-Type', 'application/fhir+json')
      .send(backportEvent(1, { focus: evil, fullUrl: 'https://evil.example.net:8443/fhir/Observation/obs-1' }))
      .expect(200);
    const eventGrid = JSON.parse(fixture('azure-eventgrid-fhir-observation-created.json')) as Array<Record<string, unknown>>;
    eventGrid[0]!.subject = 'evil.example.net/Observation/e0a1f743-1a70-451f-830e-e96477163902';
    await request(app).post('/notify').set('Content-Type', 'application/json').send(JSON.stringify(eventGrid)).expect(200);
    assert.deepEqual(
      sink.enqueued.map((e) => [e.resourceType, e.id, e.versionId, e.resource !== undefined]),
      [
        ['Observation', 'obs-1', '4', true],
        ['Observation', 'e0a1f743-1a70-451f-830e-e96477163902', '1', false],
      ],
    );
    assert.doesNotMatch(JSON.stringify(sink.enqueued), /evil\.example\.net/);
  });

  it("accepts HAPI's valueDate timestamp, a status entry without request, and a versionless focus", async () => {
    const sink = new RecordingEventSinkDouble();
    await request(appWith(sink))
      .post('/notify')
      .set('Content-Type', 'application/fhir+json')
      .send(backportEvent(5, { timestamp: { valueDate: '2024-05-01' } }))
      .expect(200);
    assert.deepEqual(
      sink.enqueued.map((e) => [e.resourceType, e.id, e.eventNumber, e.action]),
      [['Observation', 'obs-1', 5, 'changed']],
    );
  });

  it('takes the version from If-Match (W/"3") when the PUT body has no meta.versionId', async () => {
    const sink = new RecordingEventSinkDouble();
    await request(appWith(sink))
      .put('/notify/Observation/obs-1')
      .set('Content-Type', 'application/fhir+json')
      .set('If-Match', 'W/"3"')
      .send(JSON.stringify({ resourceType: 'Observation', id: 'obs-1', status: 'final' }))
      .expect(200);
    assert.equal(sink.enqueued[0]?.versionId, '3');
  });

  it('takes an empty-bodied PUT to /notify/Type/id as id-only (FHIR Works on AWS)', async () => {
    const sink = new RecordingEventSinkDouble();
    await request(appWith(sink)).put('/notify/Condition/c-9').expect(200);
    assert.deepEqual(sink.enqueued.map((e) => [e.resourceType, e.id, e.action, e.resource]), [['Condition', 'c-9', 'changed', undefined]]);
  });
});

describe('subscription tracking through the routes', () => {
  it('requests a sweep and counts a gap in event numbers', async () => {
    const sink = new RecordingEventSinkDouble();
    const gaps: Array<[string, number]> = [];
    const outcomes: string[] = [];
    const app = appWith(sink, {
      metrics: { onGap: (s, n) => gaps.push([s, n]), onNotification: (style, outcome) => outcomes.push(`${style}:${outcome}`) },
    });
    for (const n of [7, 8, 11]) {
      await request(app).post('/notify').set('Content-Type', 'application/fhir+json').send(backportEvent(n)).expect(200);
    }
    assert.deepEqual(sink.sweeps, ['gap in Subscription/feed events 9..10']);
    assert.deepEqual(gaps, [['Subscription/feed', 2]]);
    assert.deepEqual(outcomes, ['backport-r4:accepted', 'backport-r4:accepted', 'backport-r4:accepted']);
  });

  it('a heartbeat whose count is ahead of the last event reveals missed events', async () => {
    const sink = new RecordingEventSinkDouble();
    const app = appWith(sink);
    await request(app).post('/notify').set('Content-Type', 'application/fhir+json').send(backportStatus('handshake', 0)).expect(200);
    await request(app).post('/notify').set('Content-Type', 'application/fhir+json').send(backportEvent(1)).expect(200);
    await request(app).post('/notify').set('Content-Type', 'application/fhir+json').send(backportStatus('heartbeat', 3)).expect(200);
    assert.deepEqual(sink.sweeps, ['gap in Subscription/feed events 2..3']);
  });

  it('reports a subscription whose heartbeat period has passed', async () => {
    const tracker = new InMemorySubscriptionTracker();
    let clock = new Date('2024-05-01T10:00:00Z');
    const app = appWith(new RecordingEventSinkDouble(), { subscriptionTracker: tracker, now: () => clock });
    await request(app).post('/notify').set('Content-Type', 'application/fhir+json').send(backportStatus('handshake', 0, 60)).expect(200);
    assert.deepEqual(await tracker.heartbeatStatus(new Date('2024-05-01T10:00:59Z')), []);
    assert.deepEqual(await tracker.heartbeatStatus(new Date('2024-05-01T10:01:30Z')), [
      { subscription: 'Subscription/feed', heartbeatPeriodSeconds: 60, lastNotificationAt: '2024-05-01T10:00:00.000Z', silentForSeconds: 90 },
    ]);
    clock = new Date('2024-05-01T10:01:00Z');
    await request(app).post('/notify').set('Content-Type', 'application/fhir+json').send(backportStatus('heartbeat', 0)).expect(200);
    assert.deepEqual(await tracker.heartbeatStatus(new Date('2024-05-01T10:01:30Z')), []);
  });
});
