/**
 * Shared test fixtures for src/features tests: Synthea bundles, the shipped value sets, a PCE-like
 * manifest, and small builders for hand-edited resources. Not used by the service.
 */
import { readFileSync } from 'node:fs';
import type { Bundle, Condition, MedicationRequest, Observation, Patient } from 'fhir/r4.js';
import { modelManifestSchema } from '../models/manifest.ts';
import type { ModelManifest } from '../models/manifest.ts';
import { recordFromBundle } from './bundle-record.ts';
import { LOINC, RXNORM, SNOMED } from './codings.ts';
import type { PatientRecord } from './types.ts';
import { defaultValueSetsDir, loadValueSets } from './value-sets.ts';
import type { ValueSetIndex } from './value-sets.ts';

export const SYNTHEA_DIR = new URL('../../test/fixtures/synthea', import.meta.url).pathname;
/** Exafluence 2025: male, 58 at last observation, Black, diabetes via complication codes, BP panel 85354-9. */
export const EXF_PATIENT = '1e557b32-2239-dc72-1a82-316d22d17508';
export const EXF_AT = new Date('2025-06-27T23:59:59Z');
/** SMART 2019: male, 67, BP panel 55284-4 with the diastolic component first. */
export const SMART_PATIENT = '0e61c3ad-d11e-4080-a6aa-cac89cae4e37';
export const SMART_AT = new Date('2020-09-17T23:59:59Z');

export function syntheaBundle(id: string): Bundle {
  return JSON.parse(readFileSync(`${SYNTHEA_DIR}/${id}.json`, 'utf8')) as Bundle;
}

export function syntheaRecord(id: string): PatientRecord {
  return recordFromBundle(syntheaBundle(id));
}

let shipped: Promise<ValueSetIndex> | undefined;
/** The value sets in fhir-profiles/valuesets, loaded once per test process. */
export function shippedValueSets(): Promise<ValueSetIndex> {
  shipped ??= loadValueSets(defaultValueSetsDir());
  return shipped;
}

/** A shipped model manifest from models/<id>/model.json, when the model helper has written it. */
export function shippedManifest(id: string): ModelManifest {
  return modelManifestSchema.parse(JSON.parse(readFileSync(new URL(`../../models/${id}/model.json`, import.meta.url), 'utf8')));
}

const VS = (name: string): string => `http://fhir-risk.org/fhir/ValueSet/${name}`;

/**
 * A PCE-like test manifest written independently of the model helper's: BP panels in `codes`
 * with systolic as `component`, smoking with the current-smoker SNOMED list.
 */
export const PCE_LIKE: ModelManifest = modelManifestSchema.parse({
  id: 'pce-test',
  version: '0.0.1',
  title: 'PCE-like test model',
  intendedUse: 'Tests of featurization only.',
  population: { description: 'Adults 40–79', ageMin: 40, ageMax: 79, sexes: ['female', 'male'] },
  outcome: { text: '10-year ASCVD' },
  horizon: { value: 10, unit: 'a' },
  onnx: { outputs: { probability: 'probability' } },
  features: [
    { name: 'age', source: { type: 'age' }, unit: 'a', range: { min: 40, max: 79 } },
    { name: 'female', source: { type: 'sex', equals: 'female' } },
    { name: 'black', source: { type: 'race', codes: ['2054-5'] } },
    {
      name: 'total_cholesterol',
      source: { type: 'observation', codes: { valueSets: [VS('total-cholesterol')] } },
      unit: 'mg/dL',
      lookback: 'P1Y',
      range: { min: 130, max: 320 },
    },
    { name: 'hdl', source: { type: 'observation', codes: { valueSets: [VS('hdl-cholesterol')] } }, unit: 'mg/dL', lookback: 'P1Y', range: { min: 20, max: 100 } },
    {
      name: 'systolic_bp',
      source: {
        type: 'observation',
        codes: { codes: [{ system: LOINC, code: '85354-9' }, { system: LOINC, code: '55284-4' }] },
        component: { valueSets: [VS('systolic-bp')] },
      },
      unit: 'mm[Hg]',
      lookback: 'P2Y',
      range: { min: 90, max: 200 },
    },
    { name: 'on_bp_treatment', source: { type: 'medication', codes: { valueSets: [VS('antihypertensives')] } }, select: 'exists', missing: { policy: 'absent-is-false' } },
    {
      name: 'smoker',
      source: {
        type: 'observation',
        codes: { valueSets: [VS('smoking-status')] },
        value: 'coded',
        positiveCodes: ['449868002', '428041000124106', '77176002', '428071000124103', '428061000124105'].map((code) => ({ system: SNOMED, code })),
        negativeCodes: ['8517006', '266919005'].map((code) => ({ system: SNOMED, code })),
      },
    },
    { name: 'diabetes', source: { type: 'condition', codes: { valueSets: [VS('diabetes')] } }, select: 'exists', missing: { policy: 'absent-is-false' } },
  ],
  triggers: { codes: [{ system: LOINC, code: '2093-3' }, { system: LOINC, code: '85354-9' }], valueSets: [VS('diabetes')] },
  output: { bandOn: 'probability', bands: [{ code: 'low', display: 'Low', riskProbability: 'low' }] },
});

