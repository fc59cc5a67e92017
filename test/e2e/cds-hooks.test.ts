/**
 * CDS Hooks end to end on real parts: the sandbox FHIR server, fhir-risk on real Redis (the
 * harness), the real ONNX models, real HTTP. The CDS router is mounted on its own small express
 * app next to the service (app.ts wiring is the lead's), with the service's own models and value
 * sets and an EHR client on the sandbox, as `service.ts` builds them.
 *
 * A patient loaded with PCE inputs → patient-view with the prefetch an EHR would send (the
 * discovery templates run against the sandbox) → an ascvd-pce card whose assessment is exactly
 * `$risk-assess`'s; without prefetch → one quick batch read; with a fresh stored assessment →
 * the card shows it, with no model run and no write (sandbox request counters).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import type { Bundle, RiskAssessment } from 'fhir/r4.js';
import { CARD_EXTENSION_KEY, type CdsCard, type CdsResponse } from '../../src/api/cds-cards.ts';
import { createCdsHooksRouter, PATIENT_VIEW_SERVICE_ID, type CdsService } from '../../src/api/cds-hooks.ts';
import { cdsResponseSchema } from '../../src/api/cds-schema.ts';
import { FhirKitEhrClient } from '../../src/fhir/ehr-client.ts';
import type { LoadedModel, ModelRegistry } from '../../src/models/types.ts';
import { FHIR_JSON, startHarness, type Harness } from '../support/harness.ts';
import { expectedRisk, pceVector, toleranceFor } from '../support/pce-patient.ts';

const vector = pceVector('pce-cerner-white-male-46');

let h: Harness;
let cds: Server;
let cdsUrl: string;
let predictions = 0;
/** A decoy "FHIR server" on another port: fhir-risk must never call it. */
let decoy: Server;
let decoyUrl: string;
let decoyHits = 0;

/** The service's registry, counting ONNX runs. */
function counting(inner: ModelRegistry): ModelRegistry {
  const wrap = (m: LoadedModel): LoadedModel => ({
    manifest: m.manifest,
    dir: m.dir,
    onnxSha256: m.onnxSha256,
    predict: (rows) => {
      predictions += 1;
      return m.predict(rows);
    },
  });
  return { problems: inner.problems, list: () => inner.list().map(wrap), get: (id) => (inner.get(id) ? wrap(inner.get(id)!) : undefined), close: () => inner.close() };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  h = await startHarness();
  const ehr = new FhirKitEhrClient({ baseUrl: h.sandbox.baseUrl, timeoutMs: 5_000 });
  const app = express();
  app.use('/cds-services', createCdsHooksRouter({ ehr, results: ehr, models: counting(h.service.models), valueSets: h.service.valueSets }));
  cds = createServer(app);
  cdsUrl = await listen(cds);
  decoy = createServer((_req, res) => {
    decoyHits += 1;
    res.writeHead(500).end();
  });
  decoyUrl = await listen(decoy);
});

after(async () => {
  await new Promise((r) => cds?.close(r));
  await new Promise((r) => decoy?.close(r));
  await h?.stop();
});

/** The prefetch an EHR would send: every discovery template, with the patient id filled in, run on the sandbox. */
async function prefetchFor(patientId: string): Promise<Record<string, unknown>> {
  const discovery = (await (await fetch(`${cdsUrl}/cds-services`)).json()) as { services: CdsService[] };
  const templates = discovery.services.find((s) => s.id === PATIENT_VIEW_SERVICE_ID)?.prefetch ?? {};
  const prefetch: Record<string, unknown> = {};
  for (const [key, template] of Object.entries(templates)) {
    const res = await fetch(`${h.sandbox.baseUrl}/${template.replaceAll('{{context.patientId}}', encodeURIComponent(patientId))}`, { headers: FHIR_JSON });
    assert.ok(res.ok, `prefetch ${key} → ${res.status}`);
    const body = (await res.json()) as Bundle;
    // Spec: a template with no data is sent as null.
    prefetch[key] = body.resourceType === 'Bundle' && (body.entry ?? []).length === 0 ? null : body;
  }
  return prefetch;
}

