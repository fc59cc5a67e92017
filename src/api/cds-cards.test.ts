/**
 * Cards from RiskAssessments: every shipped model's own examples, run through the real ONNX file
 * and the real RiskAssessment builder, must give a spec-valid card whose indicator follows the
 * band's risk-probability code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RiskAssessment } from 'fhir/r4.js';
import { BUNDLED_MODELS_DIR } from '../config.ts';
import type { FeatureVector } from '../features/types.ts';
import { loadModelRegistry } from '../models/registry.ts';
import type { ModelRegistry } from '../models/types.ts';
import { buildRiskAssessment } from '../writeback/build.ts';
import { buildCard, buildNotApplicableCard, buildSummary, formatHorizon, formatRisk, indicatorFor, SUMMARY_MAX } from './cds-cards.ts';
import { cdsCardSchema } from './cds-schema.ts';

let registry: ModelRegistry;
before(async () => {
  registry = await loadModelRegistry({ dir: BUNDLED_MODELS_DIR });
});
after(async () => {
  await registry?.close();
});

const AT = '2025-06-01T12:00:00.000Z';

async function assessmentFromExample(modelId: string, exampleIndex: number, assumption?: { feature: string; text: string }): Promise<RiskAssessment> {
  const model = registry.get(modelId)!;
  const example = model.manifest.examples[exampleIndex]!;
  const vector: FeatureVector = {
    modelId,
    at: AT,
    values: model.manifest.features.map((f) => ({
      name: f.name,
      value: example.inputs[f.name] ?? 0,
      ...(f.unit ? { unit: f.unit } : {}),
      basis: [],
      ...(assumption?.feature === f.name ? { assumption: assumption.text } : {}),
    })),
  };
  const [prediction] = await model.predict([vector.values.map((v) => v.value)]);
  return buildRiskAssessment({ manifest: model.manifest, vector, prediction: prediction!, patientId: 'p1', status: 'final' });
}

describe('indicatorFor', () => {
  it('maps risk-probability low → info, moderate → warning, high → critical', () => {
    assert.equal(indicatorFor('negligible'), 'info');
    assert.equal(indicatorFor('low'), 'info');
    assert.equal(indicatorFor('moderate'), 'warning');
    assert.equal(indicatorFor('high'), 'critical');
    assert.equal(indicatorFor('certain'), 'critical');
    assert.equal(indicatorFor(undefined), 'info');
  });
});

describe('buildSummary / formatRisk / formatHorizon', () => {
  it('keeps the band display when it fits, else the band code, else shortens the title; always < 140', () => {
    assert.equal(buildSummary('Short model', '12.0 %', 'Intermediate risk', 'intermediate'), 'Short model: 12.0 % — Intermediate risk');
    const long = buildSummary('T'.repeat(80), '3.2 %, score 3', 'High: 2 or more points besides female sex (anticoagulation recommended)', 'high');
    assert.equal(long, `${'T'.repeat(80)}: 3.2 %, score 3 — high`);
    const veryLong = buildSummary('T'.repeat(200), '3.2 %', 'High', 'high');
    assert.ok(veryLong.length <= SUMMARY_MAX, `${veryLong.length}`);
    assert.ok(veryLong.endsWith('…: 3.2 % — high'), veryLong);
  });

  it('formats probabilities, points scores and both', () => {
    assert.equal(formatRisk({ probability: 0.2153 }), '21.5 %');
    assert.equal(formatRisk({ score: 7 }), 'score 7');
    assert.equal(formatRisk({ probability: 0.032, score: 3 }), '3.2 %, score 3');
  });

  it('formats horizons', () => {
    assert.equal(formatHorizon({ value: 10, unit: 'a' }), '10 years');
    assert.equal(formatHorizon({ value: 1, unit: 'a' }), '1 year');
    assert.equal(formatHorizon({ value: 24, unit: 'h' }), '24 hours');
    assert.match(formatHorizon(undefined), /^now/);
  });
});

describe('buildCard for every shipped model', () => {
  it('gives a spec-valid card per example, indicator from the band, the model as topic', async () => {
    let checked = 0;
    for (const model of registry.list()) {
      const { manifest } = model;
      for (let i = 0; i < manifest.examples.length; i++) {
        const ra = await assessmentFromExample(manifest.id, i);
        const card = cdsCardSchema.parse(buildCard({ manifest, assessment: ra, origin: 'prefetch', uuid: `u-${i}` }));
        const bandProbability = ra.prediction?.[0]?.qualitativeRisk?.coding?.[0]?.code;
        assert.equal(card.indicator, indicatorFor(bandProbability), `${manifest.id} example ${i}`);
        assert.deepEqual(card.source.topic, { system: 'http://fhir-risk.org/fhir/CodeSystem/models', code: manifest.id, display: manifest.title });
        assert.ok(card.summary.length < 140 && card.summary.includes(formatRisk({
          ...(ra.prediction?.[0]?.probabilityDecimal !== undefined ? { probability: ra.prediction[0].probabilityDecimal } : {}),
          ...(manifest.output.pointsScore ? { score: ra.prediction?.[0]?.extension?.[0]?.valueDecimal ?? NaN } : {}),
        })), card.summary);
        for (const feature of manifest.features) assert.ok(card.detail?.includes(`| ${feature.name} |`), `${manifest.id}: ${feature.name} in the detail`);
        checked += 1;
      }
    }
    assert.ok(checked >= 5, `only ${checked} examples`);
  });

  it('states declared assumptions (NEWS2 consciousness) and the stored assessment it shows', async () => {
    const manifest = registry.get('news2')!.manifest;
    const ra = { ...(await assessmentFromExample('news2', 0, { feature: 'consciousnessNotAlert', text: 'not recorded: assumed alert' })), id: 'fr-abc' };
    const card = buildCard({ manifest, assessment: ra, origin: 'stored', uuid: 'u' });
    assert.match(card.detail ?? '', /Assumptions:\n- consciousnessNotAlert: not recorded: assumed alert/);
    assert.match(card.detail ?? '', /Horizon: 24 hours/);
    assert.match(card.detail ?? '', /stored fhir-risk assessment.*\(RiskAssessment\/fr-abc\)/);
    assert.equal((card.extension?.['org.fhir-risk'] as { riskAssessment?: string }).riskAssessment, 'RiskAssessment/fr-abc');
  });
});

describe('buildNotApplicableCard', () => {
  it('is one spec-valid info card listing each model and its reason', () => {
    const card = cdsCardSchema.parse(
      buildNotApplicableCard(
        [
          { modelId: 'news2', title: 'NEWS2', reason: 'stale-input', diagnostics: 'no respiratory rate within PT24H' },
          { modelId: 'qsofa', title: 'qSOFA', reason: 'missing-input', diagnostics: 'no GCS' },
        ],
        'u',
      ),
    );
    assert.equal(card.indicator, 'info');
    assert.match(card.summary, /2 models not applicable/);
    assert.match(card.detail ?? '', /\*\*NEWS2\*\* \(news2\): stale-input: no respiratory rate within PT24H/);
  });
});
