/**
 * Builds the RiskAssessment fhir-risk writes, exactly as DESIGN.md ("RiskAssessment written") and
 * the profile `fhir-profiles/StructureDefinition-fhir-risk-assessment.json` say.
 *
 * Pure: no I/O, no clock. The same inputs give the same resource, byte for byte, which is what makes
 * the write idempotent.
 */
import type { Extension, Quantity, RiskAssessment, RiskAssessmentPrediction } from 'fhir/r4.js';
import type { FeatureValue, FeatureVector } from '../features/types.ts';
import type { ManifestBand, ModelManifest } from '../models/manifest.ts';
import type { ModelPrediction } from '../models/types.ts';
import {
  MODEL_ONNX_SHA256_EXTENSION,
  MODELS_SYSTEM,
  RISK_ASSESSMENT_PROFILE,
  RISK_BAND_SYSTEM,
  RISK_INPUT_EXTENSION,
  RISK_PROBABILITY_SYSTEM,
  RISK_SCORE_EXTENSION,
  UCUM_SYSTEM,
} from './canonical.ts';
import { assessmentIdentity } from './identifier.ts';

/** Everything one RiskAssessment is made of. */
export interface BuildRiskAssessmentInput {
  readonly manifest: ModelManifest;
  /** sha256 of the ONNX file (provenance; written in the model-onnx-sha256 extension). */
  readonly onnxSha256?: string;
  readonly vector: FeatureVector;
  readonly prediction: ModelPrediction;
  /** Patient logical id (not a reference). */
  readonly patientId: string;
  /** `final`, or `preliminary` for a model in shadow mode. */
  readonly status: 'final' | 'preliminary';
  /**
   * Per-feature contribution for linear and points models, by feature name: the term in the linear
   * predictor (coefficient × transformed value) or the points the feature added. Optional: written
   * in the feature's risk-input extension when given.
   */
  readonly contributions?: Readonly<Record<string, number>>;
}

/** A RiskAssessment as fhir-risk writes it: the id and identifier are always set. */
export type BuiltRiskAssessment = RiskAssessment & { id: string };

const RISK_PROBABILITY_DISPLAY: Record<ManifestBand['riskProbability'], string> = {
  negligible: 'Negligible likelihood',
  low: 'Low likelihood',
  moderate: 'Moderate likelihood',
  high: 'High likelihood',
  certain: 'Certain',
};

/**
 * Builds the RiskAssessment for one scoring. Throws an Error when the inputs contradict each other
 * (vector of another model, band index out of range, a points model without a score): those are
 * bugs upstream, never something to write.
 */
export function buildRiskAssessment(input: BuildRiskAssessmentInput): BuiltRiskAssessment {
  const { manifest, vector, prediction, patientId } = input;
  if (vector.modelId !== manifest.id) {
    throw new Error(`feature vector is for model ${vector.modelId}, manifest is ${manifest.id}`);
  }
  const band = manifest.output.bands[prediction.bandIndex];
  if (!band) {
    throw new Error(`${manifest.id}: band index ${prediction.bandIndex} is outside the ${manifest.output.bands.length} bands`);
  }
  if (manifest.output.pointsScore && prediction.score === undefined) {
    throw new Error(`${manifest.id}: a points model produced no score`);
  }

  const basis = uniqueBasis(vector.values);
  const identity = assessmentIdentity({
    patientId,
    modelId: manifest.id,
    modelVersion: manifest.version,
    basis,
    features: vector.values,
  });

  const extension: Extension[] = vector.values.map((value) => riskInputExtension(value, input.contributions?.[value.name]));
  if (input.onnxSha256 !== undefined) extension.push({ url: MODEL_ONNX_SHA256_EXTENSION, valueString: input.onnxSha256 });

  const notes = vector.values.filter((v) => v.assumption !== undefined).map((v) => ({ text: `${v.name}: ${v.assumption}` }));

  const resource: BuiltRiskAssessment = {
    resourceType: 'RiskAssessment',
    id: identity.id,
    meta: { profile: [RISK_ASSESSMENT_PROFILE] },
    ...(extension.length > 0 ? { extension } : {}),
    identifier: [identity.identifier],
    status: input.status,
    method: { coding: [{ system: MODELS_SYSTEM, code: manifest.id, version: manifest.version, display: manifest.title }] },
    subject: { reference: `Patient/${patientId}` },
    occurrenceDateTime: vector.at,
    ...(basis.length > 0 ? { basis: basis.map((reference) => ({ reference })) } : {}),
    prediction: [buildPrediction(manifest, prediction, band, vector.at)],
    ...(notes.length > 0 ? { note: notes } : {}),
  };
  return resource;
}

