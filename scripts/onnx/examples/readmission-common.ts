/**
 * The parts the illustrative 30-day readmission examples share: four features sourced from FHIR
 * (age, systolic BP, HbA1c, diabetes), triggers, population, outcome and bands.
 *
 * None of this is clinical: the coefficients and trees are made up to look like what a fitted model
 * holds, so that the worked example in models/README.md has real files behind it.
 */
import * as feature from '../models/common-features.ts';
import type { FeatureInput } from '../models/common-features.ts';
import type { ManifestInput } from '../models/types.ts';
import { LOINC, valueSet } from '../models/types.ts';
import type { ExportOptions } from './sklearn-export.ts';
import type { ExampleDefinition } from './types.ts';

/** Column order of `float_input` in every readmission example. */
export const READMISSION_FEATURES = ['age', 'systolicBP', 'hba1c', 'diabetes'] as const;

/** Banner repeated in titles, intended use and cards. */
export const NOT_CLINICAL = 'Example, not for clinical use';

const HBA1C_CODES = [
  { system: LOINC, code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood' },
  { system: LOINC, code: '17856-6', display: 'Hemoglobin A1c/Hemoglobin.total in Blood by HPLC' },
];

/**
 * The four features, in `READMISSION_FEATURES` order. `hba1cMissing` shows the two ways to treat a
 * missing lab: the model does not apply, or a stated assumption goes into the RiskAssessment note.
 */
function readmissionFeatures(hba1cMissing: FeatureInput['missing']): FeatureInput[] {
  return [
    feature.age({ min: 18, max: 100 }),
    feature.systolicBP('P1Y', { min: 60, max: 250 }),
    {
      name: 'hba1c',
      description: 'Most recent HbA1c in percent (NGSP).',
      source: { type: 'observation', codes: { codes: HBA1C_CODES } },
      select: 'latest',
      lookback: 'P1Y',
      unit: '%',
      range: { min: 3, max: 20 },
      missing: hba1cMissing,
    },
    feature.diabetes(),
  ];
}

/** The manifest fields every readmission example shares. */
const readmissionManifestBase = {
  population: {
    description: 'Adults (18–100 years) at discharge from an inpatient stay. Illustrative only.',
    ageMin: 18,
    ageMax: 100,
  },
  outcome: { text: 'Unplanned readmission within 30 days of discharge (illustrative)', coding: [] },
  horizon: { value: 30, unit: 'd' },
  triggers: {
    codes: [
      ...HBA1C_CODES,
      feature.LOINC_CODINGS.bloodPressurePanel,
      feature.LOINC_CODINGS.bloodPressureSystolicDiastolic,
      feature.LOINC_CODINGS.systolicBP,
    ],
    valueSets: [valueSet('diabetes')],
  },
  output: {
    bandOn: 'probability',
    pointsScore: false,
    bands: [
      { code: 'low', display: 'Low (<10%)', riskProbability: 'low' },
      { code: 'moderate', display: 'Moderate (10% to <25%)', riskProbability: 'moderate', min: 0.1 },
      { code: 'high', display: 'High (≥25%)', riskProbability: 'high', min: 0.25 },
    ],
  },
  references: [
    {
      citation: 'Illustrative example for the fhir-risk bring-your-own-model guide (models/README.md); made-up parameters, no source data.',
    },
  ],
} satisfies Partial<ManifestInput>;

/** What tells one readmission example's manifest apart from the others. */
export interface ReadmissionManifestOptions {
  id: string;
  /** The title; the not-for-clinical-use banner is appended. */
  title: string;
  /** What the example demonstrates; the banner is prepended. */
  intendedUse: string;
  /** Name of the ONNX output holding the class probabilities. */
  probabilityOutput: string;
  /** How a missing HbA1c is treated (see `readmissionFeatures`). */
  hba1cMissing: FeatureInput['missing'];
}

/** A readmission example's manifest: the shared parts, the banner, and what is its own. */
export function readmissionManifest(options: ReadmissionManifestOptions): ExampleDefinition['manifest'] {
  return {
    id: options.id,
    version: '0.1.0-example',
    title: `${options.title} (${NOT_CLINICAL})`,
    intendedUse: `${NOT_CLINICAL}. ${options.intendedUse}`,
    ...readmissionManifestBase,
    onnx: { file: 'model.onnx', input: 'float_input', outputs: { probability: options.probabilityOutput } },
    features: readmissionFeatures(options.hba1cMissing),
  };
}

/**
 * skl2onnx export options of a readmission example: its four columns, `ONNX(<estimator>)` as the
 * graph name (what skl2onnx's `to_onnx` writes) and a doc string that starts with the banner.
 */
export function readmissionExport(estimator: string, zipmap: boolean, howExported: string): ExportOptions {
  return {
    featureCount: READMISSION_FEATURES.length,
    zipmap,
    name: `ONNX(${estimator})`,
    docString: `${NOT_CLINICAL}. ${estimator} as skl2onnx exports it ${howExported}`,
  };
}

/** Rows spanning the feature ranges, used as manifest examples. */
export const readmissionCases = [
  { name: 'younger, normal BP and HbA1c, no diabetes', inputs: { age: 48, systolicBP: 122, hba1c: 5.4, diabetes: 0 } },
  { name: 'older, raised BP, diabetes with HbA1c 7.8%', inputs: { age: 71, systolicBP: 146, hba1c: 7.8, diabetes: 1 } },
  { name: 'very old, high BP, poorly controlled diabetes', inputs: { age: 86, systolicBP: 172, hba1c: 9.6, diabetes: 1 } },
] as const;
