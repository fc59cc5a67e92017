/**
 * `qsofa`: quick Sequential Organ Failure Assessment (Sepsis-3, Singer/Seymour 2016).
 * One point each for respiratory rate ≥ 22/min, systolic BP ≤ 100 mm Hg, GCS < 15; positive ≥ 2.
 */
import { GraphBuilder } from '../graph-builder.ts';
import { encodeModel } from '../model.ts';
import { asFloatOutput, atLeast, below, featureColumns, sum } from '../ops.ts';
import * as feature from './common-features.ts';
import { VITALS_LOOKBACK } from './common-features.ts';
import { LOINC, exactCheck, vectorFeatures } from './types.ts';
import type { ModelDefinition } from './types.ts';

const FEATURES = ['respiratoryRate', 'systolicBP', 'gcs'] as const;

function buildOnnx(): Uint8Array {
  const g = new GraphBuilder('qsofa', 'qSOFA (Sepsis-3): 0-3');
  const c = featureColumns(g, 'features', FEATURES);
  // Cuts halfway between integers: RR ≥ 22, SBP ≤ 100, GCS ≤ 14 after rounding half-up.
  const score = sum(g, [
    atLeast(g, c.respiratoryRate as string, 21.5),
    below(g, c.systolicBP as string, 100.5),
    below(g, c.gcs as string, 14.5),
  ]);
  asFloatOutput(g, score, 'score');
  return encodeModel({
    graph: g,
    docString: 'fhir-risk qsofa: qSOFA score 0-3 (positive at 2 or more).',
    metadata: { 'fhir-risk.model-id': 'qsofa', 'fhir-risk.features': FEATURES.join(',') },
  });
}

export const qsofa: ModelDefinition = {
  vectorScore: 'qsofa',
  exampleVectorIds: ['qsofa-boundaries-inclusive', 'qsofa-just-below-boundaries', 'qsofa-all-three', 'qsofa-gcs14-only'],
  buildOnnx,
  vectorInputs: (v) => vectorFeatures(v, FEATURES),
  exampleExpectation(v) {
    return { expected: { score: Number(v.expected.score), band: v.expected.positive === true ? 'high' : 'low' }, tolerance: 0 };
  },
  vectorChecks(v, p, bandCodes) {
    return [
      exactCheck('score', Number(v.expected.score), p.score ?? NaN),
      exactCheck('positive', String(v.expected.positive), String(bandCodes[p.bandIndex] === 'high')),
    ];
  },
  manifest: {
    id: 'qsofa',
    version: '2016.1.0',
    title: 'quick SOFA (qSOFA), Sepsis-3',
    intendedUse:
      'Bedside prompt, in adults with suspected infection outside the ICU, to identify those at greater risk of a poor ' +
      'outcome (in-hospital death or prolonged ICU stay). A positive qSOFA (2 or more) should prompt assessment for ' +
      'organ dysfunction and sepsis. It is not a diagnostic criterion for sepsis and not a screening tool for patients ' +
      'without suspected infection.',
    population: { description: 'Adults (18 years and over) with suspected infection outside the ICU.', ageMin: 18 },
    outcome: { text: 'In-hospital death or ICU stay of 3 days or more during the index hospitalisation', coding: [] },
    onnx: { file: 'model.onnx', input: 'features', outputs: { score: 'score' } },
    features: [
      feature.respiratoryRate(VITALS_LOOKBACK),
      feature.systolicBP(VITALS_LOOKBACK),
      feature.observationQuantity({
        name: 'gcs',
        description: 'Glasgow Coma Scale total; below 15 counts as altered mentation (Sepsis-3).',
        valueSet: 'gcs',
        unit: '{score}',
        lookback: VITALS_LOOKBACK,
        range: { min: 3, max: 15 },
        missing: {
          policy: 'assume',
          value: 15,
          assumption: 'No Glasgow Coma Scale recorded in the last 24 hours: normal mentation (GCS 15) was assumed.',
        },
      }),
    ],
    triggers: {
      codes: [
        feature.LOINC_CODINGS.respiratoryRate,
        ...feature.BLOOD_PRESSURE_TRIGGER_CODES,
        { system: LOINC, code: '9269-2', display: 'Glasgow coma score total' },
      ],
      valueSets: [],
    },
    output: {
      bandOn: 'score',
      pointsScore: true,
      bands: [
        { code: 'low', display: 'qSOFA negative (0–1)', riskProbability: 'low' },
        { code: 'high', display: 'qSOFA positive (2–3)', riskProbability: 'high', min: 2 },
      ],
    },
    references: [
      {
        citation: 'Singer M et al. The Third International Consensus Definitions for Sepsis and Septic Shock (Sepsis-3). JAMA 2016;315:801-10.',
        url: 'https://doi.org/10.1001/jama.2016.0287',
      },
      {
        citation: 'Seymour CW et al. Assessment of Clinical Criteria for Sepsis. JAMA 2016;315:762-74.',
        url: 'https://doi.org/10.1001/jama.2016.0288',
      },
    ],
  },
  card: {
    formula:
      'One point each for respiratory rate ≥ 22/min, systolic BP ≤ 100 mm Hg and altered mentation (GCS < 15); score 0–3, ' +
      'positive at ≥ 2. Cuts are halfway between integers (21.5, 100.5, 14.5). Output `score` (float32 `[N,1]`); the band is a ' +
      'threshold on the score (`high` from 2).',
    variant: [
      'Sepsis-3 / qsofa.org boundaries: inclusive ≥ 22 and ≤ 100 (fpnotebook\'s "> 22" / "< 100" is wrong, MODELS.md D10),',
      'and GCS < 15 for altered mentation (Seymour\'s derivation used GCS ≤ 13). Band codes: `low` = negative, `high` = positive.',
    ].join('\n'),
    lookbacks: [
      '- Respiratory rate, systolic BP, GCS: latest within **PT24H**.',
      '- GCS not recorded: normal mentation (GCS 15) is **assumed** and said in `note`; a recorded ACVPU is not used.',
    ].join('\n'),
    limitations: [
      '- The service cannot tell whether infection is suspected: the score is computed for every adult with recent vitals.',
      '- Assuming GCS 15 when it is missing can only lower the score; a negative qSOFA with that assumption is weaker evidence.',
      '- Not validated inside the ICU (use SOFA there).',
    ].join('\n'),
  },
};