function buildPrediction(manifest: ModelManifest, prediction: ModelPrediction, band: ManifestBand, at: string): RiskAssessmentPrediction {
  const result: RiskAssessmentPrediction = {};
  if (manifest.output.pointsScore && prediction.score !== undefined) {
    result.extension = [{ url: RISK_SCORE_EXTENSION, valueDecimal: prediction.score }];
  }
  result.outcome = {
    ...(manifest.outcome.coding.length > 0 ? { coding: manifest.outcome.coding.map((c) => ({ ...c })) } : {}),
    text: manifest.outcome.text,
  };
  if (prediction.probability !== undefined) result.probabilityDecimal = prediction.probability;
  result.qualitativeRisk = {
    coding: [
      { system: RISK_PROBABILITY_SYSTEM, code: band.riskProbability, display: RISK_PROBABILITY_DISPLAY[band.riskProbability] },
      { system: RISK_BAND_SYSTEM, code: band.code, display: band.display },
    ],
    text: band.display,
  };
  if (manifest.horizon) {
    result.whenPeriod = { start: at, end: addDuration(at, manifest.horizon.value, manifest.horizon.unit) };
  }
  return result;
}

/** Versioned basis references of all features, first occurrence first, without duplicates. */
function uniqueBasis(values: readonly FeatureValue[]): string[] {
  return [...new Set(values.flatMap((v) => v.basis))];
}

/** One feature as the model saw it (see StructureDefinition-risk-input.json). */
function riskInputExtension(value: FeatureValue, contribution: number | undefined): Extension {
  const parts: Extension[] = [{ url: 'name', valueString: value.name }];
  if (value.unit !== undefined) {
    const quantity: Quantity = { value: value.value, unit: value.unit, system: UCUM_SYSTEM, code: value.unit };
    parts.push({ url: 'value', valueQuantity: quantity });
  } else {
    parts.push({ url: 'value', valueDecimal: value.value });
  }
  if (contribution !== undefined) parts.push({ url: 'contribution', valueDecimal: contribution });
  if (value.assumption !== undefined) parts.push({ url: 'assumption', valueString: value.assumption });
  for (const reference of new Set(value.basis)) parts.push({ url: 'source', valueReference: { reference } });
  return { url: RISK_INPUT_EXTENSION, extension: parts };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * `at` + a horizon, as an ISO instant (UTC). Whole years and months use calendar arithmetic (10
 * years from 29 Feb lands on 1 Mar, as Date does); fractional ones fall back to mean lengths.
 */
export function addDuration(at: string, value: number, unit: 'a' | 'mo' | 'd' | 'h'): string {
  const start = new Date(at);
  if (Number.isNaN(start.getTime())) throw new Error(`not a dateTime: ${at}`);
  const end = new Date(start.getTime());
  if ((unit === 'a' || unit === 'mo') && Number.isInteger(value)) {
    end.setUTCMonth(end.getUTCMonth() + (unit === 'a' ? value * 12 : value));
  } else {
    const unitMs = { a: 365.25 * DAY_MS, mo: 30.4375 * DAY_MS, d: DAY_MS, h: HOUR_MS }[unit];
    end.setTime(start.getTime() + value * unitMs);
  }
  return end.toISOString();
}
