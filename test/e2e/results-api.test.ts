/**
 * The results API (`/fhir`) end to end, on the sandbox FHIR server and real Redis: searches by
 * patient, method and risk, paging whose links point at fhir-risk (and work when followed), read
 * by id limited to fhir-risk's own assessments, `$risk-assess` with and without persistence, and
 * API authentication with SMART access tokens from a test double of the authorization server.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { exportJWK, SignJWT } from 'jose';
import type { Bundle, OperationOutcome, RiskAssessment } from 'fhir/r4.js';
import { validateRiskAssessment } from '../../src/writeback/validate.ts';
import { startHarness, type Harness } from '../support/harness.ts';

const MODELS_SYSTEM = 'http://fhir-risk.org/fhir/CodeSystem/models';
const NOT_APPLICABLE_SYSTEM = 'http://fhir-risk.org/fhir/CodeSystem/not-applicable-reason';
const RISK_PROBABILITY = 'http://terminology.hl7.org/CodeSystem/risk-probability';
const OUR_IDENTIFIER_SYSTEM = 'http://fhir-risk.org/fhir/sid/assessment';

interface Reply<T> {
  status: number;
  headers: Headers;
  body: T;
}

async function call<T>(url: string, init: { method?: string; token?: string } = {}): Promise<Reply<T>> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { accept: 'application/fhir+json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as T };
}

function assessmentsIn(bundle: Bundle): RiskAssessment[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is RiskAssessment => r?.resourceType === 'RiskAssessment');
}

function assertValid(ras: readonly RiskAssessment[]): void {
  for (const ra of ras) validateRiskAssessment(ra);
}

/**
 * Scores a patient now through the API and writes the assessments; returns the collection Bundle.
 * A 503 is transient by contract and is retried as a client would: the first scoring of a process
 * blocks its event loop for seconds (conformance indexing), and the in-process sandbox may then
 * reset an idle keep-alive connection under it.
 */
async function persistAssessments(h: Harness, patientId: string, token?: string): Promise<Bundle> {
  for (let attempt = 1; ; attempt++) {
    const reply = await call<Bundle>(`${h.serviceUrl}/fhir/Patient/${patientId}/$risk-assess?persist=true`, { method: 'POST', ...(token ? { token } : {}) });
    if (reply.status === 503 && attempt < 3) continue;
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body;
  }
}

/** A RiskAssessment that fhir-risk did not write (no identifier of ours), straight on the sandbox. */
async function createForeignAssessment(h: Harness, patientId: string): Promise<string> {
  const foreign = await h.fhir<RiskAssessment>('POST', 'RiskAssessment', {
    resourceType: 'RiskAssessment',
    status: 'final',
    subject: { reference: `Patient/${patientId}` },
    identifier: [{ system: 'http://other-vendor.example.org/risk', value: 'x-1' }],
    method: { coding: [{ system: MODELS_SYSTEM, code: 'ascvd-pce' }] },
    prediction: [{ probabilityDecimal: 0.5, qualitativeRisk: { coding: [{ system: RISK_PROBABILITY, code: 'high' }] } }],
  });
  assert.ok(foreign.id);
  return foreign.id;
}

