import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotApplicableError } from '../errors.ts';
import type { NotApplicableReason } from '../errors.ts';
import type { ModelManifest } from '../models/manifest.ts';
import { ICD10CM, LOINC, SNOMED } from './codings.ts';
import { featurize } from './featurize.ts';
import {
  AF_ONLY,
  AT,
  EXF_AT,
  EXF_PATIENT,
  PCE_LIKE,
  SMART_AT,
  SMART_PATIENT,
  VITALS_LIKE,
  bpPanel,
  completeRecord,
  condition,
  medication,
  patient,
  quantityObs,
  shippedManifest,
  shippedValueSets,
  smokingObs,
  syntheaRecord,
} from './test-fixtures.ts';
import type { FeatureVector, PatientRecord } from './types.ts';

const valueSets = await shippedValueSets();

function values(vector: FeatureVector): Record<string, number> {
  return Object.fromEntries(vector.values.map((v) => [v.name, v.value]));
}

function notApplicable(manifest: ModelManifest, record: PatientRecord, at: Date = AT): NotApplicableError {
  try {
    featurize(manifest, record, at, valueSets);
  } catch (err) {
    if (err instanceof NotApplicableError) return err;
    throw err;
  }
  assert.fail('expected NotApplicableError');
}

function assertReason(manifest: ModelManifest, record: PatientRecord, reason: NotApplicableReason, at: Date = AT): NotApplicableError {
  const err = notApplicable(manifest, record, at);
  assert.equal(err.reason, reason, err.message);
  assert.equal(err.modelId, manifest.id);
  return err;
}

describe('featurize on Synthea patients', () => {
  it('reads every PCE input of a 2025 patient (BP panel 85354-9, diabetes via a complication code, Black race)', () => {
    const record = syntheaRecord(EXF_PATIENT);
    const vector = featurize(PCE_LIKE, record, EXF_AT, valueSets);
    const v = values(vector);
    assert.deepEqual(Object.keys(v), PCE_LIKE.features.map((f) => f.name), 'manifest (ONNX) order');
    assert.equal(v.age, 58);
    assert.equal(v.female, 0);
    assert.equal(v.black, 1);
    assert.equal(v.diabetes, 1);
    assert.equal(v.on_bp_treatment, 1);
    assert.equal(v.smoker, 0);
    assert.ok(Math.abs((v.total_cholesterol ?? 0) - 287.3) < 0.05);
    assert.equal(vector.at, EXF_AT.toISOString());
    const age = vector.values.find((x) => x.name === 'age');
    assert.deepEqual(age?.basis, [`Patient/${EXF_PATIENT}`]);
    const sbp = vector.values.find((x) => x.name === 'systolic_bp');
    assert.equal(sbp?.unit, 'mm[Hg]');
    const panel = record.observations.find((o) => `Observation/${o.id}` === sbp?.basis[0]);
    assert.equal(panel?.code.coding?.[0]?.code, '85354-9');
    assert.equal(panel?.component?.find((c) => c.code.coding?.[0]?.code === '8480-6')?.valueQuantity?.value, sbp?.value);
    const diabetes = vector.values.find((x) => x.name === 'diabetes');
    assert.ok((diabetes?.basis.length ?? 0) > 0 && diabetes?.basis.every((b) => b.startsWith('Condition/')));
  });

  it('takes systolic, not the first component, from 2019 panels 55284-4 (diastolic listed first)', () => {
    const record = syntheaRecord(SMART_PATIENT);
    const latestPanel = [...record.observations]
      .filter((o) => o.code.coding?.some((c) => c.code === '55284-4'))
      .sort((a, b) => (b.effectiveDateTime ?? '').localeCompare(a.effectiveDateTime ?? ''))[0];
    assert.equal(latestPanel?.component?.[0]?.code.coding?.[0]?.code, '8462-4', 'fixture: diastolic first');
    const systolic = latestPanel?.component?.[1]?.valueQuantity?.value;
    const v = values(featurize(PCE_LIKE, record, SMART_AT, valueSets));
    assert.equal(v.systolic_bp, systolic);
    assert.equal(v.age, 67);
  });

  it('works with the shipped ascvd-pce manifest (systolic as a component of any panel)', () => {
    const manifest = shippedManifest('ascvd-pce');
    const exf = values(featurize(manifest, syntheaRecord(EXF_PATIENT), EXF_AT, valueSets));
    assert.equal(exf.black, 1);
    assert.equal(exf.systolicBP, 135);
    const smart = values(featurize(manifest, syntheaRecord(SMART_PATIENT), SMART_AT, valueSets));
    assert.ok(Math.abs((smart.systolicBP ?? 0) - 147.87) < 0.01);
  });

  it('ignores data recorded after `at`: as of the day before the first lipid panel, cholesterol is missing', () => {
    const err = assertReason(PCE_LIKE, syntheaRecord(SMART_PATIENT), 'missing-input', new Date('2011-07-20T00:00:00Z'));
    assert.match(err.diagnostics, /total_cholesterol/);
    assert.doesNotThrow(() => featurize(PCE_LIKE, syntheaRecord(SMART_PATIENT), new Date('2011-07-22T00:00:00Z'), valueSets));
  });
});

