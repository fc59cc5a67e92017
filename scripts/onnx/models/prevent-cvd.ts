/**
 * `prevent-cvd`: AHA PREVENT equations (Khan 2023/2024), base model, 10-year total CVD (logistic).
 * The 10-year ASCVD equation rides along as an extra output (`ascvd`); heart failure needs BMI and
 * is not included, so a missing BMI never blocks the total-CVD estimate.
 */
import { GraphBuilder } from '../graph-builder.ts';
import { encodeModel } from '../model.ts';
import {
  affine,
  asFloatOutput,
  columnOf,
  concatColumns,
  featureColumns,
  matmulConst,
  maxWith,
  minWith,
  mul,
  not,
  onesLike,
  rowSum,
  scale,
  sub,
} from '../ops.ts';
import { ACC_AHA_RISK_OUTPUT, CARDIOVASCULAR_DISORDER, TEN_YEAR_PROBABILITY } from './cardiovascular.ts';
import * as feature from './common-features.ts';
import { LOINC, femaleFlag, toleranceOf, valueSet, vectorFeatures } from './types.ts';
import type { ModelDefinition, VectorCheck } from './types.ts';

const FEATURES = [
  'age',
  'female',
  'totalCholesterol',
  'hdl',
  'systolicBP',
  'onBPTreatment',
  'onStatin',
  'currentSmoker',
  'diabetes',
  'egfr',
] as const;

/** mg/dL → mmol/L for cholesterol, as preventr and the PREVENT paper use. */
const MMOL_PER_MG_DL = 0.02586;

/**
 * Coefficients from preventr `sysdata.rda` `base_10yr` (= PREVENT Table S12; CDC KDSS for total CVD).
 * Columns: female total CVD, male total CVD, female ASCVD, male ASCVD. Rows in TERMS order.
 */
const TERMS = [
  'age_t', 'nonHDL_t', 'HDL_t', 'SBP<110', 'SBP≥110', 'diabetes', 'smoking', 'eGFR<60', 'eGFR≥60', 'bpTx', 'statin',
  'bpTx·SBP≥110', 'statin·nonHDL_t', 'age_t·nonHDL_t', 'age_t·HDL_t', 'age_t·SBP≥110', 'age_t·diabetes', 'age_t·smoking',
  'age_t·eGFR<60', 'constant',
] as const;
const COEFFICIENTS: readonly (readonly number[])[] = [
  [0.7939329, 0.7688528, 0.719883, 0.7099847],
  [0.0305239, 0.0736174, 0.1176967, 0.1658663],
  [-0.1606857, -0.0954431, -0.151185, -0.1144285],
  [-0.2394003, -0.4347345, -0.0835358, -0.2837212],
  [0.3600781, 0.3362658, 0.3592852, 0.3239977],
  [0.8667604, 0.7692857, 0.8348585, 0.7189597],
  [0.5360739, 0.4386871, 0.4831078, 0.3956973],
  [0.6045917, 0.5378979, 0.4864619, 0.3690075],
  [0.0433769, 0.0164827, 0.0397779, 0.0203619],
  [0.3151672, 0.288879, 0.2265309, 0.2036522],
  [-0.1477655, -0.1337349, -0.0592374, -0.0865581],
  [-0.0663612, -0.0475924, -0.0395762, -0.0322916],
  [0.1197879, 0.150273, 0.0844423, 0.114563],
  [-0.0819715, -0.0517874, -0.0567839, -0.0300005],
  [0.0306769, 0.0191169, 0.0325692, 0.0232747],
  [-0.0946348, -0.1049477, -0.1035985, -0.0927024],
  [-0.27057, -0.2251948, -0.2417542, -0.2018525],
  [-0.078715, -0.0895067, -0.0791142, -0.0970527],
  [-0.1637806, -0.1543702, -0.1671492, -0.1217081],
  [-3.307728, -3.031168, -3.819975, -3.500655],
];

