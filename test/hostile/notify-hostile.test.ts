/**
 * Hostile input against the real /notify endpoint (in-process app, real Redis, the sandbox as
 * the EHR): more than 1,000 generated malformed or hostile notifications. Each must get a 4xx
 * OperationOutcome and enqueue nothing; the process stays up; and no request ever leaves for a
 * host other than FHIR_BASE_URL: every foreign fullUrl and reference points at a catch-all
 * server on 127.0.0.2 that must see zero requests, while a well-formed notification naming that
 * host is still resolved against FHIR_BASE_URL and scored.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Observation, OperationOutcome } from 'fhir/r4.js';
import { startHarness, type Harness } from '../support/harness.ts';
import { backportR4, gcpPubSub, hapiPut, FOREIGN_BASE, send } from '../support/notifications.ts';
import { pceVector } from '../support/pce-patient.ts';
import { hostileCorpus, type HostileCase } from './corpus.ts';

const SECRET = 'hostile-notify-secret-0123456789';
const BODY_LIMIT = 64 * 1024;
const BEARER = { authorization: `Bearer ${SECRET}` };
type Obs = Observation & { id: string };

let h: Harness;
let catchAll: Server;
let foreignBase: string;
const foreignRequests: string[] = [];

/** Counts of every job state in both queues (anything enqueued shows up in one of them). */
async function jobTotals(): Promise<number> {
  const counts = await Promise.all([h.service.pipeline.events.getJobCounts(), h.service.pipeline.scores.getJobCounts()]);
  return counts.reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
}

/** Sends a case byte for byte with node:http (fetch would normalise `..` in the path). */
function sendRaw(c: HostileCase): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const body = typeof c.body === 'string' ? Buffer.from(c.body) : c.body;
    const req = httpRequest(
      `${h.serviceUrl}${c.path}`,
      { method: c.method, headers: { ...c.headers, 'content-length': String(body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    // A server that answers 413 early may close while we still write: that is an answer, not a failure.
    req.on('error', reject);
    req.end(body);
  });
}

async function inParallel<T, R>(items: readonly T[], lanes: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      for (let i = next++; i < items.length; i = next++) results[i] = await run(items[i]!);
    }),
  );
  return results;
}

before(async () => {
  catchAll = createServer((req, res) => {
    foreignRequests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/fhir+json' }).end('{"resourceType":"Patient","id":"evil"}');
  });
  await new Promise<void>((resolve, reject) => {
    catchAll.once('error', reject);
    catchAll.listen(0, '127.0.0.2', resolve);
  });
  foreignBase = `http://127.0.0.2:${(catchAll.address() as AddressInfo).port}/fhir`;
  h = await startHarness({ NOTIFY_SECRET: SECRET, NOTIFY_BODY_LIMIT: String(BODY_LIMIT) });
});

after(async () => {
  await h?.stop();
  await new Promise((r) => catchAll?.close(r));
});

describe('hostile notifications', () => {
  it('refuses every one of 1,000+ malformed or hostile notifications with a 4xx OperationOutcome and enqueues nothing', async () => {
    const patientId = await h.loadVectorPatient(pceVector('pce-cvrisk-white-male-55-sbp140'), 'hostile');
    const observation = await h.fhir<Obs>('GET', `Observation/${patientId}-tc`);
    const corpus = hostileCorpus({ secret: SECRET, observation, foreignBase, bodyLimit: BODY_LIMIT });
    assert.ok(corpus.length >= 1000, `corpus has ${corpus.length} cases`);

    await h.waitForIdle();
    const before = await jobTotals();
    const answers = await inParallel(corpus, 16, sendRaw);
    const wrong: string[] = [];
    for (const [i, c] of corpus.entries()) {
      const a = answers[i]!;
      const statusOk = c.expect === '4xx' ? a.status >= 400 && a.status < 500 : a.status === c.expect;
      let outcomeOk = false;
      try {
        const oo = JSON.parse(a.body) as OperationOutcome;
        outcomeOk = oo.resourceType === 'OperationOutcome' && oo.issue?.[0]?.severity === 'error' && a.contentType.startsWith('application/fhir+json');
      } catch {
        outcomeOk = false;
      }
      if (!statusOk || !outcomeOk) wrong.push(`${c.name} → ${a.status} ${a.body.slice(0, 120)}`);
    }
    // HOSTILE_DEBUG=1 lists every case that was not refused properly, not only the first 15.
    if (process.env.HOSTILE_DEBUG) for (const w of wrong) process.stderr.write(`${w.slice(0, 200)}\n`);
    assert.deepEqual(wrong.slice(0, 15), [], `${wrong.length} of ${corpus.length} cases were not refused properly`);

    // Sweeps run in the background: give one a moment to enqueue before counting again.
    await new Promise((r) => setTimeout(r, 500));
    await h.waitForIdle();
    assert.equal(await jobTotals(), before, 'a refused notification enqueued a job (or started a sweep)');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
    for (const key of ['resourceType', 'id', 'entry', 'message', 'data']) assert.ok(!(key in {}), `Object.prototype gained "${key}"`);
  });

  it('stays up and keeps accepting well-formed notifications afterwards', async () => {
    const health = await fetch(`${h.serviceUrl}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${h.serviceUrl}/readyz`);
    assert.equal(ready.status, 200);
  });

  it('resolves a well-formed notification naming another host against FHIR_BASE_URL and scores it', async () => {
    const repoint = (body: string) => body.split(FOREIGN_BASE).join(foreignBase);
    for (const style of ['backport id-only', 'hapi absolute subject', 'pub/sub with __proto__ keys'] as const) {
      const patientId = await h.loadVectorPatient(pceVector('pce-cvrisk-white-male-55-sbp140'), 'foreign');
      const tc = await h.fhir<Obs>('GET', `Observation/${patientId}-tc`);
      let res: Response;
      if (style === 'backport id-only') {
        const n = backportR4(tc, 'id-only', 1, `foreign-${patientId}`);
        res = await send(h.serviceUrl, { ...n, body: repoint(n.body) }, BEARER);
      } else if (style === 'hapi absolute subject') {
        res = await send(h.serviceUrl, hapiPut({ ...tc, subject: { reference: `${foreignBase}/Patient/${patientId}` } }), BEARER);
      } else {
        const n = gcpPubSub(tc, 'FullResource', SECRET);
        const envelope = JSON.parse(n.body) as { message: { data: string } };
        const resource = Buffer.from(envelope.message.data, 'base64').toString('utf8');
        envelope.message.data = Buffer.from(resource.replace('{', '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},')).toString('base64');
        res = await send(h.serviceUrl, { ...n, body: JSON.stringify(envelope).replace('{', '{"__proto__":{"polluted":true},') });
      }
      assert.equal(res.status, 200, `${style}: ${await res.clone().text()}`);
      const ras = await h.waitForAssessments(patientId, (r) => r.length >= 1);
      assert.equal(ras[0]!.subject?.reference, `Patient/${patientId}`, style);
    }
    await h.waitForIdle();
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('never sent a request to a host other than FHIR_BASE_URL', () => {
    assert.deepEqual(foreignRequests, []);
  });
});
