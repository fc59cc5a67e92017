/**
 * Patient record + model manifest → the model's feature vector, or the reason it does not apply.
 *
 * Order: population (deceased, sex, age, indication, exclusion), then each feature in manifest
 * (= ONNX input) order: extract → missing-data policy → valid range. A value outside its range
 * makes the model not applicable; it is never clamped.
 */
import { NotApplicableError } from '../errors.ts';
import type { FeatureSpec, ModelManifest } from '../models/manifest.ts';
import type { Extraction } from './extraction.ts';
import { checkPopulation, describeRange } from './population.ts';
import { extractFeature } from './sources.ts';
import type { FeatureValue, FeatureVector, PatientRecord } from './types.ts';
import type { ValueSetIndex } from './value-sets.ts';

/**
 * Builds the feature vector of `manifest` for `record` as of `at`.
 * @throws NotApplicableError with the reason code and plain-words diagnostics.
 */
export function featurize(manifest: ModelManifest, record: PatientRecord, at: Date, valueSets: ValueSetIndex): FeatureVector {
  checkPopulation(manifest, record, at, valueSets);
  const values = manifest.features.map((spec) => featureValue(manifest.id, spec, extractFeature(spec, record, at, valueSets)));
  return { modelId: manifest.id, at: at.toISOString(), values };
}

function featureValue(modelId: string, spec: FeatureSpec, extraction: Extraction): FeatureValue {
  const unit = spec.unit === undefined ? {} : { unit: spec.unit };
  if (extraction.kind === 'value') {
    checkRange(modelId, spec, extraction.value);
    return { name: spec.name, value: extraction.value, ...unit, basis: extraction.basis };
  }
  const policy = spec.missing;
  switch (policy.policy) {
    case 'absent-is-false':
      return { name: spec.name, value: 0, ...unit, basis: [] };
    case 'assume':
      return { name: spec.name, value: policy.value, ...unit, basis: [], assumption: policy.assumption };
    case 'not-applicable': {
      const reason = extraction.kind === 'stale' ? 'stale-input' : (extraction.reason ?? 'missing-input');
      throw new NotApplicableError(modelId, reason, extraction.detail);
    }
  }
}

function checkRange(modelId: string, spec: FeatureSpec, value: number): void {
  const { min, max } = spec.range ?? {};
  if ((min === undefined || value >= min) && (max === undefined || value <= max)) return;
  const reason = spec.source.type === 'age' ? 'age-out-of-range' : 'input-out-of-range';
  const shown = Number.isInteger(value) ? String(value) : value.toFixed(1);
  throw new NotApplicableError(modelId, reason, `${spec.name} ${shown}${spec.unit ? ` ${spec.unit}` : ''} outside ${describeRange(min, max)}`);
}
