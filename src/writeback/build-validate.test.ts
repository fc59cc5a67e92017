import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { RiskAssessment, StructureDefinition } from 'fhir/r4.js';
import type { FeatureVector } from '../features/types.ts';
import { modelManifestSchema } from '../models/manifest.ts';
import { addDuration, buildRiskAssessment } from './build.ts';
import {
  ASSESSMENT_IDENTIFIER_SYSTEM,
  MODEL_ONNX_SHA256_EXTENSION,
  MODELS_SYSTEM,
  RISK_ASSESSMENT_PROFILE,
  RISK_BAND_SYSTEM,
  RISK_INPUT_EXTENSION,
  RISK_PROBABILITY_SYSTEM,
  RISK_SCORE_EXTENSION,
} from './canonical.ts';
import { baseDefinitionResolver, listStructureDefinitionFiles, PROFILES_DIR, readOurCodeSystem } from './profiles.ts';
import { generateSnapshot } from './snapshot.ts';
import { RiskAssessmentValidationError, validateRiskAssessment } from './validate.ts';

/** A small points model in the style of NEWS2: no probability, no horizon, one assumed input. */
const pointsManifest = modelManifestSchema.parse({
  id: 'news2',
  version: '2017.0.1-test',
  title: 'National Early Warning Score 2',
  intendedUse: 'Test manifest: track-and-trigger score for acute deterioration.',
  population: { description: 'Adults 16 and over, not pregnant.', ageMin: 16 },
  outcome: { text: 'Cardiac arrest, unanticipated ICU admission or death within 24 hours' },
  onnx: { outputs: { score: 'score', band: 'band' } },
  features: [
    { name: 'respiratoryRate', source: { type: 'observation', codes: { codes: [{ system: 'http://loinc.org', code: '9279-1' }] } }, unit: '/min' },
    { name: 'pulse', source: { type: 'observation', codes: { codes: [{ system: 'http://loinc.org', code: '8867-4' }] } }, unit: '/min' },
    {
      name: 'consciousness',
      source: { type: 'observation', codes: { codes: [{ system: 'http://loinc.org', code: '67775-7' }] }, value: 'coded' },
      missing: { policy: 'assume', value: 0, assumption: 'consciousness not recorded: assumed alert (ACVPU A)' },
    },
  ],
  triggers: { codes: [{ system: 'http://loinc.org', code: '9279-1' }] },
  output: {
    bandOn: 'score',
    pointsScore: true,
    bands: [
      { code: 'low', display: 'Low', riskProbability: 'low' },
      { code: 'low-medium', display: 'Low-medium', riskProbability: 'moderate', min: 1 },
      { code: 'medium', display: 'Medium', riskProbability: 'moderate', min: 5 },
      { code: 'high', display: 'High', riskProbability: 'high', min: 7 },
    ],
  },
});

const pointsVector: FeatureVector = {
  modelId: 'news2',
  at: '2024-05-02T08:30:00Z',
  values: [
    { name: 'respiratoryRate', value: 24, unit: '/min', basis: ['Observation/rr/_history/2'] },
    { name: 'pulse', value: 95, unit: '/min', basis: ['Observation/vitals/_history/1'] },
    // Same panel as the pulse: basis must not list it twice.
    { name: 'consciousness', value: 0, basis: ['Observation/vitals/_history/1'], assumption: 'consciousness not recorded: assumed alert (ACVPU A)' },
  ],
};

function buildPoints(): RiskAssessment & { id: string } {
  return buildRiskAssessment({
    manifest: pointsManifest,
    vector: pointsVector,
    prediction: { score: 5, bandIndex: 2 },
    patientId: 'pat-7',
    status: 'final',
    contributions: { respiratoryRate: 2, pulse: 1, consciousness: 0 },
  });
}