describe('featurize: population', () => {
  it('deceased (boolean, or a death date on or before `at`)', () => {
    assertReason(PCE_LIKE, completeRecord({ patient: patient({ deceasedBoolean: true }) }), 'deceased');
    assertReason(PCE_LIKE, completeRecord({ patient: patient({ deceasedDateTime: '2024-12-31' }) }), 'deceased');
    assert.doesNotThrow(() => featurize(PCE_LIKE, completeRecord({ patient: patient({ deceasedDateTime: '2025-06-01' }) }), AT, valueSets));
  });

  it('sex unknown → sex-not-supported; US Core birth sex is used when gender is unknown', () => {
    const err = assertReason(PCE_LIKE, completeRecord({ patient: patient({ gender: 'unknown' }) }), 'sex-not-supported');
    assert.match(err.diagnostics, /unknown/);
    const birthSexF = patient({ gender: 'unknown', extension: [{ url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex', valueCode: 'F' }] });
    assert.equal(values(featurize(PCE_LIKE, completeRecord({ patient: birthSexF }), AT, valueSets)).female, 1);
  });

  it('age outside the range → age-out-of-range with the age and range in plain words', () => {
    const err = assertReason(PCE_LIKE, completeRecord({ patient: patient({ birthDate: '1990-06-01' }) }), 'age-out-of-range');
    assert.equal(err.diagnostics, 'age 34 outside 40–79');
    // Completed years: the day before the 80th birthday is still 79.
    assert.doesNotThrow(() => featurize(PCE_LIKE, completeRecord({ patient: patient({ birthDate: '1945-01-16' }) }), AT, valueSets));
    assertReason(PCE_LIKE, completeRecord({ patient: patient({ birthDate: '1945-01-15' }) }), 'age-out-of-range');
  });

  it('AF absent → no-indication; active AF (SNOMED or ICD-10-CM without the dot) → applies; resolved AF → no-indication', () => {
    assertReason(AF_ONLY, completeRecord(), 'no-indication');
    assert.equal(featurize(AF_ONLY, completeRecord({ conditions: [condition(SNOMED, '49436004')] }), AT, valueSets).values[0]?.value, 0);
    assert.doesNotThrow(() => featurize(AF_ONLY, completeRecord({ conditions: [condition(ICD10CM, 'I4891')] }), AT, valueSets));
    const resolved = condition(SNOMED, '49436004', {
      clinicalStatus: { coding: [{ code: 'resolved' }] },
      abatementDateTime: '2020-01-01',
    });
    assertReason(AF_ONLY, completeRecord({ conditions: [resolved] }), 'no-indication');
    const refuted = condition(SNOMED, '49436004', { verificationStatus: { coding: [{ code: 'refuted' }] } });
    assertReason(AF_ONLY, completeRecord({ conditions: [refuted] }), 'no-indication');
  });

  it('pregnancy → excluded-population', () => {
    const record = completeRecord({ observations: [quantityObs('8310-5', 37, 'Cel', '2025-01-15T08:00:00Z')], conditions: [condition(SNOMED, '77386006')] });
    assertReason(VITALS_LIKE, record, 'excluded-population');
  });
});

describe('featurize: observations', () => {
  it('ignores an entered-in-error Observation and accepts an amended one', () => {
    const wrong = quantityObs('2093-3', 400, 'mg/dL', '2024-12-20', { status: 'entered-in-error' });
    const amended = quantityObs('2093-3', 210, 'mg/dL', '2024-12-10', { status: 'amended' });
    const base = completeRecord();
    const v = values(featurize(PCE_LIKE, { ...base, observations: [...base.observations, wrong, amended] }, AT, valueSets));
    assert.equal(v.total_cholesterol, 210);
    const preliminary = quantityObs('2093-3', 150, 'mg/dL', '2025-01-01', { status: 'preliminary' });
    assert.equal(values(featurize(PCE_LIKE, { ...base, observations: [...base.observations, preliminary] }, AT, valueSets)).total_cholesterol, 200);
  });

  it('a lab only older than the look-back window → stale-input (not missing-input)', () => {
    const base = completeRecord();
    const observations = base.observations.map((o) => (o.code.coding?.[0]?.code === '2093-3' ? { ...o, effectiveDateTime: '2023-06-01' } : o));
    const err = assertReason(PCE_LIKE, { ...base, observations }, 'stale-input');
    assert.match(err.diagnostics, /total_cholesterol.*P1Y/);
  });

  it('no lab at all → missing-input', () => {
    const base = completeRecord();
    assertReason(PCE_LIKE, { ...base, observations: base.observations.filter((o) => o.code.coding?.[0]?.code !== '2085-9') }, 'missing-input');
  });

  it('a value outside the valid range → input-out-of-range, never clamped', () => {
    const base = completeRecord();
    const high = quantityObs('2093-3', 350, 'mg/dL', '2024-12-31');
    const err = assertReason(PCE_LIKE, { ...base, observations: [...base.observations, high] }, 'input-out-of-range');
    assert.equal(err.diagnostics, 'total_cholesterol 350 mg/dL outside 130–320');
  });

  it('converts mmol/L cholesterol with MODELS.md factor 38.67 and °F temperatures to Cel', () => {
    const base = completeRecord();
    const molar = quantityObs('14647-2', 5.2, 'mmol/L', '2024-12-31');
    const v = values(featurize(PCE_LIKE, { ...base, observations: [...base.observations, molar] }, AT, valueSets));
    assert.ok(Math.abs((v.total_cholesterol ?? 0) - 5.2 * 38.67) < 1e-9, String(v.total_cholesterol));
    // Same analyte code, mmol/L unit: the conversion depends on the unit, not on which LOINC was used.
    const mislabelled = quantityObs('2085-9', 1.3, 'mmol/L', '2024-12-31');
    const hdl = values(featurize(PCE_LIKE, { ...base, observations: [...base.observations, mislabelled] }, AT, valueSets)).hdl;
    assert.ok(Math.abs((hdl ?? 0) - 1.3 * 38.67) < 1e-9);

    const fever = quantityObs('8331-1', 101.3, '[degF]', '2025-01-15T08:00:00Z');
    const rr = quantityObs('9279-1', 18, '/min', '2025-01-15T08:00:00Z');
    const t = values(featurize(VITALS_LIKE, completeRecord({ observations: [fever, rr] }), AT, valueSets)).temperature;
    assert.ok(Math.abs((t ?? 0) - 38.5) < 1e-9, String(t));
  });

  it('a unit that cannot be converted leaves the feature missing and says why', () => {
    const base = completeRecord();
    const observations = base.observations.map((o) => (o.code.coding?.[0]?.code === '2093-3' ? quantityObs('2093-3', 5, 'g', '2024-12-01') : o));
    const err = assertReason(PCE_LIKE, { ...base, observations }, 'missing-input');
    assert.match(err.diagnostics, /not convertible to mg\/dL/);
  });

  it('finds systolic by component code whatever the order, and a stand-alone 8480-6 too', () => {
    const base = completeRecord();
    const others = base.observations.filter((o) => !o.component);
    const reversed = values(featurize(PCE_LIKE, { ...base, observations: [...others, bpPanel(142, '2024-12-01', 'diastolic-first')] }, AT, valueSets));
    assert.equal(reversed.systolic_bp, 142);
    const standalone = quantityObs('8480-6', 118, 'mm[Hg]', '2024-12-05');
    assert.equal(values(featurize(PCE_LIKE, { ...base, observations: [...base.observations, standalone] }, AT, valueSets)).systolic_bp, 118);
  });

  it('latest by effective time (effectivePeriod.end, then issued), whatever the order in the record', () => {
    const base = completeRecord();
    const viaPeriod = quantityObs('2093-3', 190, 'mg/dL', '', { effectiveDateTime: undefined, effectivePeriod: { start: '2024-12-01', end: '2024-12-20' } });
    const viaIssued = quantityObs('2093-3', 180, 'mg/dL', '', { effectiveDateTime: undefined, issued: '2024-12-15T00:00:00Z' });
    const v = values(featurize(PCE_LIKE, { ...base, observations: [viaPeriod, viaIssued, ...base.observations] }, AT, valueSets));
    assert.equal(v.total_cholesterol, 190);
  });

  it('coded smoking status: a current-smoker value → 1; an unknown value is skipped for the previous known one', () => {
    const base = completeRecord();
    const others = base.observations.filter((o) => o.code.coding?.[0]?.code !== '72166-2');
    const current = values(featurize(PCE_LIKE, { ...base, observations: [...others, smokingObs('449868002', '2024-11-01')] }, AT, valueSets));
    assert.equal(current.smoker, 1);
    const unknownLater = smokingObs('266927001', '2024-12-01');
    const v = values(featurize(PCE_LIKE, { ...base, observations: [...others, smokingObs('8517006', '2024-11-01'), unknownLater] }, AT, valueSets));
    assert.equal(v.smoker, 0);
    assertReason(PCE_LIKE, { ...base, observations: [...others, unknownLater] }, 'missing-input');
  });

  it('mean and max over the look-back window; the assume policy carries its assumption text', () => {
    const rr = ['2025-01-14T10:00:00Z', '2025-01-15T06:00:00Z', '2025-01-15T11:00:00Z'].map((t, i) => quantityObs('9279-1', [30, 14, 16][i] as number, '/min', t));
    const old = quantityObs('9279-1', 40, '/min', '2025-01-13T00:00:00Z');
    const temp = quantityObs('8310-5', 37.2, 'Cel', '2025-01-15T06:00:00Z');
    const vector = featurize(VITALS_LIKE, completeRecord({ observations: [...rr, old, temp] }), AT, valueSets);
    const v = values(vector);
    assert.equal(v.max_rr, 16, 'the 30/min at 10:00 the day before is outside PT24H');
    assert.equal(v.mean_rr, 15);
    assert.equal(vector.values.find((x) => x.name === 'mean_rr')?.basis.length, 2);
    const alert = vector.values.find((x) => x.name === 'not_alert');
    assert.equal(alert?.value, 0);
    assert.equal(alert?.assumption, 'Consciousness not recorded: assumed Alert.');
    assert.deepEqual(alert?.basis, []);
  });

  it('basis references are versioned when the resource has a versionId', () => {
    const vector = featurize(PCE_LIKE, completeRecord(), AT, valueSets);
    const tc = vector.values.find((x) => x.name === 'total_cholesterol');
    assert.match(tc?.basis[0] ?? '', /^Observation\/o\d+\/_history\/1$/);
    assert.deepEqual(vector.values.find((x) => x.name === 'age')?.basis, ['Patient/p1/_history/3']);
  });
});

describe('featurize: conditions and medications', () => {
  it('antihypertensive: active → 1, stopped → 0; diabetes by ICD-10-CM with the dot', () => {
    const on = values(featurize(PCE_LIKE, completeRecord({ medications: [medication('314076')] }), AT, valueSets));
    assert.equal(on.on_bp_treatment, 1);
    const stopped = values(featurize(PCE_LIKE, completeRecord({ medications: [medication('314076', 'stopped')] }), AT, valueSets));
    assert.equal(stopped.on_bp_treatment, 0);
    const statinOnly = values(featurize(PCE_LIKE, completeRecord({ medications: [medication('316672')] }), AT, valueSets));
    assert.equal(statinOnly.on_bp_treatment, 0);
    const dm = values(featurize(PCE_LIKE, completeRecord({ conditions: [condition(ICD10CM, 'E11.9')] }), AT, valueSets));
    assert.equal(dm.diabetes, 1);
  });

  it('a condition with onset after `at` does not count yet', () => {
    const later = condition(SNOMED, '44054006', { onsetDateTime: '2025-03-01' });
    assert.equal(values(featurize(PCE_LIKE, completeRecord({ conditions: [later] }), AT, valueSets)).diabetes, 0);
  });

  it('BP panel Observation without the systolic component does not satisfy systolic', () => {
    const base = completeRecord();
    const onlyDiastolic = { ...bpPanel(120, '2024-12-01'), component: [{ code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 80 } }] };
    const others = base.observations.filter((o) => !o.component);
    assertReason(PCE_LIKE, { ...base, observations: [...others, onlyDiastolic] }, 'missing-input');
  });
});
