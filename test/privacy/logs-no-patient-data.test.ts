/**
 * Privacy: fhir-risk's logs carry ids only. The service runs as a real child process
 * (`fhir-risk start`) at LOG_LEVEL=debug and ALL of its output (stderr, where pino writes, and
 * stdout) is captured while patients with distinctive names, birth dates, addresses, phone
 * numbers and Observation values go through every stage: notifications of several delivery
 * styles (full resource, id-only, signed), rejected malformed notifications that carry the data,
 * scoring, a model that does not apply, `$risk-assess`, and the withdrawal of a deleted input.
 * None of those strings, nor any resource body, may appear in the logs; the ids may.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Bundle, Observation, Patient, RiskAssessment } from 'fhir/r4.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startServiceProcess, type ServiceProcess } from '../chaos/service-process.ts';
import { azureEventGrid, backportR4, gcpPubSub, hapiDelete, hapiPut, medplum, r5, send, type NotificationRequest } from '../support/notifications.ts';
import { patientBundleFromVector, pceVector, type PceVector } from '../support/pce-patient.ts';

const SECRET = 'privacy-notify-secret-0123456789';
const BEARER = { authorization: `Bearer ${SECRET}` };
type Obs = Observation & { id: string };

interface Distinctive {
  id: string;
  family: string;
  given: string;
  line: string;
  city: string;
  postalCode: string;
  phone: string;
  values: { tc: number; hdl: number; sbp: number };
  age: number;
}

const PEOPLE: Distinctive[] = [
  { id: '', family: 'Quixotic-Wyndham', given: 'Zebulon', line: '742 Evergreen Terrace Apt 9Z', city: 'Xylopolis', postalCode: '98765-4321', phone: '+1-555-013-3742', values: { tc: 213.37, hdl: 47.11, sbp: 141.29 }, age: 55 },
  { id: '', family: 'Throckmorton', given: 'Philomena', line: '19 Quillfeather Lane', city: 'Vexbury', postalCode: 'QX7 2ZZ', phone: '+44 20 7946 0958', values: { tc: 187.63, hdl: 58.29, sbp: 128.71 }, age: 62 },
  // Too old for ascvd-pce: exercises the not-applicable path and its log line.
  { id: '', family: 'Abernathy-Kowalczyk', given: 'Octavius', line: '3 Marzipan Boulevard', city: 'Yarrowgate', postalCode: '55501', phone: '+1-555-017-9911', values: { tc: 241.59, hdl: 39.83, sbp: 152.47 }, age: 86 },
];

let sandbox: Sandbox;
let service: ServiceProcess;
let dir: string;
let serviceUrl: string;

function vectorFor(p: Distinctive): PceVector {
  const base = pceVector('pce-cvrisk-white-male-55-sbp140');
  return {
    ...base,
    inputs: {
      ...base.inputs,
      age: { value: p.age },
      totalCholesterol: { value: p.values.tc, unit: 'mg/dL' },
      hdl: { value: p.values.hdl, unit: 'mg/dL' },
      systolicBP: { value: p.values.sbp },
    },
  };
}

/** The vector patient, with a name, address and phone number nobody else has. */
function distinctiveBundle(p: Distinctive): Bundle {
  const bundle = patientBundleFromVector(vectorFor(p), p.id, new Date());
  const patient = bundle.entry![0]!.resource as Patient;
  patient.name = [{ family: p.family, given: [p.given] }];
  patient.address = [{ line: [p.line], city: p.city, postalCode: p.postalCode }];
  patient.telecom = [{ system: 'phone', value: p.phone }];
  return bundle;
}

async function fhir<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${sandbox.baseUrl}/${path}`, { method, headers: { 'content-type': 'application/fhir+json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  assert.ok(res.ok, `${method} ${path} → ${res.status}`);
  return (await res.json()) as T;
}

async function assessments(patientId: string): Promise<RiskAssessment[]> {
  const bundle = await fhir<Bundle>('GET', `RiskAssessment?subject=Patient/${patientId}`);
  return (bundle.entry ?? []).map((e) => e.resource as RiskAssessment);
}

async function waitFor(what: string, predicate: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fhir-risk-privacy-'));
  sandbox = await startSandbox({ port: 0 });
  service = await startServiceProcess({
    name: 'start',
    command: 'start',
    env: {
      FHIR_BASE_URL: sandbox.baseUrl,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: `privacy-${randomUUID().slice(0, 8)}`,
      NOTIFY_SECRET: SECRET,
      SCORE_DEBOUNCE_MS: '100',
      PORT: '0',
      LOG_LEVEL: 'debug',
    },
    logFile: join(dir, 'service.log'),
    captureStdout: true,
  });
  serviceUrl = `http://127.0.0.1:${service.port}`;
});

