/**
 * `cha2ds2-vasc`: CHA2DS2-VASc (Lip 2010) with the Friberg 2012 annual ischaemic stroke rate.
 */
import { GraphBuilder } from '../graph-builder.ts';
import { encodeModel } from '../model.ts';
import { asFloatOutput, asInt64Output, featureColumns, scale, stepFunction, sub, sum } from '../ops.ts';
import { attr } from '../graph-builder.ts';
import { ElemType } from '../tensor.ts';
import * as feature from './common-features.ts';
import { SNOMED, exactCheck, femaleFlag, valueSet, vectorFeatures } from './types.ts';
import type { ModelDefinition, VectorCheck } from './types.ts';

const FEATURES = ['age', 'female', 'chf', 'hypertension', 'diabetes', 'strokeTiaThromboembolism', 'vascularDisease'] as const;

/** Friberg 2012 (Swedish AF cohort, no anticoagulation), %/year by score 0–9. */
const ISCHAEMIC_STROKE_PERCENT = [0.2, 0.6, 2.2, 3.2, 4.8, 7.2, 9.7, 11.2, 10.8, 12.2];
const STROKE_TIA_SE_PERCENT = [0.3, 0.9, 2.9, 4.6, 6.7, 10.0, 13.6, 15.7, 15.2, 17.4];

function buildOnnx(): Uint8Array {
  const g = new GraphBuilder('cha2ds2_vasc', 'CHA2DS2-VASc 0-9 with Friberg 2012 annual rates');
  const c = featureColumns(g, 'features', FEATURES);
  const agePoints = stepFunction(g, c.age as string, [65, 75], [0, 1, 2], 'age');
  const score = sum(g, [
    agePoints,
    c.female as string,
    c.chf as string,
    c.hypertension as string,
    c.diabetes as string,
    scale(g, c.strokeTiaThromboembolism as string, 2),
    c.vascularDisease as string,
  ]);
  const index = g.op('Cast', [score], { to: attr.int(ElemType.int64) });
  const lookup = (table: readonly number[], prefix: string) =>
    g.op('Gather', [g.constant(prefix, 'float64', [table.length], table.map((p) => p / 100)), index], { axis: attr.int(0) });
  // Sex-independent points decide the band (ESC: 0 low, 1 consider, ≥ 2 anticoagulation advised).
  const band = stepFunction(g, sub(g, score, c.female as string), [0.5, 1.5], [0, 1, 2], 'band');

  asFloatOutput(g, lookup(ISCHAEMIC_STROKE_PERCENT, 'friberg_ischaemic'), 'probability');
  asFloatOutput(g, score, 'score');
  asInt64Output(g, band, 'band');
  asFloatOutput(g, lookup(STROKE_TIA_SE_PERCENT, 'friberg_stroke_tia_se'), 'stroke_tia_se_rate');
  return encodeModel({
    graph: g,
    docString: 'fhir-risk cha2ds2-vasc: score 0-9, Friberg 2012 annual ischaemic stroke rate, band.',
    metadata: { 'fhir-risk.model-id': 'cha2ds2-vasc', 'fhir-risk.features': FEATURES.join(',') },
  });
}

/** Table values are exact; the float32 output represents them to ~1e-7 of a percent. */
const TABLE_TOLERANCE = 1e-4;

