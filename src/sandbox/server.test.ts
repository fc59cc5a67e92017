import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Bundle, CapabilityStatement, Observation, OperationOutcome, Patient } from 'fhir/r4.js';
import { loadBundles } from './load.ts';
import { startSandbox, type Sandbox } from './server.ts';

const SYNTHEA = new URL('../../test/fixtures/synthea', import.meta.url).pathname;
const PATIENT_ID = 'f8446dc0-6b14-d4ee-5cc3-2c566456fe44';
const PATIENT_FILE = `${SYNTHEA}/${PATIENT_ID}.json`;
const FHIR_JSON = { 'Content-Type': 'application/fhir+json' };

let sandbox: Sandbox;

async function call<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${sandbox.baseUrl}/${path}`, {
    method,
    headers: body === undefined ? headers : { ...FHIR_JSON, ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

function observation(extra: Partial<Observation> = {}): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: 'Patient/p1' },
    ...extra,
  };
}

before(async () => {
  sandbox = await startSandbox({ port: 0 });
});
after(async () => {
  await sandbox.close();
});

describe('sandbox REST API', () => {
  it('serves a CapabilityStatement on the documented base', async () => {
    assert.match(sandbox.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/fhir\/R4$/);
    const res = await call<CapabilityStatement>('GET', 'metadata');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/fhir+json; charset=utf-8');
    assert.equal(res.body.fhirVersion, '4.0.1');
    assert.equal(res.body.implementation?.url, sandbox.baseUrl);
  });

  it('loads a Synthea transaction Bundle; its Observations are searchable by patient and code, with paging', async () => {
    const source = JSON.parse(readFileSync(PATIENT_FILE, 'utf8')) as Bundle;
    const expected = (source.entry ?? []).filter((e) => e.resource?.resourceType === 'Observation');
    const heights = expected.filter((e) => (e.resource as Observation).code.coding?.some((c) => c.code === '8302-2'));
    assert.ok(expected.length > 10 && heights.length > 0);

    const result = await loadBundles(sandbox, [PATIENT_FILE]);
    assert.deepEqual(result, { loaded: 1, entries: source.entry?.length, failed: [] });

    const patient = await call<Patient>('GET', `Patient/${PATIENT_ID}`);
    assert.equal(patient.status, 200);
    assert.equal(patient.body.meta?.versionId, '1');

    for (const param of [`patient=${PATIENT_ID}`, `patient=Patient/${PATIENT_ID}`, `subject=Patient/${PATIENT_ID}`]) {
      const page = await call<Bundle>('GET', `Observation?${param}&_count=1000`);
      assert.equal(page.body.total, expected.length, param);
    }
    const byCode = await call<Bundle<Observation>>('GET', `Observation?patient=${PATIENT_ID}&code=http://loinc.org|8302-2`);
    assert.equal(byCode.body.total, heights.length);
    const first = byCode.body.entry?.[0];
    assert.equal(first?.fullUrl, `${sandbox.baseUrl}/Observation/${first?.resource?.id}`);
    // urn:uuid: references were rewritten to the PUT ids.
    assert.equal(first?.resource?.subject?.reference, `Patient/${PATIENT_ID}`);
    const otherSystem = await call<Bundle>('GET', `Observation?code=http://snomed.info/sct|8302-2`);
    assert.equal(otherSystem.body.total, 0);

    // Follow `next` links: every Observation exactly once, links on the sandbox base.
    const seen = new Set<string>();
    let url: string | undefined = `${sandbox.baseUrl}/Observation?patient=${PATIENT_ID}&_count=10`;
    let pages = 0;
    while (url) {
      assert.ok(url.startsWith(sandbox.baseUrl));
      const page = (await (await fetch(url)).json()) as Bundle;
      for (const e of page.entry ?? []) seen.add(e.resource?.id ?? '');
      url = page.link?.find((l) => l.relation === 'next')?.url;
      pages++;
    }
    assert.equal(seen.size, expected.length);
    assert.equal(pages, Math.ceil(expected.length / 10));

    const recent = await call<Bundle>('GET', `Observation?_lastUpdated=gt${new Date(Date.now() - 60_000).toISOString()}&_summary=count`);
    assert.equal(recent.body.total, expected.length);
    const future = await call<Bundle>('GET', `Observation?_lastUpdated=gt${new Date(Date.now() + 60_000).toISOString()}`);
    assert.equal(future.body.total, 0);
  });

  it('answers a batch of searches with a batch-response', async () => {
    await call('PUT', 'Patient/b1', { resourceType: 'Patient', id: 'b1' });
    await call('POST', 'Observation', observation({ subject: { reference: 'Patient/b1' } }));
    const batch: Bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { request: { method: 'GET', url: 'Observation?patient=b1' } },
        { request: { method: 'GET', url: 'Patient/b1' } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
      ],
    };
    const res = await call<Bundle>('POST', '', batch);
    assert.equal(res.status, 200);
    assert.equal(res.body.type, 'batch-response');
    const [search, read, missing] = res.body.entry ?? [];
    assert.equal(search?.response?.status, '200');
    assert.equal((search?.resource as Bundle).type, 'searchset');
    assert.equal((search?.resource as Bundle).total, 1);
    assert.equal((read?.resource as Patient).id, 'b1');
    assert.equal(missing?.response?.status, '404');
  });

  it('conditional create (If-None-Exist) twice makes one resource', async () => {
    const obs = observation({ identifier: [{ system: 'urn:test', value: 'cc-1' }] });
    const first = await call<Observation>('POST', 'Observation', obs, { 'If-None-Exist': 'identifier=urn:test|cc-1' });
    const second = await call<Observation>('POST', 'Observation', obs, { 'If-None-Exist': 'identifier=urn:test|cc-1' });
    assert.equal(first.status, 201);
    assert.match(first.headers.get('location') ?? '', new RegExp(`/Observation/${first.body.id}/_history/1$`));
    assert.equal(second.status, 200);
    assert.equal(second.body.id, first.body.id);
    const found = await call<Bundle>('GET', 'Observation?identifier=urn:test|cc-1');
    assert.equal(found.body.total, 1);
  });

  it('PUT with a client id creates (201), then updates with numeric versions; If-Match guards', async () => {
    const id = 'a7c1e0d2-4b3f-4e8a-9f00-123456789abc';
    const created = await call<Observation>('PUT', `Observation/${id}`, observation({ id }));
    assert.equal(created.status, 201);
    assert.equal(created.body.meta?.versionId, '1');
    assert.equal(created.headers.get('etag'), 'W/"1"');
    const updated = await call<Observation>('PUT', `Observation/${id}`, observation({ id, status: 'amended' }), { 'If-Match': 'W/"1"' });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.meta?.versionId, '2');
    const stale = await call<OperationOutcome>('PUT', `Observation/${id}`, observation({ id }), { 'If-Match': 'W/"1"' });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.resourceType, 'OperationOutcome');
    const v1 = await call<Observation>('GET', `Observation/${id}/_history/1`);
    assert.equal(v1.body.status, 'final');
    const history = await call<Bundle>('GET', `Observation/${id}/_history`);
    assert.deepEqual(history.body.entry?.map((e) => e.resource?.meta?.versionId), ['2', '1']);

    const wrongId = await call('PUT', `Observation/${id}`, observation({ id: 'other' }));
    assert.equal(wrongId.status, 400);
  });

  it('delete: read answers 410 Gone, old versions stay readable', async () => {
    const made = await call<Observation>('POST', 'Observation', observation());
    const del = await call('DELETE', `Observation/${made.body.id}`);
    assert.equal(del.status, 200);
    assert.equal((await call('GET', `Observation/${made.body.id}`)).status, 410);
    assert.equal((await call('GET', `Observation/${made.body.id}/_history/1`)).status, 200);
    assert.equal((await call('GET', 'Observation/never-existed')).status, 404);
  });

  it('rolls back a transaction whose entry fails', async () => {
    const tx: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:6f0b1f5e-1d1a-4f7e-9a63-2b7b1f1a0001', resource: { resourceType: 'Patient', id: 'tx-ok' }, request: { method: 'PUT', url: 'Patient/tx-ok' } },
        { resource: { resourceType: 'Patient', id: 'mismatch' }, request: { method: 'PUT', url: 'Patient/tx-bad' } },
      ],
    };
    const res = await call<OperationOutcome>('POST', '', tx);
    assert.equal(res.status, 400);
    assert.match(res.body.issue[0]?.diagnostics ?? '', /rolled back.*entry\[1\]/);
    assert.equal((await call('GET', 'Patient/tx-ok')).status, 404);
    assert.equal(sandbox.repo.exists('Patient', 'tx-ok'), false);
  });

  it('accepts application/json, rejects other media types (415) and malformed JSON (400)', async () => {
    const asJson = await call('POST', 'Observation', observation(), { 'Content-Type': 'application/json' });
    assert.equal(asJson.status, 201);
    const xml = await call<OperationOutcome>('POST', 'Observation', '<Observation/>', { 'Content-Type': 'application/fhir+xml' });
    assert.equal(xml.status, 415);
    assert.equal(xml.body.resourceType, 'OperationOutcome');
    const broken = await call<OperationOutcome>('POST', 'Observation', '{"resourceType":', FHIR_JSON);
    assert.equal(broken.status, 400);
  });

  it('accepts a body of more than 20 MB; refuses one over the limit with 413', async () => {
    // Whitespace padding keeps the test fast: the limit applies to the bytes on the wire.
    const big = ' '.repeat(21 * 1024 * 1024) + JSON.stringify(observation());
    const res = await call<Observation>('POST', 'Observation', big);
    assert.equal(res.status, 201);
    const small = await startSandbox({ bodyLimit: '1kb' });
    try {
      const tooBig = await fetch(`${small.baseUrl}/Observation`, { method: 'POST', headers: FHIR_JSON, body: big.slice(-2048) });
      assert.equal(tooBig.status, 413);
      assert.equal(((await tooBig.json()) as OperationOutcome).issue[0]?.code, 'too-costly');
    } finally {
      await small.close();
    }
  });

  it('counts requests by method and interaction', async () => {
    const before = sandbox.counters.requests.byInteraction.read ?? 0;
    await call('GET', `Patient/${PATIENT_ID}`);
    assert.equal(sandbox.counters.requests.byInteraction.read, before + 1);
    assert.ok((sandbox.counters.requests.byInteraction.transaction ?? 0) >= 1);
    assert.ok((sandbox.counters.requests.byMethod.GET ?? 0) > 0);
  });

  it('injects faults when asked, and only then', async () => {
    sandbox.faults.errorRate = 1;
    const statuses = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const res = await call<OperationOutcome>('GET', 'metadata');
      statuses.add(res.status);
      if (res.status === 429) assert.equal(res.headers.get('retry-after'), '1');
    }
    sandbox.faults.errorRate = 0;
    assert.deepEqual([...statuses].sort(), [429, 500]);
    assert.equal(sandbox.counters.faults.errors, 20);
    assert.equal((await call('GET', 'metadata')).status, 200);

    sandbox.faults.stallRate = 1;
    sandbox.faults.stallMs = 150;
    const started = Date.now();
    const stalled = await call('GET', 'metadata');
    sandbox.faults.stallRate = 0;
    assert.equal(stalled.status, 200);
    assert.ok(Date.now() - started >= 140);
    assert.equal(sandbox.counters.faults.stalls, 1);
  });
});
