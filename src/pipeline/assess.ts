/**
 * Scoring one patient record with a set of models: featurize → ONNX → RiskAssessment → validate.
 *
 * Shared by the score worker, `fhir-risk assess` and `$risk-assess`, so the three can never
 * disagree. Pure with respect to the EHR: reading and writing happen around it.
 */
import type { RiskAssessment } from 'fhir/r4.js';
import { NotApplicableError, RetryableError } from '../errors.ts';
import { featurize } from '../features/featurize.ts';
import type { FeatureVector, PatientRecord } from '../features/types.ts';
import type { ValueSetIndex } from '../features/value-sets.ts';
import type { LoadedModel } from '../models/types.ts';
import { inferenceSeconds } from '../observability/metrics.ts';
import { buildRiskAssessment } from '../writeback/build.ts';
import { validateRiskAssessment } from '../writeback/validate.ts';

export interface AssessOptions {
  valueSets: ValueSetIndex;
  /** Model ids in shadow mode: their assessments are `preliminary`. */
  shadow?: ReadonlySet<string>;
  /** Longest one inference may take (default 5 s). */
  timeoutMs?: number;
}

/** Runs one row through the model, timed (metric) and bounded (a hung session fails the job). */
async function predictOne(model: LoadedModel, row: number[], timeoutMs: number) {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const [prediction] = await Promise.race([
      model.predict([row]),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RetryableError(`${model.manifest.id}: inference took longer than ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return prediction;
  } finally {
    clearTimeout(timer);
    inferenceSeconds.observe({ model: model.manifest.id }, (performance.now() - started) / 1000);
  }
}

export type ModelResult =
  | { readonly model: LoadedModel; readonly assessment: RiskAssessment; readonly vector: FeatureVector }
  | { readonly model: LoadedModel; readonly notApplicable: NotApplicableError };

export async function assessRecord(
  record: PatientRecord,
  models: readonly LoadedModel[],
  at: Date,
  options: AssessOptions,
): Promise<ModelResult[]> {
  const patientId = record.patient.id;
  if (!patientId) throw new Error('patient record without Patient.id');
  return Promise.all(
    models.map(async (model): Promise<ModelResult> => {
      let vector: FeatureVector;
      try {
        vector = featurize(model.manifest, record, at, options.valueSets);
      } catch (err) {
        if (err instanceof NotApplicableError) return { model, notApplicable: err };
        throw err;
      }
      const prediction = await predictOne(model, vector.values.map((v) => v.value), options.timeoutMs ?? 5000);
      if (!prediction) throw new Error(`${model.manifest.id}: the model returned no prediction`);
      const assessment = buildRiskAssessment({
        manifest: model.manifest,
        onnxSha256: model.onnxSha256,
        vector,
        prediction,
        patientId,
        status: options.shadow?.has(model.manifest.id) ? 'preliminary' : 'final',
      });
      // A RiskAssessment that fails its own profile is a bug: fail loudly, never write it.
      validateRiskAssessment(assessment);
      return { model, assessment, vector };
    }),
  );
}