describe('results API without authentication (API_AUTH=none)', () => {
  let h: Harness;
  const patients: string[] = [];
  let foreignId = '';

  before(async () => {
    h = await startHarness();
    // Two high (≥ 20 %), one intermediate (moderate), one low: ascvd-pce applies to all four.
    for (const vector of ['pce-preventr-white-female-67', 'pce-preventr-black-female-50', 'pce-cerner-white-male-46', 'pce-goff2013-tableA-white-female']) {
      patients.push(await h.loadVectorPatient(vector, 'api'));
    }
    for (const p of patients) await persistAssessments(h, p);
    foreignId = await createForeignAssessment(h, patients[0]!);
  });
  after(async () => {
    await h?.stop();
  });

  it('$risk-assess answers a collection: a valid RiskAssessment per model that applies, a not-supported OperationOutcome per model that does not; persist=false writes nothing, persist=true exactly one each', async () => {
    const patientId = await h.loadVectorPatient('pce-cerner-black-male-46', 'assess');
    const dry = await call<Bundle>(`${h.serviceUrl}/fhir/Patient/${patientId}/$risk-assess`, { method: 'POST' });
    assert.equal(dry.status, 200);
    assert.equal(dry.body.resourceType, 'Bundle');
    assert.equal(dry.body.type, 'collection');
    const ras = assessmentsIn(dry.body);
    assert.deepEqual(
      ras.map((ra) => ra.method?.coding?.[0]?.code),
      ['ascvd-pce'],
      'only the PCE applies to a patient with lipids and blood pressure alone',
    );
    assertValid(ras);
    const outcomes = (dry.body.entry ?? []).map((e) => e.resource).filter((r): r is OperationOutcome => r?.resourceType === 'OperationOutcome');
    assert.equal(outcomes.length, h.service.models.list().length - ras.length, 'every other model says why it does not apply');
    for (const oo of outcomes) {
      const issue = oo.issue[0]!;
      assert.equal(issue.severity, 'information');
      assert.equal(issue.code, 'not-supported');
      assert.equal(issue.details?.coding?.[0]?.system, NOT_APPLICABLE_SYSTEM);
      assert.ok(issue.details?.coding?.[0]?.code);
      assert.ok(issue.diagnostics);
    }
    assert.ok(outcomes.some((oo) => oo.issue[0]?.expression?.includes('model:cha2ds2-vasc')));
    assert.equal((await h.assessmentsOf(patientId)).length, 0, 'persist=false (the default) writes nothing');

    const explicitDry = await call<Bundle>(`${h.serviceUrl}/fhir/Patient/${patientId}/$risk-assess?persist=false&model=ascvd-pce`, { method: 'POST' });
    assert.equal(assessmentsIn(explicitDry.body).length, 1);
    assert.equal((await h.assessmentsOf(patientId)).length, 0);

    const persisted = await persistAssessments(h, patientId);
    const written = await h.assessmentsOf(patientId);
    assert.equal(written.length, 1, 'persist=true writes exactly one RiskAssessment');
    assert.equal(written[0]!.identifier?.[0]?.value, assessmentsIn(persisted)[0]!.identifier?.[0]?.value);
    assertValid(written);
    await persistAssessments(h, patientId);
    assert.equal((await h.assessmentsOf(patientId)).length, 1, 'persisting the same inputs again adds nothing');
  });

  it('$risk-assess refuses an unknown model (422) and a malformed persist (400)', async () => {
    const unknown = await call<OperationOutcome>(`${h.serviceUrl}/fhir/Patient/${patients[0]}/$risk-assess?model=nope`, { method: 'POST' });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.resourceType, 'OperationOutcome');
    const malformed = await call<OperationOutcome>(`${h.serviceUrl}/fhir/Patient/${patients[0]}/$risk-assess?persist=yes`, { method: 'POST' });
    assert.equal(malformed.status, 400);
  });

  it('searches by patient: only that patient, only fhir-risk assessments, fullUrls on our base', async () => {
    const reply = await call<Bundle>(`${h.serviceUrl}/fhir/RiskAssessment?patient=${patients[0]}`);
    assert.equal(reply.status, 200);
    assert.equal(reply.body.type, 'searchset');
    const ras = assessmentsIn(reply.body);
    assert.equal(ras.length, 1, 'the foreign RiskAssessment of the same patient is not ours');
    assert.ok(ras.every((ra) => ra.subject.reference === `Patient/${patients[0]}`));
    assert.ok(!ras.some((ra) => ra.id === foreignId));
    assert.equal(reply.body.entry?.[0]?.fullUrl, `${h.serviceUrl}/fhir/RiskAssessment/${ras[0]!.id}`);
    assert.equal(reply.body.link?.find((l) => l.relation === 'self')?.url, `${h.serviceUrl}/fhir/RiskAssessment?patient=${patients[0]}`);
    assertValid(ras);

    const bySubject = await call<Bundle>(`${h.serviceUrl}/fhir/RiskAssessment?subject=Patient/${patients[1]}`);
    assert.deepEqual(assessmentsIn(bySubject.body).map((ra) => ra.subject.reference), [`Patient/${patients[1]}`]);
  });

  it('searches by method and by risk, as the store filters them', async () => {
    const byMethod = await call<Bundle>(`${h.serviceUrl}/fhir/RiskAssessment?method=${encodeURIComponent(`${MODELS_SYSTEM}|ascvd-pce`)}&_count=100`);
    assert.equal(byMethod.status, 200);
    const all = assessmentsIn(byMethod.body);
    assert.ok(all.length >= patients.length, `one PCE assessment per loaded patient (have ${all.length})`);
    assert.ok(all.every((ra) => ra.method?.coding?.[0]?.code === 'ascvd-pce'));
    assert.ok(all.every((ra) => ra.identifier?.[0]?.system === OUR_IDENTIFIER_SYSTEM));
    assertValid(all);

    const none = await call<Bundle>(`${h.serviceUrl}/fhir/RiskAssessment?method=${encodeURIComponent(`${MODELS_SYSTEM}|news2`)}`);
    assert.equal(assessmentsIn(none.body).length, 0);

    const high = await call<Bundle>(`${h.serviceUrl}/fhir/RiskAssessment?risk=${encodeURIComponent(`${RISK_PROBABILITY}|high`)}&_count=100`);
    const highRas = assessmentsIn(high.body);
    const expectedHigh = all.filter((ra) => ra.prediction?.[0]?.qualitativeRisk?.coding?.[0]?.code === 'high').map((ra) => ra.id).sort();
    assert.ok(expectedHigh.length >= 2);
    assert.deepEqual(highRas.map((ra) => ra.id).sort(), expectedHigh, 'exactly our high-risk assessments (not the foreign "high" one)');
  });

  it('pages with _count: links rewritten to our base, following them walks every page once', async () => {
    const method = encodeURIComponent(`${MODELS_SYSTEM}|ascvd-pce`);
    const everything = assessmentsIn((await call<Bundle>(`${h.serviceUrl}/fhir/RiskAssessment?method=${method}&_count=100`)).body);
    let url: string | undefined = `${h.serviceUrl}/fhir/RiskAssessment?method=${method}&_count=2&_sort=_id`;
    const seen: string[] = [];
    const pages: Bundle[] = [];
    while (url) {
      const reply: Reply<Bundle> = await call<Bundle>(url);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      pages.push(reply.body);
      const page = assessmentsIn(reply.body);
      assert.ok(page.length <= 2);
      seen.push(...page.map((ra) => ra.id!));
      url = reply.body.link?.find((l) => l.relation === 'next')?.url;
      if (url) assert.match(url, new RegExp(`^${h.serviceUrl}/fhir/RiskAssessment\\?_page_token=[A-Za-z0-9_-]+$`));
      assert.ok(pages.length <= 10, 'paging ends');
    }
    assert.ok(pages.length >= 2, `at least two pages (got ${pages.length})`);
    assert.equal(new Set(seen).size, seen.length, 'no assessment twice');
    assert.deepEqual([...seen].sort(), everything.map((ra) => ra.id!).sort(), 'every assessment once');
    for (const link of pages.flatMap((p) => p.link ?? [])) {
      assert.ok(link.url.startsWith(`${h.serviceUrl}/fhir/`), `${link.relation} link on our base: ${link.url}`);
    }
    // `total` only when the store gave one (the sandbox does).
    assert.equal(pages[0]!.total, everything.length);

    const previous = pages[1]!.link?.find((l) => l.relation === 'previous')?.url;
    assert.ok(previous, 'page 2 links back');
    const back = await call<Bundle>(previous);
    assert.deepEqual(assessmentsIn(back.body).map((ra) => ra.id), assessmentsIn(pages[0]!).map((ra) => ra.id));
  });

  it('refuses a page token that does not address our RiskAssessment search (no SSRF), and unknown parameters', async () => {
    for (const forged of ['//evil.example.org/steal?x=1', 'Patient?_count=1', 'RiskAssessment?_count=1', 'metadata?']) {
      const token = Buffer.from(forged).toString('base64url');
      const reply = await call<OperationOutcome>(`${h.serviceUrl}/fhir/RiskAssessment?_page_token=${token}`);
      assert.equal(reply.status, 400, forged);
      assert.equal(reply.body.resourceType, 'OperationOutcome');
    }
    const unknown = await call<OperationOutcome>(`${h.serviceUrl}/fhir/RiskAssessment?code=1234`);
    assert.equal(unknown.status, 400);
    const widened = await call<OperationOutcome>(`${h.serviceUrl}/fhir/RiskAssessment?identifier=x`);
    assert.equal(widened.status, 400, 'identifier is ours to set');
  });

  it('reads by id only fhir-risk assessments: 404 for one written by someone else', async () => {
    const [ra] = await h.assessmentsOf(patients[1]!);
    assert.ok(ra?.id);
    const ours = await call<RiskAssessment>(`${h.serviceUrl}/fhir/RiskAssessment/${ra.id}`);
    assert.equal(ours.status, 200);
    assert.equal(ours.body.id, ra.id);
    assertValid([ours.body]);

    const foreign = await call<OperationOutcome>(`${h.serviceUrl}/fhir/RiskAssessment/${foreignId}`);
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.issue[0]?.code, 'not-found');
    assert.equal((await call<OperationOutcome>(`${h.serviceUrl}/fhir/RiskAssessment/fr-does-not-exist`)).status, 404);
  });

  it('serves its CapabilityStatement', async () => {
    const reply = await call<{ resourceType: string }>(`${h.serviceUrl}/fhir/metadata`);
    assert.equal(reply.status, 200);
    assert.equal(reply.body.resourceType, 'CapabilityStatement');
  });
});

