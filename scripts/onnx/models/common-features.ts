/**
 * Feature specs that several model manifests read the same way (age, sex, lipids, blood pressure,
 * smoking, diabetes, treatment, vital signs), and the LOINC codings their triggers repeat.
 *
 * One builder per feature keeps the FHIR source, unit, select and missing-data policy identical in
 * every model that uses it; a model passes only what it validates differently: the look-back and
 * the valid range (and, where its text names points, its own description). Builders are named
 * after the feature they make, so import the module as a namespace: `feature.hdl('P5Y', range)`.
 */
import type { ManifestCoding } from '../../../src/models/manifest.ts';
import { LOINC, SNOMED, valueSet } from './types.ts';
import type { ManifestInput } from './types.ts';

/** One feature of a manifest as authored. */
export type FeatureInput = ManifestInput['features'][number];
/** A feature's valid range (outside it the model does not apply). */
export type FeatureRange = NonNullable<FeatureInput['range']>;
/** An ISO 8601 duration, e.g. `P5Y`, `PT24H`. */
export type Lookback = string;

/** Vital signs older than this do not describe the current state (NEWS2, qSOFA). */
export const VITALS_LOOKBACK: Lookback = 'PT24H';

/** LOINC codings that feature sources and manifest `triggers.codes` share. */
export const LOINC_CODINGS = {
  totalCholesterolMass: { system: LOINC, code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma' },
  totalCholesterolMoles: { system: LOINC, code: '14647-2', display: 'Cholesterol [Moles/volume] in Serum or Plasma' },
  hdlMass: { system: LOINC, code: '2085-9', display: 'Cholesterol in HDL [Mass/volume] in Serum or Plasma' },
  hdlMoles: { system: LOINC, code: '14646-4', display: 'Cholesterol in HDL [Moles/volume] in Serum or Plasma' },
  bloodPressurePanel: { system: LOINC, code: '85354-9', display: 'Blood pressure panel' },
  bloodPressureSystolicDiastolic: { system: LOINC, code: '55284-4', display: 'Blood pressure systolic and diastolic' },
  systolicBP: { system: LOINC, code: '8480-6', display: 'Systolic blood pressure' },
  smokingStatus: { system: LOINC, code: '72166-2', display: 'Tobacco smoking status' },
  respiratoryRate: { system: LOINC, code: '9279-1', display: 'Respiratory rate' },
} as const satisfies Record<string, ManifestCoding>;

/** Total and HDL cholesterol, mass and molar: the lab results that re-score a lipid-based model. */
export const CHOLESTEROL_TRIGGER_CODES: readonly ManifestCoding[] = [
  LOINC_CODINGS.totalCholesterolMass,
  LOINC_CODINGS.totalCholesterolMoles,
  LOINC_CODINGS.hdlMass,
  LOINC_CODINGS.hdlMoles,
];

/**
 * Every code a systolic blood pressure arrives under: the R4 vital-signs panel, the older panel
 * (55284-4, common in 2019-era and DSTU2-migrated data) and a standalone reading.
 */
export const BLOOD_PRESSURE_TRIGGER_CODES: readonly ManifestCoding[] = [
  LOINC_CODINGS.bloodPressurePanel,
  LOINC_CODINGS.bloodPressureSystolicDiastolic,
  LOINC_CODINGS.systolicBP,
];

/** Smoking-status values (SNOMED CT) that count as a current smoker. */
const CURRENT_SMOKER_CODES: readonly ManifestCoding[] = [
  { system: SNOMED, code: '449868002', display: 'Smokes tobacco daily' },
  { system: SNOMED, code: '428041000124106', display: 'Occasional tobacco smoker' },
  { system: SNOMED, code: '77176002', display: 'Smoker' },
  { system: SNOMED, code: '428071000124103', display: 'Heavy tobacco smoker' },
  { system: SNOMED, code: '428061000124105', display: 'Light tobacco smoker' },
];
/** Smoking-status values that count as not smoking now. */
const NON_SMOKER_CODES: readonly ManifestCoding[] = [
  { system: SNOMED, code: '8517006', display: 'Ex-smoker' },
  { system: SNOMED, code: '266919005', display: 'Never smoked tobacco' },
];

/** Age in completed years; `description` only where a model's text says more (e.g. its points). */
export function age(range: FeatureRange, description = 'Age in completed years at the assessment time.'): FeatureInput {
  return { name: 'age', description, source: { type: 'age' }, unit: 'a', range };
}

/** 1 for female, 0 for male; sex-specific models list both sexes so other values do not apply. */
export function female(description = '1 for female, 0 for male (other sexes: not applicable).'): FeatureInput {
  return { name: 'female', description, source: { type: 'sex', equals: 'female' } };
}

/** What sets one Observation quantity feature apart from another. */
export interface ObservationQuantityOptions {
  name: string;
  /** Name of a value set shipped in fhir-profiles/valuesets/. */
  valueSet: string;
  /** UCUM unit the value is converted to. */
  unit: string;
  lookback: Lookback;
  description?: string;
  range?: FeatureRange;
  missing?: FeatureInput['missing'];
}

/** A quantity read from the latest Observation in a shipped value set. */
export function observationQuantity(options: ObservationQuantityOptions): FeatureInput {
  const { name, description, unit, lookback, range, missing } = options;
  return {
    name,
    ...(description ? { description } : {}),
    source: { type: 'observation', codes: { valueSets: [valueSet(options.valueSet)] } },
    unit,
    lookback,
    ...(range ? { range } : {}),
    ...(missing ? { missing } : {}),
  };
}

/** Latest total cholesterol in mg/dL. */
export function totalCholesterol(lookback: Lookback, range: FeatureRange): FeatureInput {
  const description = 'Most recent total cholesterol (serum/plasma).';
  return observationQuantity({ name: 'totalCholesterol', valueSet: 'total-cholesterol', unit: 'mg/dL', description, lookback, range });
}

/** Latest HDL cholesterol in mg/dL. */
export function hdl(lookback: Lookback, range: FeatureRange): FeatureInput {
  return observationQuantity({ name: 'hdl', valueSet: 'hdl-cholesterol', unit: 'mg/dL', description: 'Most recent HDL cholesterol.', lookback, range });
}

/** Latest respiratory rate per minute. */
export function respiratoryRate(lookback: Lookback): FeatureInput {
  return observationQuantity({ name: 'respiratoryRate', valueSet: 'respiratory-rate', unit: '/min', lookback });
}

/**
 * Latest systolic BP in mm Hg, from a systolic Observation or the 8480-6 component of a BP panel
 * (EHRs mostly record the panel). `range` is omitted by scores that band any value.
 */
export function systolicBP(lookback: Lookback, range?: FeatureRange): FeatureInput {
  return {
    name: 'systolicBP',
    description: 'Most recent systolic blood pressure (8480-6, alone or as a component of a BP panel 85354-9/55284-4).',
    source: {
      type: 'observation',
      codes: { valueSets: [valueSet('systolic-bp')] },
      component: { codes: [LOINC_CODINGS.systolicBP] },
    },
    unit: 'mm[Hg]',
    lookback,
    ...(range ? { range } : {}),
  };
}

/** Latest tobacco smoking status as 1 (current smoker) or 0 (former or never). */
export function currentSmoker(lookback: Lookback): FeatureInput {
  return {
    name: 'currentSmoker',
    description: 'Tobacco smoking status (72166-2): current-smoker values → 1, former/never → 0.',
    source: {
      type: 'observation',
      codes: { valueSets: [valueSet('smoking-status')] },
      value: 'coded',
      positiveCodes: [...CURRENT_SMOKER_CODES],
      negativeCodes: [...NON_SMOKER_CODES],
    },
    lookback,
  };
}

/** 1 when an active resource of `type` in the value set exists, else 0 (never missing). */
function activeExists(type: 'condition' | 'medication', name: string, valueSetName: string, description?: string): FeatureInput {
  return {
    name,
    ...(description ? { description } : {}),
    source: { type, codes: { valueSets: [valueSet(valueSetName)] } },
    select: 'exists',
    missing: { policy: 'absent-is-false' },
  };
}

/** 1 when an active Condition in the value set is on the problem list, else 0. */
export function activeCondition(name: string, valueSetName: string, description?: string): FeatureInput {
  return activeExists('condition', name, valueSetName, description);
}

/** 1 when an active medication in the value set is prescribed or taken, else 0. */
export function activeMedication(name: string, valueSetName: string, description?: string): FeatureInput {
  return activeExists('medication', name, valueSetName, description);
}

/** Active diabetes mellitus on the problem list. */
export function diabetes(description = 'Active diabetes mellitus on the problem list (1/0).'): FeatureInput {
  return activeCondition('diabetes', 'diabetes', description);
}

/** Antihypertensive treatment, which is what the equations mean (not a hypertension diagnosis). */
export function onBPTreatment(): FeatureInput {
  return activeMedication('onBPTreatment', 'antihypertensives', 'Active antihypertensive medication (treatment, not a hypertension diagnosis).');
}
