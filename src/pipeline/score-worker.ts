/**
 * Score worker: (patient, model) → one FHIR batch read → featurize → ONNX → RiskAssessment → write.
 *
 * Idempotent: the assessment's id and identifier are derived from the patient, the model
 * version, the exact input versions and the feature values, so a retried or duplicated job
 * writes the same resource again rather than a second one.
 */
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import type { RiskAssessment } from 'fhir/r4.js';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { gatherPatientRecord } from '../features/gather.ts';
import type { ValueSetIndex } from '../features/value-sets.ts';
import type { EhrClient } from '../fhir/client-types.ts';
import type { ModelRegistry } from '../models/types.ts';
import { logger } from '../observability/logger.ts';
import { countRequests } from '../fhir/request-counter.ts';
import { bandsTotal, ehrRequestsPerScoring, featureMissingTotal, notApplicableTotal, scoreDistribution, scoringsTotal, stageLatency } from '../observability/metrics.ts';
import { writeRiskAssessment } from '../writeback/write.ts';
import { assessRecord } from './assess.ts';
import type { ScoreJobData } from './jobs.ts';

export interface ScoreProcessorDeps {
  ehr: EhrClient;
  results: EhrClient;
  models: ModelRegistry;
  valueSets: ValueSetIndex;
  shadow: ReadonlySet<string>;
  /** Shadow models that are only measured: scored and counted, never written. */
  measureOnly?: ReadonlySet<string>;
  modelTimeoutMs?: number;
  writeMode: 'put' | 'conditional-create';
  /**
   * Remembers the identifier last written per (patient, model), so a re-scoring whose inputs did
   * not change writes nothing (no new resource, no new version). Losing it only costs a rewrite
   * of the same resource: correctness rests on the deterministic id.
   */
  lastWritten?: LastWrittenStore;
  /** Called with each written assessment (tests, the demo's table). */
  onWritten?: (ra: RiskAssessment) => void;
  now?: () => Date;
}

/** Not-applicable reasons that mean "an input was unusable" (feature missingness). */
const INPUT_REASONS: ReadonlySet<string> = new Set(['missing-input', 'stale-input', 'input-out-of-range']);

export type ScoreOutcome = 'written' | 'unchanged' | 'shadow-measured' | 'not-applicable' | 'model-unavailable' | 'patient-gone';

export interface LastWrittenStore {
  get(patientId: string, modelId: string): Promise<string | undefined>;
  set(patientId: string, modelId: string, identifier: string): Promise<void>;
}

export async function processScore(data: ScoreJobData, deps: ScoreProcessorDeps): Promise<ScoreOutcome> {
  const log = logger.child({ patientId: data.patientId, model: data.modelId });
  const model = deps.models.get(data.modelId);
  if (!model) {
    log.warn('model not loaded or disabled: scoring skipped');
    return 'model-unavailable';
  }
  let record;
  try {
    record = await gatherPatientRecord(deps.ehr, data.patientId, [model.manifest], deps.valueSets);
  } catch (err) {
    if (err instanceof NotFoundError) {
      log.info('patient no longer exists on the EHR: nothing to score');
      return 'patient-gone';
    }
    throw err;
  }
  const at = deps.now?.() ?? new Date();
  const [result] = await assessRecord(record, [model], at, {
    valueSets: deps.valueSets,
    shadow: deps.shadow,
    ...(deps.modelTimeoutMs ? { timeoutMs: deps.modelTimeoutMs } : {}),
  });
  if (!result) throw new Error('assessRecord returned no result');
  stageLatency.observe({ stage: 'scored' }, (Date.now() - data.receivedAt) / 1000);

  if ('notApplicable' in result) {
    notApplicableTotal.inc({ model: data.modelId, reason: result.notApplicable.reason });
    if (INPUT_REASONS.has(result.notApplicable.reason)) featureMissingTotal.inc({ model: data.modelId, reason: result.notApplicable.reason });
    scoringsTotal.inc({ model: data.modelId, outcome: 'not-applicable' });
    log.info({ reason: result.notApplicable.reason }, 'model does not apply');
    return 'not-applicable';
  }

  if (deps.measureOnly?.has(data.modelId)) {
    scoringsTotal.inc({ model: data.modelId, outcome: 'shadow-measured' });
    const p = result.assessment.prediction?.[0];
    bandsTotal.inc({ model: data.modelId, band: p?.qualitativeRisk?.coding?.[1]?.code ?? 'unknown' });
    log.info('shadow model (measure only): scored, not written');
    return 'shadow-measured';
  }
  const identifier = result.assessment.identifier?.[0]?.value ?? '';
  if (identifier && (await deps.lastWritten?.get(data.patientId, data.modelId)) === identifier) {
    scoringsTotal.inc({ model: data.modelId, outcome: 'unchanged' });
    log.debug('same inputs as the assessment already written: nothing to write');
    return 'unchanged';
  }
  const written = await writeRiskAssessment(deps.results, result.assessment, { mode: deps.writeMode });
  if (identifier) await deps.lastWritten?.set(data.patientId, data.modelId, identifier);
  stageLatency.observe({ stage: 'written' }, (Date.now() - data.receivedAt) / 1000);
  scoringsTotal.inc({ model: data.modelId, outcome: 'written' });
  const prediction = result.assessment.prediction?.[0];
  const band = prediction?.qualitativeRisk?.coding?.[1]?.code ?? 'unknown';
  bandsTotal.inc({ model: data.modelId, band });
  const value = prediction?.probabilityDecimal ?? prediction?.extension?.[0]?.valueDecimal;
  if (value !== undefined) scoreDistribution.observe({ model: data.modelId }, value);
  log.info({ assessment: `RiskAssessment/${written.id}`, created: written.created, band }, 'risk assessment written');
  deps.onWritten?.(result.assessment);
  return 'written';
}

export function scoreProcessor(deps: ScoreProcessorDeps) {
  return async (job: Job<ScoreJobData>): Promise<ScoreOutcome> => {
    try {
      const { result, requests } = await countRequests(() => processScore(job.data, deps));
      if (result === 'written' || result === 'unchanged') ehrRequestsPerScoring.observe(requests);
      return result;
    } catch (err) {
      // Input that can never succeed goes straight to the dead-letter set instead of retrying for hours.
      if (err instanceof InvalidInputError) throw new UnrecoverableError(err.message);
      scoringsTotal.inc({ model: job.data.modelId, outcome: 'failed' });
      throw err;
    }
  };
}