describe('buildRiskAssessment (points model)', () => {
  it('follows the RiskAssessment contract of DESIGN.md and passes validation', () => {
    const ra = buildPoints();
    assert.deepEqual(ra.meta?.profile, [RISK_ASSESSMENT_PROFILE]);
    assert.equal(ra.identifier?.[0]?.system, ASSESSMENT_IDENTIFIER_SYSTEM);
    assert.equal(ra.id, `fr-${ra.identifier?.[0]?.value?.slice(0, 40)}`);
    assert.equal(ra.status, 'final');
    assert.deepEqual(ra.subject, { reference: 'Patient/pat-7' });
    assert.equal(ra.occurrenceDateTime, '2024-05-02T08:30:00Z');
    assert.deepEqual(ra.method?.coding?.[0], { system: MODELS_SYSTEM, code: 'news2', version: '2017.0.1-test', display: 'National Early Warning Score 2' });
    assert.deepEqual(ra.basis, [{ reference: 'Observation/rr/_history/2' }, { reference: 'Observation/vitals/_history/1' }]);

    const p = ra.prediction?.[0];
    assert.equal(p?.outcome?.text, pointsManifest.outcome.text);
    assert.equal(p?.probabilityDecimal, undefined);
    assert.equal(p?.whenPeriod, undefined, 'a "now" score has no horizon');
    assert.deepEqual(p?.extension, [{ url: RISK_SCORE_EXTENSION, valueDecimal: 5 }]);
    assert.deepEqual(
      p?.qualitativeRisk?.coding?.map((c) => [c.system, c.code]),
      [
        [RISK_PROBABILITY_SYSTEM, 'moderate'],
        [RISK_BAND_SYSTEM, 'medium'],
      ],
    );
    assert.deepEqual(ra.note, [{ text: 'consciousness: consciousness not recorded: assumed alert (ACVPU A)' }]);

    validateRiskAssessment(ra);
  });

  it('writes each input with value, unit, contribution, assumption and sources', () => {
    const inputs = buildPoints().extension?.filter((e) => e.url === RISK_INPUT_EXTENSION) ?? [];
    assert.equal(inputs.length, 3);
    const [rr, , consciousness] = inputs;
    assert.deepEqual(rr?.extension, [
      { url: 'name', valueString: 'respiratoryRate' },
      { url: 'value', valueQuantity: { value: 24, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' } },
      { url: 'contribution', valueDecimal: 2 },
      { url: 'source', valueReference: { reference: 'Observation/rr/_history/2' } },
    ]);
    assert.deepEqual(
      consciousness?.extension?.map((e) => e.url),
      ['name', 'value', 'contribution', 'assumption', 'source'],
    );
    assert.equal(consciousness?.extension?.[1]?.valueDecimal, 0);
  });

  it('is deterministic: the same inputs give the same resource', () => {
    assert.deepEqual(buildPoints(), buildPoints());
  });

  it('refuses inputs that contradict each other', () => {
    const base = { manifest: pointsManifest, vector: pointsVector, patientId: 'p', status: 'final' as const };
    assert.throws(() => buildRiskAssessment({ ...base, prediction: { score: 5, bandIndex: 9 } }), /band index 9/);
    assert.throws(() => buildRiskAssessment({ ...base, prediction: { bandIndex: 0 } }), /no score/);
    assert.throws(() => buildRiskAssessment({ ...base, vector: { ...pointsVector, modelId: 'qsofa' }, prediction: { score: 1, bandIndex: 0 } }), /model qsofa/);
  });
});

const ascvdPath = new URL('../../models/ascvd-pce/model.json', import.meta.url);

describe('buildRiskAssessment (probabilistic model: models/ascvd-pce/model.json)', () => {
  it('writes the probability, the 10-year horizon and the ONNX sha256, and passes validation', () => {
    const manifest = modelManifestSchema.parse(JSON.parse(readFileSync(ascvdPath, 'utf8')));
    const vector: FeatureVector = {
      modelId: manifest.id,
      at: '2024-02-29T12:00:00Z',
      values: manifest.features.map((f, i) => ({
        name: f.name,
        value: i === 0 ? 55 : 1,
        ...(f.unit ? { unit: f.unit } : {}),
        basis: i === 0 ? ['Patient/pat-9/_history/3'] : [`Observation/o${i}/_history/1`],
      })),
    };
    const ra = buildRiskAssessment({
      manifest,
      onnxSha256: 'ab'.repeat(32),
      vector,
      prediction: { probability: 0.112, bandIndex: 2 },
      patientId: 'pat-9',
      status: 'preliminary',
    });
    const p = ra.prediction?.[0];
    assert.equal(ra.status, 'preliminary');
    assert.equal(p?.probabilityDecimal, 0.112);
    assert.deepEqual(p?.whenPeriod, { start: '2024-02-29T12:00:00Z', end: '2034-03-01T12:00:00.000Z' });
    assert.equal(p?.extension, undefined, 'no risk-score for a probabilistic model');
    assert.equal(p?.qualitativeRisk?.coding?.[1]?.code, manifest.output.bands[2]?.code);
    assert.deepEqual(ra.extension?.find((e) => e.url === MODEL_ONNX_SHA256_EXTENSION), { url: MODEL_ONNX_SHA256_EXTENSION, valueString: 'ab'.repeat(32) });
    validateRiskAssessment(ra);
  });
});

describe('addDuration', () => {
  it('adds calendar years and months, and hours and days exactly', () => {
    assert.equal(addDuration('2020-01-31T00:00:00Z', 1, 'a'), '2021-01-31T00:00:00.000Z');
    assert.equal(addDuration('2020-01-15T00:00:00+02:00', 1, 'mo'), '2020-02-14T22:00:00.000Z');
    assert.equal(addDuration('2020-01-01T00:00:00Z', 24, 'h'), '2020-01-02T00:00:00.000Z');
    assert.equal(addDuration('2020-01-01T00:00:00Z', 30, 'd'), '2020-01-31T00:00:00.000Z');
  });
});

/** Asserts validation fails and one issue line matches `pattern`. */
function assertInvalid(ra: RiskAssessment, pattern: RegExp): void {
  assert.throws(
    () => validateRiskAssessment(ra),
    (err: unknown) => {
      assert.ok(err instanceof RiskAssessmentValidationError, String(err));
      assert.ok(
        err.issues.some((i) => pattern.test(i)),
        `no issue matches ${pattern}:\n${err.issues.join('\n')}`,
      );
      return true;
    },
  );
}

describe('validateRiskAssessment rejects broken assessments', () => {
  it('probability 1.5', () => {
    const ra = buildPoints();
    ra.prediction![0]!.probabilityDecimal = 1.5;
    assertInvalid(ra, /^profile: .*fra-6/);
    assertInvalid(ra, /probabilityDecimal must be a fraction from 0 to 1/);
  });

  it('missing identifier', () => {
    const ra: RiskAssessment = { ...buildPoints(), identifier: undefined };
    assertInvalid(ra, /^profile: RiskAssessment.identifier: Missing required property/);
    assertInvalid(ra, /identifier\[0\]\.system must be/);
  });

  it('a wrong qualitativeRisk code (a required binding @medplum/core does not check)', () => {
    const ra = buildPoints();
    ra.prediction![0]!.qualitativeRisk!.coding![0]!.code = 'medium';
    assertInvalid(ra, /qualitativeRisk\.coding\[0\] must be a code of/);
    const unknownBand = buildPoints();
    unknownBand.prediction![0]!.qualitativeRisk!.coding![1]!.code = 'catastrophic';
    assertInvalid(unknownBand, /qualitativeRisk\.coding\[1\] must be a code of/);
  });

  it('qualitativeRisk codings in the wrong order', () => {
    const ra = buildPoints();
    ra.prediction![0]!.qualitativeRisk!.coding!.reverse();
    assertInvalid(ra, /fra-7/);
  });

  it('missing subject (caught by FHIR R4 itself)', () => {
    const ra = { ...buildPoints(), subject: undefined } as unknown as RiskAssessment;
    assertInvalid(ra, /^FHIR R4: RiskAssessment.subject: Missing required property/);
  });

  it('missing method (allowed by R4, required by our profile)', () => {
    const ra: RiskAssessment = { ...buildPoints(), method: undefined };
    assertInvalid(ra, /^profile: RiskAssessment.method: Missing required property/);
  });

  it('a subject that is not a Patient', () => {
    const ra: RiskAssessment = { ...buildPoints(), subject: { reference: 'Group/g1' } };
    assertInvalid(ra, /fra-3|subject.reference must be Patient/);
  });

  it('a risk-score that is not a decimal', () => {
    const ra = buildPoints();
    ra.prediction![0]!.extension = [{ url: RISK_SCORE_EXTENSION, valueString: '5' }];
    assertInvalid(ra, /fra-8/);
  });

  it('values of a shape that already passed are still checked (the full passes are memoized per shape)', () => {
    validateRiskAssessment(buildPoints()); // this shape is now known
    const badDate = buildPoints();
    badDate.occurrenceDateTime = '2026-13-45T00:00:00Z';
    assertInvalid(badDate, /occurrenceDateTime/);
    const withPeriod = buildPoints();
    withPeriod.prediction![0]!.whenPeriod = { start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z' };
    validateRiskAssessment(withPeriod);
    const badPeriod = structuredClone(withPeriod);
    badPeriod.prediction![0]!.whenPeriod!.end = 'tomorrow';
    assertInvalid(badPeriod, /whenPeriod.end: not a valid FHIR dateTime/);
    const badCode = buildPoints();
    badCode.status = 'final ' as RiskAssessment['status'];
    assertInvalid(badCode, /status/);
    const blank = buildPoints();
    blank.prediction![0]!.outcome!.text = '  ';
    assertInvalid(blank, /prediction.outcome.text: empty or blank string/);
    const nan = buildPoints();
    nan.prediction![0]!.extension![0]!.valueDecimal = Number.NaN;
    assertInvalid(nan, /finite/);
  });

  it('lists every problem in one error message', () => {
    const ra = { ...buildPoints(), subject: undefined, identifier: undefined } as unknown as RiskAssessment;
    assert.throws(() => validateRiskAssessment(ra), /identifier[\s\S]*subject/);
  });
});

describe('fhir-profiles', () => {
  it('has committed snapshots that match their differentials (run scripts/build-profiles.ts)', () => {
    const resolve = baseDefinitionResolver();
    const files = listStructureDefinitionFiles();
    assert.ok(files.length >= 4, `StructureDefinitions in ${PROFILES_DIR}`);
    for (const file of files) {
      const sd = JSON.parse(readFileSync(file, 'utf8')) as StructureDefinition;
      assert.deepEqual(sd.snapshot?.element, generateSnapshot(sd, resolve), `${file} snapshot is stale`);
    }
  });

  it('snapshots never include Medplum-only Meta elements', () => {
    const text = readFileSync(`${PROFILES_DIR}StructureDefinition-fhir-risk-assessment.json`, 'utf8');
    assert.doesNotMatch(text, /Meta\.(project|compartment|accounts)/);
  });
});

describe('every shipped model (models/*/model.json)', () => {
  const modelsDir = new URL('../../models/', import.meta.url);
  const manifests = readdirSync(modelsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => modelManifestSchema.parse(JSON.parse(readFileSync(new URL(`${d.name}/model.json`, modelsDir), 'utf8'))));

  it('is listed in the models CodeSystem', () => {
    const codes = new Set(readOurCodeSystem('models').concept?.map((c) => c.code));
    assert.ok(manifests.length >= 1);
    for (const m of manifests) assert.ok(codes.has(m.id), `${m.id} missing from CodeSystem-models.json`);
  });

  it('gives a valid RiskAssessment in each of its bands', () => {
    for (const manifest of manifests) {
      const vector: FeatureVector = {
        modelId: manifest.id,
        at: '2024-06-01T00:00:00Z',
        values: manifest.features.map((f, i) => ({
          name: f.name,
          value: 1,
          ...(f.unit ? { unit: f.unit } : {}),
          basis: [`Observation/${manifest.id}-${i}/_history/1`],
          ...(f.missing.policy === 'assume' ? { assumption: f.missing.assumption } : {}),
        })),
      };
      manifest.output.bands.forEach((_band, bandIndex) => {
        const ra = buildRiskAssessment({
          manifest,
          vector,
          prediction: {
            ...(manifest.onnx.outputs.probability ? { probability: 0.1 } : {}),
            ...(manifest.onnx.outputs.score ? { score: bandIndex } : {}),
            bandIndex,
          },
          patientId: 'p',
          status: 'final',
        });
        assert.doesNotThrow(() => validateRiskAssessment(ra), `${manifest.id} band ${bandIndex}`);
      });
    }
  });
});
