/**
 * Replays every notification fixture of test/fixtures/notifications (copied from the reference pack) through the HTTP
 * routes, with the method, path and headers from its MANIFEST.json, and checks the answer and the
 * exact ResourceEvents handed to the sink.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import express from 'express';
import request from 'supertest';
import type { EnqueueResult, EventSink, ResourceEvent } from '../../src/ingress/resource-event.ts';
import { createIngressRouter } from '../../src/ingress/router.ts';

const FIXTURES = new URL('../fixtures/notifications', import.meta.url).pathname;

/** Test double: records what ingress hands to the pipeline; Observation/Condition count as used. */
class RecordingEventSinkDouble implements EventSink {
  readonly enqueued: ResourceEvent[] = [];
  readonly sweeps: string[] = [];
  async enqueue(events: readonly ResourceEvent[]): Promise<EnqueueResult> {
    this.enqueued.push(...events);
    const used = events.filter((e) => e.resourceType === 'Observation' || e.resourceType === 'Condition').length;
    return { accepted: used, duplicates: 0, ignored: events.length - used };
  }
  async requestSweep(reason: string): Promise<void> {
    this.sweeps.push(reason);
  }
}

interface ManifestEntry {
  file: string | null;
  style: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  secret?: string;
  expectedResponse?: { status: number; body: unknown };
}

/** What an event must look like, minus the resource body (only its presence is checked). */
interface ExpectedEvent {
  resourceType: string;
  id: string;
  versionId?: string;
  action: ResourceEvent['action'];
  hasResource: boolean;
  eventNumber?: number;
  style: ResourceEvent['style'];
  subscription?: string;
}

interface Expectation {
  /** Diagnostics of the information OperationOutcome. */
  diagnostics: RegExp;
  events: ExpectedEvent[];
  sweeps: string[];
}

const manifest = JSON.parse(readFileSync(join(FIXTURES, 'MANIFEST.json'), 'utf8')) as { fixtures: ManifestEntry[] };

const ADMISSION = 'https://example.org/fhir/Subscription/admission';
const OBSERVATION_FEED = 'https://example.org/fhir/Subscription/observation-feed';
const R5_SUBSCRIPTION = 'http://example.org/FHIR/R5/Subscription/123';
const ENCOUNTER_ID = '86009987-eabe-42bf-8c02-b112b18cb616';
const MEDPLUM_OBSERVATION = '0196a1b2-9f8e-7d6c-b5a4-3f2e1d0c9b8a';
const GCP_OBSERVATION = '7c2f5d1e-3a4b-4c6d-8e9f-0a1b2c3d4e5f';

