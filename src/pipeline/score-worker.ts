/**
 * Score worker: patient → the models asked of it → one FHIR batch read → featurize → ONNX →
 * RiskAssessment per model → write what changed.
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
import type { LoadedModel, ModelRegistry } from '../models/types.ts';
import { logger } from '../observability/logger.ts';
import { countRequests } from '../fhir/request-counter.ts';
import { bandsTotal, ehrRequestsPerScoring, featureMissingTotal, notApplicableTotal, scoreDistribution, scoringsTotal, stageLatency } from '../observability/metrics.ts';
import { writeRiskAssessment } from '../writeback/write.ts';
import { assessRecord, type ModelResult } from './assess.ts';
import type { ScoreRequests } from './score-requests.ts';
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
   * The patient's score requests and the identifier last written per model (Redis). Without it
   * (tests) only the job's own `modelId` is scored and every result is written. Losing the
   * last-written identifiers only costs a rewrite of the same resource: correctness rests on the
   * deterministic id.
   */
  requests?: ScoreRequests;
  /** Called with each written assessment (tests, the demo's table). */
  onWritten?: (ra: RiskAssessment) => void;
  now?: () => Date;
}

/** Not-applicable reasons that mean "an input was unusable" (feature missingness). */
const INPUT_REASONS: ReadonlySet<string> = new Set(['missing-input', 'stale-input', 'input-out-of-range']);

export type ScoreOutcome = 'written' | 'unchanged' | 'shadow-measured' | 'not-applicable' | 'model-unavailable' | 'patient-gone';

/** What one job did, per model. */
export type PatientScoreOutcome = ReadonlyMap<string, ScoreOutcome>;

/**
 * Scores one patient with every model asked of it: one read, then each model's assessment.
 * Requests are settled (removed) only for the models that finished; if a write failed, the job
 * fails after settling the others, and its retry scores only what is left.
 */
export async function processScore(data: ScoreJobData, deps: ScoreProcessorDeps): Promise<PatientScoreOutcome> {
  const log = logger.child({ patientId: data.patientId });
  const state = deps.requests ? await deps.requests.read(data.patientId) : { requested: new Map<string, string>(), lastWritten: new Map<string, string>() };
  const outcomes = new Map<string, ScoreOutcome>();
  const models: LoadedModel[] = [];
  for (const modelId of new Set([...state.requested.keys(), ...(data.modelId ? [data.modelId] : [])])) {
    const model = deps.models.get(modelId);
    if (model) models.push(model);
    else {
      log.warn({ model: modelId }, 'model not loaded or disabled: scoring skipped');
      outcomes.set(modelId, 'model-unavailable');
    }
  }

  const written = new Map<string, string>();
  let failure: unknown;
  if (models.length > 0) {
    try {
      for (const done of await scoreModels(data, models, state.lastWritten, deps)) {
        if ('error' in done) {
          failure ??= done.error;
          continue;
        }
        outcomes.set(done.modelId, done.outcome);
        if (done.writtenIdentifier) written.set(done.modelId, done.writtenIdentifier);
      }
    } catch (err) {
      if (!(err instanceof NotFoundError)) {
        for (const m of models) scoringsTotal.inc({ model: m.manifest.id, outcome: 'failed' });
        throw err;
      }
      log.info('patient no longer exists on the EHR: nothing to score');
      for (const m of models) outcomes.set(m.manifest.id, 'patient-gone');
    }
  }
  // Every model with an outcome is done; a model whose write failed keeps its request for the retry.
  const settled = new Map([...state.requested].filter(([modelId]) => outcomes.has(modelId)));
  await deps.requests?.settle(data.patientId, settled, written);
  if (failure !== undefined) throw failure;
  return outcomes;
}

/** One model's end in a job: its outcome (and the identifier it wrote), or the error of its write. */
type ModelDone = { readonly modelId: string; readonly outcome: ScoreOutcome; readonly writtenIdentifier?: string } | { readonly modelId: string; readonly error: unknown };