function buildOnnx(): Uint8Array {
  if (COEFFICIENTS.length !== TERMS.length) throw new Error('prevent-cvd: one coefficient row per term');
  const g = new GraphBuilder('prevent_cvd', 'AHA PREVENT base model, 10-year total CVD and ASCVD');
  const c = featureColumns(g, 'features', FEATURES);
  const age = affine(g, c.age as string, -55, 1 / 10);
  const tcMmol = scale(g, c.totalCholesterol as string, MMOL_PER_MG_DL);
  const hdlMmol = scale(g, c.hdl as string, MMOL_PER_MG_DL);
  const nonHdl = affine(g, sub(g, tcMmol, hdlMmol), -3.5, 1);
  const hdl = affine(g, hdlMmol, -1.3, 1 / 0.3);
  const sbp = c.systolicBP as string;
  const sbpLow = affine(g, minWith(g, sbp, 110), -110, 1 / 20);
  const sbpHigh = affine(g, maxWith(g, sbp, 110), -130, 1 / 20);
  const egfr = c.egfr as string;
  const egfrLow = affine(g, minWith(g, egfr, 60), -60, -1 / 15);
  const egfrHigh = affine(g, maxWith(g, egfr, 60), -90, -1 / 15);
  const bpTx = c.onBPTreatment as string;
  const statin = c.onStatin as string;
  const diabetes = c.diabetes as string;
  const smoking = c.currentSmoker as string;

  const terms = concatColumns(g, [
    age, nonHdl, hdl, sbpLow, sbpHigh, diabetes, smoking, egfrLow, egfrHigh, bpTx, statin,
    mul(g, bpTx, sbpHigh), mul(g, statin, nonHdl), mul(g, age, nonHdl), mul(g, age, hdl), mul(g, age, sbpHigh),
    mul(g, age, diabetes), mul(g, age, smoking), mul(g, age, egfrLow), onesLike(g, age),
  ]);
  const risks = g.op('Sigmoid', [matmulConst(g, terms, COEFFICIENTS, 'prevent_base_10yr')]);
  const female = c.female as string;
  const bySex = concatColumns(g, [female, not(g, female)]);
  const pick = (first: number) => rowSum(g, mul(g, concatColumns(g, [columnOf(g, risks, first), columnOf(g, risks, first + 1)]), bySex));

  asFloatOutput(g, pick(0), 'probability');
  asFloatOutput(g, pick(2), 'ascvd');
  return encodeModel({
    graph: g,
    docString: 'fhir-risk prevent-cvd: AHA PREVENT base model 10-year total CVD (probability) and ASCVD (ascvd).',
    metadata: { 'fhir-risk.model-id': 'prevent-cvd', 'fhir-risk.features': FEATURES.join(','), 'fhir-risk.terms': TERMS.join(',') },
  });
}