/** Keyed by fixture file, or by style for the body-less MANIFEST entries. */
const EXPECTED: Record<string, Expectation> = {
  'hapi-r4-resthook-full-resource-observation.json': {
    diagnostics: /1 event\(s\), outcome accepted/,
    events: [{ resourceType: 'Observation', id: 'f001', versionId: '1', action: 'changed', hasResource: true, style: 'hapi-rest-hook' }],
    sweeps: [],
  },
  'hapi-r4-classic-no-payload': { diagnostics: /sweep was requested/, events: [], sweeps: ['empty ping'] },
  'hapi-r4-classic-delete': {
    diagnostics: /1 event\(s\), outcome accepted/,
    events: [{ resourceType: 'Observation', id: 'f001', action: 'delete', hasResource: false, style: 'hapi-rest-hook' }],
    sweeps: [],
  },
  'backport-r4-handshake.json': { diagnostics: /^Handshake accepted for https:\/\/example.org\/fhir\/Subscription\/admission$/, events: [], sweeps: [] },
  'backport-r4-heartbeat.json': { diagnostics: /^Heartbeat received for /, events: [], sweeps: [] },
  'backport-r4-event-empty.json': {
    diagnostics: /0 event\(s\), outcome ignored; a reconciliation sweep was requested/,
    events: [],
    sweeps: [`empty notification from ${ADMISSION} (events 2)`],
  },
  'backport-r4-event-id-only-encounter.ig.json': {
    diagnostics: /1 event\(s\), outcome ignored/,
    events: [
      { resourceType: 'Encounter', id: ENCOUNTER_ID, action: 'changed', hasResource: false, eventNumber: 2, style: 'backport-r4', subscription: ADMISSION },
    ],
    sweeps: [],
  },
  'backport-r4-event-full-resource-encounter.ig.json': {
    diagnostics: /1 event\(s\), outcome ignored/,
    events: [
      { resourceType: 'Encounter', id: ENCOUNTER_ID, action: 'create', hasResource: true, eventNumber: 2, style: 'backport-r4', subscription: ADMISSION },
    ],
    sweeps: [],
  },
  'backport-r4-error-query-status.ig.json': {
    diagnostics: /^Subscription status received for .*admission \(error\)$/,
    events: [],
    sweeps: [`${ADMISSION} reports status error (no-response)`],
  },
  'backport-r4-event-full-resource-observation.json': {
    diagnostics: /1 event\(s\), outcome accepted/,
    events: [
      { resourceType: 'Observation', id: 'f001', action: 'create', hasResource: true, eventNumber: 7, style: 'backport-r4', subscription: OBSERVATION_FEED },
    ],
    sweeps: [],
  },
  'backport-r4-event-id-only-observation.json': {
    diagnostics: /1 event\(s\), outcome accepted/,
    events: [
      { resourceType: 'Observation', id: 'f001', action: 'changed', hasResource: false, eventNumber: 8, style: 'backport-r4', subscription: OBSERVATION_FEED },
    ],
    sweeps: [],
  },
  'backport-r4b-handshake.json': { diagnostics: /^Handshake accepted for /, events: [], sweeps: [] },
  'backport-r4b-event-full-resource-encounter.ig.json': {
    diagnostics: /1 event\(s\), outcome ignored/,
    events: [
      { resourceType: 'Encounter', id: ENCOUNTER_ID, action: 'create', hasResource: true, eventNumber: 2, style: 'backport-r4b', subscription: ADMISSION },
    ],
    sweeps: [],
  },
  'r5-notification-full-resource.json': {
    diagnostics: /1 event\(s\), outcome ignored/,
    events: [
      { resourceType: 'Encounter', id: '2', versionId: '1', action: 'create', hasResource: true, eventNumber: 2, style: 'r5', subscription: R5_SUBSCRIPTION },
    ],
    sweeps: [],
  },
  'r5-notification-id-only.json': {
    diagnostics: /1 event\(s\), outcome ignored/,
    events: [{ resourceType: 'Encounter', id: '2', action: 'create', hasResource: false, eventNumber: 2, style: 'r5', subscription: R5_SUBSCRIPTION }],
    sweeps: [],
  },
  'r5-notification-empty.json': {
    diagnostics: /0 event\(s\).*sweep was requested/,
    events: [],
    sweeps: [`empty notification from ${R5_SUBSCRIPTION} (events 2)`],
  },
  'medplum-resthook-observation.body.json': {
    diagnostics: /1 event\(s\), outcome accepted/,
    events: [
      {
        resourceType: 'Observation',
        id: MEDPLUM_OBSERVATION,
        versionId: '0196a1b2-a0b1-7c2d-9e3f-4a5b6c7d8e9f',
        action: 'create',
        hasResource: true,
        style: 'medplum',
        subscription: 'Subscription/0196a1b0-5555-7666-8777-888899990000',
      },
    ],
    sweeps: [],
  },
  'medplum-resthook-delete.body.json': {
    diagnostics: /1 event\(s\), outcome accepted/,
    events: [
      {
        resourceType: 'Observation',
        id: MEDPLUM_OBSERVATION,
        action: 'delete',
        hasResource: false,
        style: 'medplum',
        subscription: 'Subscription/0196a1b0-5555-7666-8777-888899990000',
      },
    ],
    sweeps: [],
  },
  'azure-eventgrid-fhir-observation-created.json': {
    diagnostics: /1 event\(s\), outcome accepted/,
    events: [
      { resourceType: 'Observation', id: 'e0a1f743-1a70-451f-830e-e96477163902', versionId: '1', action: 'create', hasResource: false, style: 'azure-event-grid' },
    ],
    sweeps: [],
  },
  'azure-cloudevent-fhir-observation-updated.json': {
    diagnostics: /1 event\(s\), outcome accepted/,
    events: [
      { resourceType: 'Observation', id: 'e87ef649-abe1-485c-8c09-549d85dfe30b', versionId: '2', action: 'update', hasResource: false, style: 'azure-cloudevents' },
    ],
    sweeps: [],
  },
  'gcp-pubsub-push-observation-fullresource.json': {
    diagnostics: /1 event\(s\), outcome accepted/,
    events: [
      { resourceType: 'Observation', id: GCP_OBSERVATION, versionId: 'MTcxNDU1NTg2MjQxNzUxMjAwMA', action: 'create', hasResource: true, style: 'gcp-pubsub' },
    ],
    sweeps: [],
  },
  'gcp-pubsub-push-observation-nameonly.json': {
    diagnostics: /1 event\(s\), outcome accepted/,
    events: [
      { resourceType: 'Observation', id: GCP_OBSERVATION, versionId: 'MTcxNDU1NTg2MjQxNzUxMjAwMA', action: 'create', hasResource: false, style: 'gcp-pubsub' },
    ],
    sweeps: [],
  },
};

/**
 * Where MANIFEST.json gives no Content-Type, the one the real sender uses (Event Grid and Pub/Sub
 * push always send one; a body without a Content-Type is a 415 by design).
 */
