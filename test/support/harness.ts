/**
 * End-to-end harness: the sandbox FHIR server, fhir-risk (API + workers) on real Redis with a
 * unique queue prefix, and helpers to talk to both. Real parts only.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Bundle, RiskAssessment } from 'fhir/r4.js';
import { loadConfig } from '../../src/config.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.ts';
import { startService, type RunningService } from '../../src/service.ts';
import { patientBundleFromVector, pceVector, type PceVector } from './pce-patient.ts';

export const FHIR_JSON = { 'content-type': 'application/fhir+json' };

export interface Harness {
  sandbox: Sandbox;
  service: RunningService;
  /** http://127.0.0.1:PORT (fhir-risk) */
  serviceUrl: string;
  fhir<T>(method: string, path: string, body?: unknown): Promise<T>;
  assessmentsOf(patientId: string): Promise<RiskAssessment[]>;
  /** Polls until `predicate` holds for the patient's assessments (or fails after `timeoutMs`). */
  waitForAssessments(patientId: string, predicate: (ras: RiskAssessment[]) => boolean, timeoutMs?: number): Promise<RiskAssessment[]>;
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** Loads a patient whose PCE inputs are a published vector; returns its id. */
  loadVectorPatient(vector: PceVector | string, prefix: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const sandbox = await startSandbox({ port: 0 });
  const config = loadConfig(
    {
      FHIR_BASE_URL: sandbox.baseUrl,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      PORT: '0',
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      SCORE_DEBOUNCE_MS: '100',
      ...env,
    },
    { requireFhir: true },
  );
  const service = await startService(config, 'all');

  const fhir = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${sandbox.baseUrl}/${path}`, { method, headers: FHIR_JSON, ...(body ? { body: JSON.stringify(body) } : {}) });
    assert.ok(res.ok, `${method} ${path} → ${res.status}`);
    return (await res.json()) as T;
  };
  const assessmentsOf = async (patientId: string) => {
    const bundle = await fhir<Bundle>('GET', `RiskAssessment?subject=Patient/${patientId}&_count=100`);
    return (bundle.entry ?? []).map((e) => e.resource as RiskAssessment);
  };
  return {
    sandbox,
    service,
    serviceUrl: `http://127.0.0.1:${service.port}`,
    fhir,
    assessmentsOf,
    async waitForAssessments(patientId, predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ras = await assessmentsOf(patientId);
        if (predicate(ras)) return ras;
        assert.ok(Date.now() < deadline, `assessments of ${patientId} did not reach the expected state (have ${ras.length})`);
        await new Promise((r) => setTimeout(r, 150));
      }
    },
    async waitForIdle(timeoutMs = 30_000) {
      let streak = 0;
      const deadline = Date.now() + timeoutMs;
      while (streak < 3) {
        assert.ok(Date.now() < deadline, `pipeline did not go idle within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
        streak = (await service.pipeline.idle()) ? streak + 1 : 0;
      }
    },
    async loadVectorPatient(vector, prefix) {
      const v = typeof vector === 'string' ? pceVector(vector) : vector;
      const patientId = `${prefix}-${randomUUID().slice(0, 8)}`;
      await fhir('POST', '', patientBundleFromVector(v, patientId, new Date()));
      return patientId;
    },
    async stop() {
      await service.stop();
      await sandbox.close();
    },
  };
}