async function patientView(patientId: string, extra: Record<string, unknown> = {}): Promise<CdsResponse> {
  const res = await fetch(`${cdsUrl}/cds-services/${PATIENT_VIEW_SERVICE_ID}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hook: 'patient-view', hookInstance: randomUUID(), context: { userId: 'Practitioner/e2e', patientId }, ...extra }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return cdsResponseSchema.parse(await res.json()) as CdsResponse;
}

/** `$risk-assess` for ascvd-pce on the service (optionally persisted). */
async function riskAssess(patientId: string, persist = false): Promise<RiskAssessment> {
  const res = await fetch(`${h.serviceUrl}/fhir/Patient/${patientId}/$risk-assess?model=ascvd-pce${persist ? '&persist=true' : ''}`, { method: 'POST', headers: FHIR_JSON });
  assert.equal(res.status, 200);
  const bundle = (await res.json()) as Bundle;
  const ra = bundle.entry?.map((e) => e.resource).find((r): r is RiskAssessment => r?.resourceType === 'RiskAssessment');
  assert.ok(ra, 'ascvd-pce applies to the vector patient');
  return ra;
}

function pceCard(response: CdsResponse): CdsCard & { ext: Record<string, unknown> } {
  const card = response.cards.find((c) => c.source.topic?.code === 'ascvd-pce');
  assert.ok(card, `no ascvd-pce card among ${response.cards.map((c) => c.summary).join(' / ')}`);
  assert.equal(card.source.label, 'fhir-risk');
  assert.ok(card.summary.length < 140);
  return { ...card, ext: card.extension?.[CARD_EXTENSION_KEY] as Record<string, unknown> };
}

/** Sandbox requests since `before`, by interaction and method. */
function counters() {
  const c = h.sandbox.counters.requests;
  return { total: c.total, batch: c.byInteraction.batch ?? 0, search: c.byInteraction['search-type'] ?? 0, put: c.byMethod.PUT ?? 0, post: c.byMethod.POST ?? 0 };
}
function delta(before: ReturnType<typeof counters>) {
  const now = counters();
  return { total: now.total - before.total, batch: now.batch - before.batch, search: now.search - before.search, put: now.put - before.put, post: now.post - before.post };
}

describe('CDS Hooks patient-view on the sandbox', () => {
  it('with the prefetch an EHR sends: an ascvd-pce card whose assessment is $risk-assess’s, no request to the FHIR server', async () => {
    const patientId = await h.loadVectorPatient(vector, 'cds-pre');
    const expected = await riskAssess(patientId);
    const probability = expected.prediction![0]!.probabilityDecimal!;
    assert.ok(Math.abs(probability - expectedRisk(vector)) <= toleranceFor(vector), `${probability} vs the published vector`);

    const prefetch = await prefetchFor(patientId);
    assert.equal(prefetch.riskAssessments, null, 'nothing stored yet');
    const start = counters();
    predictions = 0;
    const card = pceCard(await patientView(patientId, { prefetch }));
    assert.equal(delta(start).total, 0, 'everything came from the prefetch');
    assert.equal(card.ext.origin, 'prefetch');
    assert.equal(card.ext.identifier, expected.identifier![0]!.value, 'same inputs, same model version, same values as $risk-assess');
    assert.ok(card.summary.includes(`${(probability * 100).toFixed(1)} %`), card.summary);
    assert.equal(card.indicator, 'warning', 'intermediate band → moderate → warning');
    assert.equal(predictions, 1, 'computed once (no stored assessment)');
  });

  it('without prefetch: one batch read of the patient and one search of stored assessments, same assessment', async () => {
    const patientId = await h.loadVectorPatient(vector, 'cds-fetch');
    const expected = await riskAssess(patientId);
    const start = counters();
    const card = pceCard(await patientView(patientId));
    assert.deepEqual(delta(start), { total: 2, batch: 1, search: 1, put: 0, post: 1 });
    assert.equal(card.ext.origin, 'fhir-server');
    assert.equal(card.ext.identifier, expected.identifier![0]!.value);
  });

  it('a fhirServer other than FHIR_BASE_URL is never contacted, token or not', async () => {
    const patientId = await h.loadVectorPatient(vector, 'cds-ssrf');
    const start = counters();
    const card = pceCard(
      await patientView(patientId, {
        fhirServer: `${decoyUrl}/fhir`,
        fhirAuthorization: { access_token: 'ehr-issued-token', token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'fhir-risk' },
      }),
    );
    assert.equal(decoyHits, 0);
    assert.equal(delta(start).batch, 1, 'read from the sandbox (FHIR_BASE_URL) instead');
    assert.equal(card.ext.origin, 'fhir-server');
  });

  describe('with a fresh stored assessment', () => {
    let patientId: string;
    let stored: RiskAssessment;
    before(async () => {
      patientId = await h.loadVectorPatient(vector, 'cds-stored');
      stored = await riskAssess(patientId, true);
      const onServer = await h.assessmentsOf(patientId);
      assert.deepEqual(
        onServer.map((ra) => ra.id),
        [stored.id],
      );
    });

    it('prefetched: the card reflects it, with no request, no model run and no write', async () => {
      const prefetch = await prefetchFor(patientId);
      assert.equal(((prefetch.riskAssessments as Bundle).entry ?? []).length, 1);
      const start = counters();
      predictions = 0;
      const card = pceCard(await patientView(patientId, { prefetch }));
      assert.equal(delta(start).total, 0);
      assert.equal(predictions, 0, 'not recomputed');
      assert.equal(card.ext.origin, 'stored');
      assert.equal(card.ext.riskAssessment, `RiskAssessment/${stored.id}`);
      assert.equal(card.ext.assessedAt, stored.occurrenceDateTime);
      assert.ok(card.summary.includes(`${(stored.prediction![0]!.probabilityDecimal! * 100).toFixed(1)} %`));
    });

    it('fetched: one search finds it, one batch read confirms its inputs are current; no model run, no write', async () => {
      const start = counters();
      predictions = 0;
      const card = pceCard(await patientView(patientId));
      assert.deepEqual(delta(start), { total: 2, batch: 1, search: 1, put: 0, post: 1 });
      assert.equal(predictions, 0, 'not recomputed');
      assert.equal(card.ext.origin, 'stored');
      assert.equal(card.ext.riskAssessment, `RiskAssessment/${stored.id}`);
    });

    it('an updated input makes it stale: the card is recomputed from the new data', async () => {
      const tc = await h.fhir<{ valueQuantity: { value: number } }>('GET', `Observation/${patientId}-tc`);
      await h.fhir('PUT', `Observation/${patientId}-tc`, { ...tc, valueQuantity: { ...tc.valueQuantity, value: tc.valueQuantity.value + 20 } });
      predictions = 0;
      const card = pceCard(await patientView(patientId));
      assert.equal(card.ext.origin, 'fhir-server');
      assert.notEqual(card.ext.identifier, stored.identifier![0]!.value);
      assert.equal(predictions, 1);
    });
  });
});