after(async () => {
  await service?.kill();
  await sandbox?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('logs carry ids, never patient data', () => {
  it('an end-to-end run at LOG_LEVEL=debug logs none of the names, birth dates, addresses, values or bodies', async () => {
    const birthDates: string[] = [];
    const bodies: string[] = [];
    for (const p of PEOPLE) {
      p.id = `privacy-${randomUUID().slice(0, 8)}`;
      const bundle = distinctiveBundle(p);
      birthDates.push((bundle.entry![0]!.resource as Patient).birthDate!);
      await fhir('POST', '', bundle);
    }

    let eventNumber = 0;
    for (const [i, p] of PEOPLE.entries()) {
      const tc = await fhir<Obs>('GET', `Observation/${p.id}-tc`);
      const hdl = await fhir<Obs>('GET', `Observation/${p.id}-hdl`);
      const bp = await fhir<Obs>('GET', `Observation/${p.id}-bp`);
      const patient = await fhir<Patient>('GET', `Patient/${p.id}`);
      bodies.push(JSON.stringify(tc), JSON.stringify(hdl), JSON.stringify(bp), JSON.stringify(patient));
      const notifications: [NotificationRequest, Record<string, string>][] = [
        [hapiPut(tc), BEARER],
        [backportR4(hdl, 'full-resource', ++eventNumber, `privacy-${i}`), BEARER],
        [r5(bp, 'id-only', ++eventNumber, `privacy-r5-${i}`), BEARER],
        [medplum(hdl, SECRET), {}],
        [azureEventGrid(bp, SECRET), {}],
        [gcpPubSub(tc, 'FullResource', SECRET), {}],
        // Refused ones that carry the data: a patient resource with a bad signature, a truncated body.
        [{ ...medplum(tc, SECRET), body: JSON.stringify(patient) }, {}],
        [{ ...hapiPut(tc), body: JSON.stringify(tc).slice(0, -3) }, BEARER],
        [{ ...hapiPut(tc), headers: { 'content-type': 'text/plain' } }, BEARER],
      ];
      for (const [n, headers] of notifications) {
        const res = await send(serviceUrl, n, headers);
        await res.arrayBuffer();
      }
    }
    const [scored, other, tooOld] = PEOPLE;
    await waitFor('assessments of the first two patients', async () => (await assessments(scored!.id)).length >= 1 && (await assessments(other!.id)).length >= 1);

    // $risk-assess reads and scores synchronously; its path logs too.
    const risk = await fetch(`${serviceUrl}/fhir/Patient/${tooOld!.id}/$risk-assess`, { method: 'POST' });
    assert.equal(risk.status, 200);
    await risk.arrayBuffer();

    // A deleted input withdraws the assessment (search, update, re-score).
    await fetch(`${sandbox.baseUrl}/Observation/${scored!.id}-hdl`, { method: 'DELETE' });
    const deleted = await send(serviceUrl, hapiDelete('Observation', `${scored!.id}-hdl`), BEARER);
    assert.equal(deleted.status, 200);
    await waitFor('the withdrawal', async () => (await assessments(scored!.id)).some((ra) => ra.status === 'entered-in-error'));
    await new Promise((r) => setTimeout(r, 500));
    await service.stop();

    const log = await readFile(join(dir, 'service.log'), 'utf8');
    const lines = log.split('\n').filter((l) => l.trim());
    // The capture is real: debug lines, the scoring, and the ids are all there.
    assert.ok(lines.some((l) => l.includes('"level":20')), 'debug lines were captured');
    assert.ok(log.includes('risk assessment written'), 'the scoring was logged');
    assert.ok(log.includes('model does not apply'), 'the not-applicable path was logged');
    assert.ok(log.includes('notification rejected'), 'the rejections were logged');
    assert.ok(log.includes(scored!.id), 'ids are logged');

    const forbidden: [string, string][] = [];
    for (const [i, p] of PEOPLE.entries()) {
      forbidden.push(
        ['family name', p.family],
        ['given name', p.given],
        ['address line', p.line],
        ['city', p.city],
        ['postal code', p.postalCode],
        ['phone', p.phone],
        ['birth date', birthDates[i]!],
        ['total cholesterol', String(p.values.tc)],
        ['HDL', String(p.values.hdl)],
        ['systolic BP', String(p.values.sbp)],
      );
    }
    // Fragments only a resource body has.
    for (const fragment of ['"valueQuantity"', '"birthDate"', '"effectiveDateTime"', '"component"', '"telecom"', '"coding"', 'unitsofmeasure.org']) {
      forbidden.push(['resource body fragment', fragment]);
    }
    for (const body of bodies) forbidden.push(['whole resource body', body.slice(0, 80)]);
    const leaks = forbidden.filter(([, needle]) => log.includes(needle)).map(([what, needle]) => {
      const line = lines.find((l) => l.includes(needle)) ?? '';
      return `${what} '${needle}' in: ${line.slice(0, 200)}`;
    });
    assert.deepEqual(leaks, []);
  });
});
