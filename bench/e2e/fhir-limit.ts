/**
 * The physical limit of benchmark 2: how many scorings per second the sandbox itself could serve
 * if the pipeline took no time at all, measured alone, with as many requests in flight as the
 * service has score-worker slots.
 *
 * It replays exactly the requests the pipeline sends per patient: one FHIR batch read for every
 * model the patient's events triggered (the Bundle `buildPatientQuery` builds for those models),
 * then one RiskAssessment PUT per model that applies. Such a cycle yields one scoring per
 * triggered model, so the limit in scorings/s is cycles/s × triggered models. (Before scoring
 * became per patient, one scoring was one read + one PUT; the limit follows the requests the
 * pipeline really needs, so a cheaper request pattern never inflates the ratio.)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bundle, RiskAssessment } from 'fhir/r4.js';
import { BUNDLED_MODELS_DIR, BUNDLED_PROFILES_DIR } from '../../src/config.ts';
import { buildPatientQuery } from '../../src/features/gather.ts';
import { loadValueSets } from '../../src/features/value-sets.ts';
import { modelManifestSchema, type ModelManifest } from '../../src/models/manifest.ts';

const FHIR_JSON = { 'content-type': 'application/fhir+json' };

export interface FhirLimit {
  /** Scorings per second the sandbox's request capacity allows (cycles/s × triggered models). */
  readonly scoringsPerSecond: number;
  /** Patient cycles (one batch read + one PUT per applicable model) per second. */
  readonly cyclesPerSecond: number;
  readonly cycles: number;
  readonly seconds: number;
}

async function send(url: string, method: 'POST' | 'PUT', body: unknown): Promise<void> {
  const res = await fetch(url, { method, headers: FHIR_JSON, body: JSON.stringify(body) });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status}`);
}

async function manifest(modelId: string): Promise<ModelManifest> {
  return modelManifestSchema.parse(JSON.parse(await readFile(join(BUNDLED_MODELS_DIR, modelId, 'model.json'), 'utf8')));
}

/**
 * Hammers the sandbox for `seconds` with `concurrency` loops of one patient cycle each: the batch
 * read of `triggeredModels` for the next patient, then a PUT of each template (re-addressed to
 * that patient, under a fresh id so every PUT is a create, as a first assessment is).
 */
export async function measureFhirLimit(opts: {
  baseUrl: string;
  patientIds: readonly string[];
  triggeredModels: readonly string[];
  /** One written assessment per applicable model, used as the PUT bodies. */
  templates: readonly RiskAssessment[];
  concurrency: number;
  seconds: number;
}): Promise<FhirLimit> {
  const manifests = await Promise.all(opts.triggeredModels.map(manifest));
  const valueSets = await loadValueSets(join(BUNDLED_PROFILES_DIR, 'valuesets'));
  const queries = new Map<string, Bundle>();
  let next = 0;
  let cycles = 0;
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const n = next++;
      const patientId = opts.patientIds[n % opts.patientIds.length] as string;
      let query = queries.get(patientId);
      if (!query) {
        query = buildPatientQuery(patientId, manifests, valueSets);
        queries.set(patientId, query);
      }
      await send(opts.baseUrl, 'POST', query);
      // The pipeline writes a patient's assessments concurrently, as here.
      await Promise.all(
        opts.templates.map((template, i) => {
          const id = `limit-${n}-${i}`;
          return send(`${opts.baseUrl}/RiskAssessment/${id}`, 'PUT', { ...template, id, subject: { reference: `Patient/${patientId}` }, meta: { profile: template.meta?.profile } });
        }),
      );
      cycles += 1;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  return { scoringsPerSecond: (cycles * opts.triggeredModels.length) / seconds, cyclesPerSecond: cycles / seconds, cycles, seconds };
}