/** Reads the patient once for `models`, then scores each and writes what changed. */
async function scoreModels(data: ScoreJobData, models: readonly LoadedModel[], lastWritten: ReadonlyMap<string, string>, deps: ScoreProcessorDeps): Promise<ModelDone[]> {
  const record = await gatherPatientRecord(deps.ehr, data.patientId, models.map((m) => m.manifest), deps.valueSets);
  const at = deps.now?.() ?? new Date();
  const results = await assessRecord(record, models, at, {
    valueSets: deps.valueSets,
    shadow: deps.shadow,
    ...(deps.modelTimeoutMs ? { timeoutMs: deps.modelTimeoutMs } : {}),
  });
  stageLatency.observe({ stage: 'scored' }, (Date.now() - data.receivedAt) / 1000);
  return Promise.all(
    results.map(async (result): Promise<ModelDone> => {
      const modelId = result.model.manifest.id;
      try {
        return { modelId, ...(await finishModel(data, result, lastWritten.get(modelId), deps)) };
      } catch (error) {
        scoringsTotal.inc({ model: modelId, outcome: 'failed' });
        return { modelId, error };
      }
    }),
  );
}

/** One model's result: count it, and write it unless it is not applicable, measure-only or unchanged. */
async function finishModel(
  data: ScoreJobData,
  result: ModelResult,
  lastIdentifier: string | undefined,
  deps: ScoreProcessorDeps,
): Promise<{ outcome: ScoreOutcome; writtenIdentifier?: string }> {
  const modelId = result.model.manifest.id;
  const log = logger.child({ patientId: data.patientId, model: modelId });
  if ('notApplicable' in result) {
    notApplicableTotal.inc({ model: modelId, reason: result.notApplicable.reason });
    if (INPUT_REASONS.has(result.notApplicable.reason)) featureMissingTotal.inc({ model: modelId, reason: result.notApplicable.reason });
    scoringsTotal.inc({ model: modelId, outcome: 'not-applicable' });
    log.info({ reason: result.notApplicable.reason }, 'model does not apply');
    return { outcome: 'not-applicable' };
  }

  if (deps.measureOnly?.has(modelId)) {
    scoringsTotal.inc({ model: modelId, outcome: 'shadow-measured' });
    const p = result.assessment.prediction?.[0];
    bandsTotal.inc({ model: modelId, band: p?.qualitativeRisk?.coding?.[1]?.code ?? 'unknown' });
    log.info('shadow model (measure only): scored, not written');
    return { outcome: 'shadow-measured' };
  }
  const identifier = result.assessment.identifier?.[0]?.value ?? '';
  if (identifier && lastIdentifier === identifier) {
    scoringsTotal.inc({ model: modelId, outcome: 'unchanged' });
    log.debug('same inputs as the assessment already written: nothing to write');
    return { outcome: 'unchanged' };
  }
  const written = await writeRiskAssessment(deps.results, result.assessment, { mode: deps.writeMode });
  stageLatency.observe({ stage: 'written' }, (Date.now() - data.receivedAt) / 1000);
  scoringsTotal.inc({ model: modelId, outcome: 'written' });
  const prediction = result.assessment.prediction?.[0];
  const band = prediction?.qualitativeRisk?.coding?.[1]?.code ?? 'unknown';
  bandsTotal.inc({ model: modelId, band });
  const value = prediction?.probabilityDecimal ?? prediction?.extension?.[0]?.valueDecimal;
  if (value !== undefined) scoreDistribution.observe({ model: modelId }, value);
  log.info({ assessment: `RiskAssessment/${written.id}`, created: written.created, band }, 'risk assessment written');
  deps.onWritten?.(result.assessment);
  return { outcome: 'written', ...(identifier ? { writtenIdentifier: identifier } : {}) };
}

export function scoreProcessor(deps: ScoreProcessorDeps) {
  return async (job: Job<ScoreJobData>): Promise<Record<string, ScoreOutcome>> => {
    try {
      const { result, requests } = await countRequests(() => processScore(job.data, deps));
      const scored = [...result.values()].filter((o) => o === 'written' || o === 'unchanged').length;
      // One read serves every model of the job: the requests per scoring are shared among them.
      if (scored > 0) ehrRequestsPerScoring.observe(requests / scored);
      return Object.fromEntries(result);
    } catch (err) {
      // Input that can never succeed goes straight to the dead-letter set instead of retrying for hours.
      if (err instanceof InvalidInputError) throw new UnrecoverableError(err.message);
      throw err;
    }
  };
}
