/**
 * The parts the illustrative 30-day readmission examples share: four features sourced from FHIR
 * (age, systolic BP, HbA1c, diabetes), triggers, population, outcome and bands.
 *
 * None of this is clinical: the coefficients and trees are made up to look like what a fitted model
 * holds, so that the worked example in models/README.md has real files behind it.
 */
import type { ManifestInput } from '../models/types.ts';
import { LOINC, valueSet } from '../models/types.ts';

type FeatureInput = ManifestInput['features'][number];

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
export function readmissionFeatures(hba1cMissing: FeatureInput['missing']): FeatureInput[] {
  return [
    {
      name: 'age',
      description: 'Age in completed years at the assessment time.',
      source: { type: 'age' },
      unit: 'a',
      range: { min: 18, max: 100 },
    },
    {
      name: 'systolicBP',
      description: 'Most recent systolic blood pressure (8480-6, alone or inside a BP panel).',
      source: {
        type: 'observation',
        codes: { valueSets: [valueSet('systolic-bp')] },
        component: { codes: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] },
      },
      select: 'latest',
      lookback: 'P1Y',
      unit: 'mm[Hg]',
      range: { min: 60, max: 250 },
    },
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
    {
      name: 'diabetes',
      description: 'Active diabetes mellitus on the problem list (1/0).',
      source: { type: 'condition', codes: { valueSets: [valueSet('diabetes')] } },
      select: 'exists',
      missing: { policy: 'absent-is-false' },
    },
  ];
}

/** The manifest fields every readmission example shares; each adds id, title, onnx and features. */
export const readmissionManifestBase = {
  population: {
    description: 'Adults (18–100 years) at discharge from an inpatient stay. Illustrative only.',
    ageMin: 18,
    ageMax: 100,
  },
  outcome: { text: 'Unplanned readmission within 30 days of discharge (illustrative)', coding: [] },
  horizon: { value: 30, unit: 'd' },
  triggers: {
    codes: [
      { system: LOINC, code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood' },
      { system: LOINC, code: '17856-6', display: 'Hemoglobin A1c/Hemoglobin.total in Blood by HPLC' },
      { system: LOINC, code: '85354-9', display: 'Blood pressure panel' },
      { system: LOINC, code: '55284-4', display: 'Blood pressure systolic and diastolic' },
      { system: LOINC, code: '8480-6', display: 'Systolic blood pressure' },
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

/** Rows spanning the feature ranges, used as manifest examples. */
export const readmissionCases = [
  { name: 'younger, normal BP and HbA1c, no diabetes', inputs: { age: 48, systolicBP: 122, hba1c: 5.4, diabetes: 0 } },
  { name: 'older, raised BP, diabetes with HbA1c 7.8%', inputs: { age: 71, systolicBP: 146, hba1c: 7.8, diabetes: 1 } },
  { name: 'very old, high BP, poorly controlled diabetes', inputs: { age: 86, systolicBP: 172, hba1c: 9.6, diabetes: 1 } },
] as const;
