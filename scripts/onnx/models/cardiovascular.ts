/**
 * What the two 10-year cardiovascular prevention models (`ascvd-pce`, `prevent-cvd`) report alike:
 * the outcome concept, the horizon and probability output, and the ACC/AHA risk categories.
 */
import { SNOMED } from './types.ts';
import type { ManifestInput } from './types.ts';

/**
 * SNOMED CT has no concept for "hard ASCVD event" or "total CVD event": both outcomes are coded
 * with the parent concept and described exactly in `outcome.text`.
 */
export const CARDIOVASCULAR_DISORDER = { system: SNOMED, code: '49601007', display: 'Disorder of cardiovascular system' };

/** A 10-year risk read from the graph's `probability` output (a fraction). */
export const TEN_YEAR_PROBABILITY = {
  horizon: { value: 10, unit: 'a' },
  onnx: { file: 'model.onnx', input: 'features', outputs: { probability: 'probability' } },
} satisfies Partial<ManifestInput>;

/**
 * ACC/AHA 2018 cholesterol-guideline risk categories on the 10-year probability; `prevent-cvd`
 * uses them too so the two models band alike (PREVENT-specific thresholds are not yet endorsed).
 */
export const ACC_AHA_RISK_OUTPUT = {
  bandOn: 'probability',
  pointsScore: false,
  bands: [
    { code: 'low', display: 'Low risk (<5%)', riskProbability: 'low' },
    { code: 'borderline', display: 'Borderline risk (5% to <7.5%)', riskProbability: 'moderate', min: 0.05 },
    { code: 'intermediate', display: 'Intermediate risk (7.5% to <20%)', riskProbability: 'moderate', min: 0.075 },
    { code: 'high', display: 'High risk (≥20%)', riskProbability: 'high', min: 0.2 },
  ],
} satisfies ManifestInput['output'];