export const cha2ds2Vasc: ModelDefinition = {
  vectorScore: 'cha2ds2_vasc',
  exampleVectorIds: ['cha2ds2vasc-medcalcbench-one-shot-4', 'cha2ds2vasc-young-male-no-rf', 'cha2ds2vasc-maximum-9', 'cha2ds2vasc-male-74-boundary'],
  buildOnnx,
  vectorInputs(v) {
    return vectorFeatures(v, FEATURES, {
      flags: ['chf', 'hypertension', 'diabetes', 'strokeTiaThromboembolism', 'vascularDisease'],
      derived: { female: femaleFlag(v) },
    });
  },
  exampleExpectation(v) {
    const score = Number(v.expected.score);
    return { expected: { score, probability: (ISCHAEMIC_STROKE_PERCENT[score] ?? NaN) / 100 }, tolerance: 1e-6 };
  },
  vectorChecks(v, p) {
    const checks: VectorCheck[] = [
      exactCheck('score', Number(v.expected.score), p.score ?? NaN),
    ];
    const rates: [string, number | undefined][] = [
      ['annualIschemicStrokeRateFriberg2012', p.probability],
      ['annualStrokeTiaSeRateFriberg2012', p.outputs?.stroke_tia_se_rate],
    ];
    for (const [key, fraction] of rates) {
      if (v.expected[key] === undefined) continue;
      checks.push({
        quantity: key,
        expected: Number(v.expected[key]),
        actual: (fraction ?? NaN) * 100,
        tolerance: TABLE_TOLERANCE,
        toleranceReason: `${TABLE_TOLERANCE} %/y: exact table value, float32 output representation`,
      });
    }
    return checks;
  },
  manifest: {
    id: 'cha2ds2-vasc',
    version: '2010.1.0',
    title: 'CHA2DS2-VASc stroke risk in atrial fibrillation (Friberg 2012 annual ischaemic stroke rate)',
    intendedUse:
      'Estimates the annual risk of ischaemic stroke without anticoagulation in adults with non-valvular atrial ' +
      'fibrillation, to support decisions about oral anticoagulation. Not for valvular AF (mechanical valves, moderate–severe ' +
      'mitral stenosis) or patients already deciding on other grounds; bleeding risk must be weighed separately.',
    population: {
      description: 'Adults with non-valvular atrial fibrillation or flutter (active AF on the problem list).',
      ageMin: 18,
      sexes: ['female', 'male'],
      requiresCondition: { valueSets: [valueSet('atrial-fibrillation')] },
    },
    outcome: {
      text: 'Ischaemic stroke within 1 year (annual rate without anticoagulation, Friberg 2012)',
      coding: [{ system: SNOMED, code: '422504002', display: 'Ischemic stroke' }],
    },
    horizon: { value: 1, unit: 'a' },
    onnx: { file: 'model.onnx', input: 'features', outputs: { probability: 'probability', score: 'score', band: 'band' } },
    features: [
      // Descriptions here name each component's points, which the shared ones cannot.
      feature.age({ min: 18 }, 'Age in completed years (65–74: 1 point; 75+: 2).'),
      feature.female('Sex category female (1 point).'),
      feature.activeCondition('chf', 'heart-failure', 'Congestive heart failure / LV dysfunction (1 point).'),
      feature.activeCondition('hypertension', 'hypertension', 'Hypertension (1 point).'),
      feature.diabetes('Diabetes mellitus (1 point).'),
      feature.activeCondition('strokeTiaThromboembolism', 'stroke-tia-thromboembolism', 'Prior stroke, TIA or arterial thromboembolism (2 points).'),
      feature.activeCondition('vascularDisease', 'vascular-disease', 'Prior MI, peripheral artery disease or aortic plaque (1 point).'),
    ],
    triggers: {
      codes: [],
      valueSets: [
        valueSet('atrial-fibrillation'),
        valueSet('heart-failure'),
        valueSet('hypertension'),
        valueSet('diabetes'),
        valueSet('stroke-tia-thromboembolism'),
        valueSet('vascular-disease'),
      ],
    },
    output: {
      bandOn: 'score',
      pointsScore: true,
      bands: [
        { code: 'low', display: 'Low: 0 points besides female sex', riskProbability: 'low' },
        { code: 'intermediate', display: 'Intermediate: 1 point besides female sex (consider anticoagulation)', riskProbability: 'moderate' },
        { code: 'high', display: 'High: 2 or more points besides female sex (anticoagulation recommended)', riskProbability: 'high' },
      ],
    },
    references: [
      {
        citation:
          'Lip GYH et al. Refining clinical risk stratification for predicting stroke and thromboembolism in atrial fibrillation using a novel risk factor-based approach. Chest 2010;137:263-72.',
        url: 'https://doi.org/10.1378/chest.09-1584',
      },
      {
        citation:
          'Friberg L, Rosenqvist M, Lip GYH. Evaluation of risk stratification schemes for ischaemic stroke and bleeding in 182 678 patients with atrial fibrillation: the Swedish Atrial Fibrillation cohort study. Eur Heart J 2012;33:1500-10.',
        url: 'https://doi.org/10.1093/eurheartj/ehr488',
      },
    ],
  },
  card: {
    formula: [
      'Points (0–9): C 1, H 1, A2 (age ≥ 75) 2, D 1, S2 2, V 1, A (65–74) 1, Sc (female) 1. The score indexes the Friberg',
      '2012 table (Swedish AF cohort, never anticoagulated) to give the annual ischaemic stroke rate as `probability`',
      `(${ISCHAEMIC_STROKE_PERCENT.join(', ')} %/y for scores 0–9); an extra output \`stroke_tia_se_rate\` gives the`,
      `stroke/TIA/systemic embolism rate (${STROKE_TIA_SE_PERCENT.join(', ')} %/y).`,
      '',
      'Band output `band`: computed from the score without the sex point (ESC 2016/2020: men 0 / women 1 → low;',
      'men 1 / women 2 → intermediate, consider anticoagulation; men ≥ 2 / women ≥ 3 → high).',
    ].join('\n'),
    variant: [
      'Rates: **Friberg 2012 ischaemic stroke** column of MODELS.md §3.2 (not the Lip 2010 "adjusted stroke rate" ESC table,',
      'whose non-monotonic 8 → 6.7 % is disputed, D8). Vectors\' `annualRateLip2010Adjusted` values are therefore not compared.',
      'Vascular disease follows the value set `vascular-disease` (MI, PAD, aortic plaque; Lip 2010); whether carotid disease',
      'counts depends on that value set (D12).',
    ].join('\n'),
    lookbacks: '- All components are active Conditions at the assessment time (no look-back); age from the birth date.',
    limitations: [
      '- Components come from the coded problem list only; uncoded history (e.g. an echo report of LV dysfunction) is missed,',
      '  which can only lower the score.',
      '- The Friberg rates are observational annual rates in a Swedish cohort, not individual predictions.',
      '- Does not apply without active atrial fibrillation (`no-indication`).',
    ].join('\n'),
  },
};