const SENDER_CONTENT_TYPE: Record<string, string> = {
  'azure-cloudevent-fhir-observation-updated.json': 'application/cloudevents-batch+json; charset=utf-8',
  'azure-eventgrid-subscription-validation.json': 'application/json',
  'backport-r4-error-query-status.ig.json': 'application/fhir+json',
  'gcp-pubsub-push-observation-nameonly.json': 'application/json',
};

/** The secret an app must hold for this fixture: MANIFEST's `secret`, else the Bearer it sends. */
function secretFor(entry: ManifestEntry): string | undefined {
  if (entry.secret) return entry.secret;
  const bearer = /^Bearer (\S+)$/.exec(entry.headers?.Authorization ?? '');
  return bearer && !bearer[1]!.startsWith('<') ? bearer[1] : undefined;
}

function appFor(sink: EventSink, notifySecret: string | undefined): express.Express {
  const app = express();
  app.use(createIngressRouter({ sink, ...(notifySecret !== undefined && { notifySecret }) }));
  return app;
}

function project(e: ResourceEvent): ExpectedEvent {
  return {
    resourceType: e.resourceType,
    id: e.id,
    ...(e.versionId !== undefined && { versionId: e.versionId }),
    action: e.action,
    hasResource: e.resource !== undefined,
    ...(e.eventNumber !== undefined && { eventNumber: e.eventNumber }),
    style: e.style,
    ...(e.subscription !== undefined && { subscription: e.subscription }),
  };
}

describe('every notification fixture replayed through /notify', () => {
  it('covers every fixture file in the directory', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && f !== 'MANIFEST.json');
    const inManifest = new Set(manifest.fixtures.map((f) => f.file));
    for (const file of files) assert.ok(inManifest.has(file), `${file} is not in MANIFEST.json`);
    for (const entry of manifest.fixtures) {
      const key = entry.file ?? entry.style;
      assert.ok(key in EXPECTED || entry.expectedResponse, `no expectation for ${key}`);
    }
  });

  for (const entry of manifest.fixtures) {
    const key = entry.file ?? entry.style;
    it(`${key}: ${entry.method} ${entry.url}`, async () => {
      const sink = new RecordingEventSinkDouble();
      const app = appFor(sink, secretFor(entry));
      // The `$status` fixture is a GET response, never pushed: we POST it as a server would forward it.
      const method = entry.method === 'GET-response' ? 'post' : (entry.method.toLowerCase() as 'post' | 'put' | 'delete');
      const path = entry.url.replace(/^\{[a-zA-Z]+\}/, '/notify').replace(/^\[base\].*$/, '/notify');
      let req = request(app)[method](path);
      for (const [name, value] of Object.entries(entry.headers ?? {})) req = req.set(name, value);
      const contentType = SENDER_CONTENT_TYPE[key];
      if (contentType) req = req.set('Content-Type', contentType);
      // Exact bytes (UTF-8 text; superagent would JSON-encode a Buffer): the Medplum HMAC is over the file as it is.
      const body = entry.file ? readFileSync(join(FIXTURES, entry.file), 'utf8') : undefined;
      const res = await (body ? req.send(body) : req);

      if (entry.expectedResponse) {
        assert.equal(res.status, entry.expectedResponse.status);
        assert.deepEqual(res.body, entry.expectedResponse.body);
        assert.deepEqual(sink.enqueued, []);
        return;
      }
      const expected = EXPECTED[key]!;
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.match(res.headers['content-type'] ?? '', /^application\/fhir\+json/);
      assert.equal(res.body.resourceType, 'OperationOutcome');
      assert.equal(res.body.issue[0].severity, 'information');
      assert.match(res.body.issue[0].diagnostics, expected.diagnostics);
      assert.deepEqual(sink.enqueued.map(project), expected.events);
      assert.deepEqual(sink.sweeps, expected.sweeps);
    });
  }
});

describe('what the fixtures carry beyond identity', () => {
  it('keeps the resource body and lastUpdated of a HAPI PUT', async () => {
    const sink = new RecordingEventSinkDouble();
    const body = readFileSync(join(FIXTURES, 'hapi-r4-resthook-full-resource-observation.json'), 'utf8');
    await request(appFor(sink, undefined)).put('/notify/Observation/f001').set('Content-Type', 'application/fhir+json').send(body).expect(200);
    assert.equal(sink.enqueued[0]?.lastUpdated, '2024-05-01T09:31:02.417+00:00');
    assert.deepEqual(sink.enqueued[0]?.resource, JSON.parse(body));
  });

  it('converts the Pub/Sub lastUpdatedTime (RFC 1123) of a name-only message to ISO 8601', async () => {
    const sink = new RecordingEventSinkDouble();
    const body = readFileSync(join(FIXTURES, 'gcp-pubsub-push-observation-nameonly.json'), 'utf8');
    await request(appFor(sink, undefined)).post('/notify').set('Content-Type', 'application/json').send(body).expect(200);
    assert.equal(sink.enqueued[0]?.lastUpdated, '2024-05-01T09:31:02.000Z');
  });
});