/** A CHA2DS2-VASc-like manifest: requires AF. */
export const AF_ONLY: ModelManifest = modelManifestSchema.parse({
  id: 'af-test',
  version: '0.0.1',
  title: 'AF-gated test model',
  intendedUse: 'Tests only.',
  population: { description: 'AF', ageMin: 18, requiresCondition: { valueSets: [VS('atrial-fibrillation')] } },
  outcome: { text: 'stroke' },
  onnx: { outputs: { score: 'score' } },
  features: [{ name: 'chf', source: { type: 'condition', codes: { valueSets: [VS('heart-failure')] } }, missing: { policy: 'absent-is-false' } }],
  triggers: { valueSets: [VS('atrial-fibrillation')] },
  output: { bandOn: 'score', bands: [{ code: 'low', display: 'Low', riskProbability: 'low' }] },
});

/** A NEWS2-like manifest: excludes pregnancy, assumes alert, vital signs in the last 24 h. */
export const VITALS_LIKE: ModelManifest = modelManifestSchema.parse({
  id: 'vitals-test',
  version: '0.0.1',
  title: 'Vitals test model',
  intendedUse: 'Tests only.',
  population: { description: 'Adults, not pregnant', ageMin: 16, excludeConditions: { valueSets: [VS('pregnancy')] } },
  outcome: { text: 'deterioration' },
  onnx: { outputs: { score: 'score' } },
  features: [
    { name: 'temperature', source: { type: 'observation', codes: { valueSets: [VS('body-temperature')] } }, unit: 'Cel', lookback: 'PT24H' },
    { name: 'max_rr', source: { type: 'observation', codes: { valueSets: [VS('respiratory-rate')] } }, unit: '/min', select: 'max', lookback: 'PT24H' },
    { name: 'mean_rr', source: { type: 'observation', codes: { valueSets: [VS('respiratory-rate')] } }, unit: '/min', select: 'mean', lookback: 'PT24H' },
    {
      name: 'not_alert',
      source: {
        type: 'observation',
        codes: { valueSets: [VS('consciousness')] },
        value: 'coded',
        positiveCodes: [{ system: SNOMED, code: '300202002' }],
        negativeCodes: [{ system: SNOMED, code: '248234008' }],
      },
      lookback: 'PT24H',
      missing: { policy: 'assume', value: 0, assumption: 'Consciousness not recorded: assumed Alert.' },
    },
  ],
  triggers: { valueSets: [VS('respiratory-rate')] },
  output: { bandOn: 'score', bands: [{ code: 'low', display: 'Low', riskProbability: 'low' }] },
});

export const AT = new Date('2025-01-15T12:00:00Z');

export function patient(overrides: Partial<Patient> = {}): Patient {
  return { resourceType: 'Patient', id: 'p1', meta: { versionId: '3' }, gender: 'female', birthDate: '1970-03-01', ...overrides };
}

let seq = 0;
export function quantityObs(code: string, value: number, unit: string, effective: string, overrides: Partial<Observation> = {}): Observation {
  seq += 1;
  return {
    resourceType: 'Observation',
    id: `o${seq}`,
    meta: { versionId: '1' },
    status: 'final',
    code: { coding: [{ system: LOINC, code }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: effective,
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
    ...overrides,
  };
}

export function bpPanel(systolic: number, effective: string, order: 'systolic-first' | 'diastolic-first' = 'systolic-first', panel = '85354-9'): Observation {
  const sys = { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: systolic, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } };
  const dia = { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } };
  seq += 1;
  return {
    resourceType: 'Observation',
    id: `bp${seq}`,
    status: 'final',
    code: { coding: [{ system: LOINC, code: panel }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: effective,
    component: order === 'systolic-first' ? [sys, dia] : [dia, sys],
  };
}

export function smokingObs(snomed: string, effective: string): Observation {
  seq += 1;
  return {
    resourceType: 'Observation',
    id: `smk${seq}`,
    status: 'final',
    code: { coding: [{ system: LOINC, code: '72166-2' }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: effective,
    valueCodeableConcept: { coding: [{ system: SNOMED, code: snomed }] },
  };
}

export function condition(system: string, code: string, overrides: Partial<Condition> = {}): Condition {
  seq += 1;
  return {
    resourceType: 'Condition',
    id: `c${seq}`,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    code: { coding: [{ system, code }] },
    subject: { reference: 'Patient/p1' },
    onsetDateTime: '2015-01-01',
    ...overrides,
  };
}

export function medication(rxnorm: string, status: MedicationRequest['status'] = 'active'): MedicationRequest {
  seq += 1;
  return {
    resourceType: 'MedicationRequest',
    id: `m${seq}`,
    status,
    intent: 'order',
    medicationCodeableConcept: { coding: [{ system: RXNORM, code: rxnorm }] },
    subject: { reference: 'Patient/p1' },
    authoredOn: '2020-01-01',
  };
}

/** A complete record that satisfies PCE_LIKE at AT (female, 54, TC 200, HDL 50, SBP 130, never smoker). */
export function completeRecord(changes: Partial<PatientRecord> = {}): PatientRecord {
  return {
    patient: patient(),
    observations: [
      quantityObs('2093-3', 200, 'mg/dL', '2024-10-01'),
      quantityObs('2085-9', 50, 'mg/dL', '2024-10-01'),
      bpPanel(130, '2024-12-01'),
      smokingObs('266919005', '2024-10-01'),
    ],
    conditions: [],
    medications: [],
    ...changes,
  };
}
