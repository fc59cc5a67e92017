/**
 * The physical limit of benchmark 2: how many (batch read + RiskAssessment PUT) pairs per second
 * the sandbox itself serves, measured alone, with as many requests in flight as the service has
 * score-worker slots. One scoring needs exactly this pair (the read `buildPatientQuery` builds,
 * then one PUT), so no pipeline can score faster than this against the same server.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bundle, RiskAssessment } from 'fhir/r4.js';
import { BUNDLED_MODELS_DIR, BUNDLED_PROFILES_DIR } from '../../src/config.ts';
import { buildPatientQuery } from '../../src/features/gather.ts';
import { loadValueSets } from '../../src/features/value-sets.ts';
import { modelManifestSchema } from '../../src/models/manifest.ts';

const FHIR_JSON = { 'content-type': 'application/fhir+json' };

export interface FhirLimit {
  /** Pairs (one batch read + one PUT) completed per second. */
  readonly pairsPerSecond: number;
  readonly pairs: number;
  readonly seconds: number;
}

async function send(url: string, method: 'POST' | 'PUT', body: unknown): Promise<void> {
  const res = await fetch(url, { method, headers: FHIR_JSON, body: JSON.stringify(body) });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status}`);
}

/**
 * Hammers the sandbox for `seconds` with `concurrency` loops of: the batch read of model
 * `modelId` for the next patient, then a PUT of `template` (re-addressed to that patient, under a
 * fresh id so every PUT is a create, as the pipeline's first write of an assessment is).
 */
export async function measureFhirLimit(opts: {
  baseUrl: string;
  patientIds: readonly string[];
  template: RiskAssessment;
  modelId: string;
  concurrency: number;
  seconds: number;
}): Promise<FhirLimit> {
  const manifest = modelManifestSchema.parse(JSON.parse(await readFile(join(BUNDLED_MODELS_DIR, opts.modelId, 'model.json'), 'utf8')));
  const valueSets = await loadValueSets(join(BUNDLED_PROFILES_DIR, 'valuesets'));
  const queries = new Map<string, Bundle>();
  let next = 0;
  let pairs = 0;
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const n = next++;
      const patientId = opts.patientIds[n % opts.patientIds.length] as string;
      let query = queries.get(patientId);
      if (!query) {
        query = buildPatientQuery(patientId, [manifest], valueSets);
        queries.set(patientId, query);
      }
      await send(opts.baseUrl, 'POST', query);
      const id = `limit-${n}`;
      await send(`${opts.baseUrl}/RiskAssessment/${id}`, 'PUT', { ...opts.template, id, subject: { reference: `Patient/${patientId}` }, meta: { profile: opts.template.meta?.profile } });
      pairs += 1;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  return { pairsPerSecond: pairs / seconds, pairs, seconds };
}
