/**
 * Every reference notification fixture, replayed over HTTP into the running service on real
 * Redis (the ingress tests replay them into a recording sink; this proves the same on the real
 * queue): each is acknowledged as its sender expects, what must be queued is queued, and the
 * workers finish them without a failed job. The fixtures concern patients the sandbox does not
 * have; every-style.test.ts follows each style to a RiskAssessment.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.ts';

const DIR = new URL('../fixtures/notifications/', import.meta.url);

interface ManifestEntry {
  file: string | null;
  method: string;
  url: string;
  headers?: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(new URL('MANIFEST.json', DIR), 'utf8')) as { fixtures: ManifestEntry[] };

/** Senders whose captures carry no Content-Type, with the one they send on the wire. */
function contentTypeFor(entry: ManifestEntry): string | undefined {
  if (!entry.file) return undefined;
  if (entry.file.startsWith('azure-cloudevent')) return 'application/cloudevents-batch+json';
  if (entry.file.startsWith('azure') || entry.file.startsWith('gcp')) return 'application/json';
  return 'application/fhir+json';
}

let h: Harness;
before(async () => {
  // No NOTIFY_SECRET: the captures carry other deployments' credentials.
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

describe('reference fixtures through the real service and Redis', () => {
  for (const entry of manifest.fixtures) {
    it(`${entry.method} ${entry.file ?? '(no body)'} → acknowledged`, async () => {
      const path = new URL(entry.url.replace(/^\{[a-zA-Z]+\}|^\[base\]\/Subscription\/[^/]+\/\$status/, 'http://x/notify')).pathname;
      const method = entry.method === 'GET-response' ? 'POST' : entry.method;
      const body = entry.file ? readFileSync(new URL(entry.file, DIR), 'utf8') : undefined;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(entry.headers ?? {})) {
        if (!/^(authorization|accept-encoding|content-length)$/i.test(k)) headers[k.toLowerCase()] = v;
      }
      const type = contentTypeFor(entry);
      if (type && !headers['content-type']) headers['content-type'] = type;
      const res = await fetch(`${h.serviceUrl}${path}`, { method, headers, ...(body ? { body } : {}) });
      const text = await res.text();
      assert.equal(res.status, 200, `${res.status} ${text}`);
      const answer = JSON.parse(text) as { resourceType?: string; issue?: { severity: string }[]; validationResponse?: string };
      if (entry.file === 'azure-eventgrid-subscription-validation.json') {
        assert.match(answer.validationResponse ?? '', /.+/);
      } else {
        assert.equal(answer.resourceType, 'OperationOutcome');
        assert.equal(answer.issue?.[0]?.severity, 'information');
      }
    });
  }

  it('queued what needs an EHR read, and the workers finished it without a failed job', async () => {
    await h.waitForIdle();
    const counts = await h.service.pipeline.events.getJobCounts('completed', 'failed');
    assert.ok(counts.completed! > 0, 'id-only and delete notifications were queued and processed');
    assert.equal(counts.failed, 0);
  });
});