/**
 * A test double of the hospital's authorization server: it publishes a JWKS on 127.0.0.1 and
 * signs access tokens with the matching private key.
 */
interface AuthorizationServerDouble {
  jwksUrl: string;
  issuer: string;
  token(claims: Record<string, unknown>, opts?: { expiresIn?: string | number; audience?: string; key?: KeyObject }): Promise<string>;
  close(): Promise<void>;
}

async function startAuthorizationServerDouble(audience: string): Promise<AuthorizationServerDouble> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'ES256', use: 'sig' };
  const app = express();
  app.get('/jwks.json', (_req, res) => {
    res.json({ keys: [jwk] });
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${base}/issuer`;
  return {
    jwksUrl: `${base}/jwks.json`,
    issuer,
    async token(claims, opts = {}) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'test-key-1' })
        .setIssuer(issuer)
        .setAudience(opts.audience ?? audience)
        .setSubject('test-client')
        .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
        .setExpirationTime(opts.expiresIn ?? '5m')
        .sign(opts.key ?? privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('results API with SMART access tokens (API_AUTH=jwt)', () => {
  const audience = 'https://fhir-risk.test/fhir';
  let h: Harness;
  let auth: AuthorizationServerDouble;
  let mine = '';
  let theirs = '';
  let theirAssessmentId = '';

  before(async () => {
    auth = await startAuthorizationServerDouble(audience);
    h = await startHarness({ API_AUTH: 'jwt', API_JWKS_URL: auth.jwksUrl, API_ISSUER: auth.issuer, API_AUDIENCE: audience });
    mine = await h.loadVectorPatient('pce-cerner-white-female-46', 'mine');
    theirs = await h.loadVectorPatient('pce-cerner-white-male-46', 'theirs');
    const writer = await auth.token({ scope: 'system/RiskAssessment.cruds system/Patient.rs' });
    await persistAssessments(h, mine, writer);
    await persistAssessments(h, theirs, writer);
    const [theirRa] = await h.assessmentsOf(theirs);
    assert.ok(theirRa?.id);
    theirAssessmentId = theirRa.id;
  });
  after(async () => {
    await h?.stop();
    await auth?.close();
  });

  const search = () => `${h.serviceUrl}/fhir/RiskAssessment?patient=${theirs}`;

  it('no token → 401 OperationOutcome with WWW-Authenticate: Bearer', async () => {
    const reply = await call<OperationOutcome>(search());
    assert.equal(reply.status, 401);
    assert.match(reply.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.equal(reply.body.resourceType, 'OperationOutcome');
    assert.equal(reply.body.issue[0]?.code, 'login');
  });

  it('expired token → 401', async () => {
    const token = await auth.token({ scope: 'system/RiskAssessment.rs' }, { expiresIn: Math.floor(Date.now() / 1000) - 600 });
    const reply = await call<OperationOutcome>(search(), { token });
    assert.equal(reply.status, 401);
    assert.match(reply.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.match(reply.body.issue[0]?.diagnostics ?? '', /expired/);
  });

  it('token for another audience → 401; token signed by another key → 401', async () => {
    const wrongAudience = await auth.token({ scope: 'system/RiskAssessment.rs' }, { audience: 'https://other-api.test' });
    assert.equal((await call<OperationOutcome>(search(), { token: wrongAudience })).status, 401);
    const { privateKey: stranger } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await auth.token({ scope: 'system/RiskAssessment.rs' }, { key: stranger });
    assert.equal((await call<OperationOutcome>(search(), { token: forged })).status, 401);
  });

  it('no RiskAssessment scope → 403 (search, read and $risk-assess)', async () => {
    const token = await auth.token({ scope: 'system/Patient.read system/Observation.rs' });
    const reply = await call<OperationOutcome>(search(), { token });
    assert.equal(reply.status, 403);
    assert.equal(reply.body.issue[0]?.code, 'forbidden');
    assert.match(reply.headers.get('www-authenticate') ?? '', /insufficient_scope/);
    assert.equal((await call<OperationOutcome>(`${h.serviceUrl}/fhir/RiskAssessment/${theirAssessmentId}`, { token })).status, 403);
    assert.equal((await call<OperationOutcome>(`${h.serviceUrl}/fhir/Patient/${theirs}/$risk-assess`, { method: 'POST', token })).status, 403);
  });

  it("patient scope: another patient's assessments → 403; a search without patient is limited to the token's patient", async () => {
    const token = await auth.token({ scope: 'launch/patient patient/RiskAssessment.rs', patient: mine });
    assert.equal((await call<OperationOutcome>(`${h.serviceUrl}/fhir/RiskAssessment/${theirAssessmentId}`, { token })).status, 403);
    assert.equal((await call<OperationOutcome>(search(), { token })).status, 403);
    assert.equal((await call<OperationOutcome>(`${h.serviceUrl}/fhir/Patient/${theirs}/$risk-assess`, { method: 'POST', token })).status, 403);

    const unnamed = await call<Bundle>(`${h.serviceUrl}/fhir/RiskAssessment`, { token });
    assert.equal(unnamed.status, 200);
    const ras = assessmentsIn(unnamed.body);
    assert.ok(ras.length >= 1);
    assert.ok(ras.every((ra) => ra.subject.reference === `Patient/${mine}`), 'forced to the patient of the token');

    const own = await call<Bundle>(`${h.serviceUrl}/fhir/Patient/${mine}/$risk-assess`, { method: 'POST', token });
    assert.equal(own.status, 200, 'a patient may assess themselves without persisting');
    const persist = await call<OperationOutcome>(`${h.serviceUrl}/fhir/Patient/${mine}/$risk-assess?persist=true`, { method: 'POST', token });
    assert.equal(persist.status, 403, 'persisting needs a write scope');
  });

  it('good system scope → 200, in SMART v1 and v2 forms; /metadata needs no token', async () => {
    for (const scope of ['system/RiskAssessment.rs', 'system/RiskAssessment.read', 'system/*.read', 'user/RiskAssessment.*']) {
      const token = await auth.token({ scope });
      const reply = await call<Bundle>(search(), { token });
      assert.equal(reply.status, 200, scope);
      assert.deepEqual(
        assessmentsIn(reply.body).map((ra) => ra.id),
        [theirAssessmentId],
        scope,
      );
      const read = await call<RiskAssessment>(`${h.serviceUrl}/fhir/RiskAssessment/${theirAssessmentId}`, { token });
      assert.equal(read.status, 200, scope);
    }
    assert.equal((await call<{ resourceType: string }>(`${h.serviceUrl}/fhir/metadata`)).status, 200);
  });
});