export const preventCvd: ModelDefinition = {
  vectorScore: 'prevent_base_10y',
  exampleVectorIds: ['prevent-preventr-female-50-default', 'prevent-preventr-male-50-default', 'prevent-preventr-male-59-smoker'],
  buildOnnx,
  vectorInputs(v) {
    return vectorFeatures(v, FEATURES, { flags: ['onBPTreatment', 'onStatin', 'currentSmoker', 'diabetes'], derived: { female: femaleFlag(v) } });
  },
  exampleExpectation(v) {
    return { expected: { probability: Number(v.expected.total_cvd) }, tolerance: toleranceOf(v, 'total_cvd') };
  },
  vectorChecks(v, p) {
    const checks: VectorCheck[] = [];
    const compare = (key: string, actual: number | undefined) => {
      if (v.expected[key] === undefined) return;
      checks.push({
        quantity: key,
        expected: Number(v.expected[key]),
        actual: actual ?? NaN,
        tolerance: toleranceOf(v, key),
        toleranceReason: 'vector tolerance (preventr rounds to 3 decimals; same coefficients as shipped)',
      });
    };
    compare('total_cvd', p.probability);
    compare('ascvd', p.outputs?.ascvd);
    return checks;
  },
  manifest: {
    id: 'prevent-cvd',
    version: '2023.1.0',
    title: 'AHA PREVENT (2023) base model: 10-year total cardiovascular disease risk',
    intendedUse:
      'Estimates the 10-year risk of total cardiovascular disease (ASCVD or heart failure) for primary prevention in adults ' +
      'aged 30–79 without known cardiovascular disease, race-free, including kidney function. Supports prevention ' +
      'discussions; not for patients with established CVD.',
    population: {
      description: 'Adults 30–79 years without known cardiovascular disease (ASCVD or heart failure).',
      ageMin: 30,
      ageMax: 79,
      sexes: ['female', 'male'],
    },
    outcome: {
      text: 'First total cardiovascular disease event (ASCVD: CHD or stroke; or heart failure) within 10 years',
      coding: [CARDIOVASCULAR_DISORDER],
    },
    ...TEN_YEAR_PROBABILITY,
    features: [
      feature.age({ min: 30, max: 79 }),
      feature.female(),
      feature.totalCholesterol('P5Y', { min: 130, max: 320 }),
      feature.hdl('P5Y', { min: 20, max: 100 }),
      feature.systolicBP('P2Y', { min: 90, max: 180 }),
      feature.onBPTreatment(),
      feature.activeMedication('onStatin', 'statins'),
      feature.currentSmoker('P5Y'),
      feature.diabetes(),
      feature.observationQuantity({
        name: 'egfr',
        description: 'Estimated GFR (CKD-EPI 2021, race-free, LOINC 98979-8 preferred).',
        valueSet: 'egfr',
        unit: 'mL/min/{1.73_m2}',
        lookback: 'P2Y',
        range: { min: 15, max: 140 },
      }),
    ],
    triggers: {
      codes: [
        ...feature.CHOLESTEROL_TRIGGER_CODES,
        ...feature.BLOOD_PRESSURE_TRIGGER_CODES,
        feature.LOINC_CODINGS.smokingStatus,
        { system: LOINC, code: '98979-8', display: 'Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)' },
      ],
      valueSets: [valueSet('egfr'), valueSet('diabetes')],
    },
    output: ACC_AHA_RISK_OUTPUT,
    references: [
      {
        citation:
          "Khan SS et al. Development and Validation of the American Heart Association's PREVENT Equations. Circulation 2024;149:430-449 (Supplement Table S12).",
        url: 'https://doi.org/10.1161/CIRCULATIONAHA.123.067626',
      },
      { citation: 'martingmayer/preventr v0.12.0 (commit ebe2ac1), R/sysdata.rda base_10yr; CDC KDSS Q811.' },
    ],
  },
  card: {
    formula: [
      'Logistic: `risk = 1/(1 + e^−(Σβ·x + constant))` with age_t = (age − 55)/10, nonHDL_t = (TC − HDL)·0.02586 − 3.5,',
      'HDL_t = (HDL·0.02586 − 1.3)/0.3, SBP<110 = (min(SBP,110) − 110)/20, SBP≥110 = (max(SBP,110) − 130)/20,',
      'eGFR<60 = (min(eGFR,60) − 60)/−15, eGFR≥60 = (max(eGFR,60) − 90)/−15 and the interactions bpTx·SBP≥110,',
      'statin·nonHDL_t, age_t·{nonHDL_t, HDL_t, SBP≥110, diabetes, smoking, eGFR<60}. BMI terms are zero for total CVD and',
      'ASCVD and BMI is not an input.',
      '',
      'The graph evaluates the female and male total-CVD and ASCVD equations as one `[N,20]·[20,4]` MatMul in double,',
      'applies Sigmoid and picks the row\'s sex. Outputs: `probability` (10-year total CVD) and `ascvd` (10-year ASCVD).',
    ].join('\n'),
    variant: [
      'Base model (no UACR, HbA1c or SDI), 10-year, coefficients from preventr `base_10yr` (MODELS.md §1b.3), which match',
      'Table S12 and the CDC KDSS page; not the erroneous public sets of D7. Cholesterol mg/dL → mmol/L with 0.02586.',
      'Bands reuse the ACC/AHA risk categories (< 5, 5–7.5, 7.5–20, ≥ 20 %) for consistency with `ascvd-pce`; PREVENT-specific',
      'treatment thresholds are not yet guideline-endorsed. Heart-failure expectations in the vectors are not compared (no BMI input).',
    ].join('\n'),
    lookbacks: [
      '- Total and HDL cholesterol: latest within **P5Y**; systolic BP and eGFR: latest within **P2Y**; smoking status within **P5Y**.',
      '- Diabetes, antihypertensive and statin use: active at the assessment time.',
    ].join('\n'),
    limitations: [
      '- Not for established CVD; ages outside 30–79 or inputs outside TC 130–320, HDL 20–100, SBP 90–180, eGFR 15–140 make',
      '  the model not applicable (never clamped).',
      '- eGFR must be a race-free CKD-EPI 2021 value; eGFR computed here from creatinine is not supported (the Observation is read as is).',
      '- Derived in US cohorts; calibration elsewhere is unknown.',
    ].join('\n'),
  },
};
