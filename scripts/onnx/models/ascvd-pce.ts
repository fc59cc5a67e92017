/**
 * `ascvd-pce`: ACC/AHA 2013 Pooled Cohort Equations, 10-year hard ASCVD risk.
 *
 * Table A coefficients (Goff 2013) with the "precise" baseline of MODELS.md §1.3/1.4: 5-digit
 * S0(10) and 4-decimal mean sums (the values cerner/ascvd-risk-calculator and the ACC spreadsheet
 * use). All four sex/race equations live in one graph; a one-hot of (female, black) picks the row's.
 */
import { GraphBuilder } from '../graph-builder.ts';
import { encodeModel } from '../model.ts';
import {
  asFloatOutput,
  concatColumns,
  featureColumns,
  log,
  matmulConst,
  mul,
  not,
  rowSum,
  sub,
} from '../ops.ts';
import * as feature from './common-features.ts';
import { ACC_AHA_RISK_OUTPUT, CARDIOVASCULAR_DISORDER, TEN_YEAR_PROBABILITY } from './cardiovascular.ts';
import { femaleFlag, toleranceOf, valueSet, vectorFeatures } from './types.ts';
import type { ModelDefinition, ReferenceVector } from './types.ts';

const FEATURES = [
  'age',
  'female',
  'black',
  'totalCholesterol',
  'hdl',
  'systolicBP',
  'onBPTreatment',
  'currentSmoker',
  'diabetes',
] as const;

/** Equation order used by every table below. */
const GROUPS = ['white female', 'African-American female', 'white male', 'African-American male'] as const;

/**
 * Goff 2013 Table A; one row per term, one column per group (GROUPS order). Zero = term absent.
 * Terms: ln age, (ln age)², ln TC, ln age·ln TC, ln HDL, ln age·ln HDL, ln treated SBP,
 * ln age·ln treated SBP, ln untreated SBP, ln age·ln untreated SBP, smoker, ln age·smoker, diabetes.
 */
const TABLE_A: readonly (readonly number[])[] = [
  [-29.799, 17.114, 12.344, 2.469],
  [4.884, 0, 0, 0],
  [13.54, 0.94, 11.853, 0.302],
  [-3.114, 0, -2.664, 0],
  [-13.578, -18.92, -7.99, -0.307],
  [3.149, 4.475, 1.769, 0],
  [2.019, 29.291, 1.797, 1.916],
  [0, -6.432, 0, 0],
  [1.957, 27.82, 1.764, 1.809],
  [0, -6.087, 0, 0],
  [7.574, 0.691, 7.837, 0.549],
  [-1.665, 0, -1.795, 0],
  [0.661, 0.874, 0.658, 0.645],
];
/** Precise variant: 4-decimal mean (β·x) and 5-digit baseline survival at 10 years. */
const MEAN_SUM = [-29.1817, 86.6081, 61.1816, 19.5425];
const BASELINE_SURVIVAL = [0.96652, 0.95334, 0.91436, 0.89536];

function buildOnnx(): Uint8Array {
  const g = new GraphBuilder('ascvd_pce', 'ACC/AHA 2013 Pooled Cohort Equations (Table A, precise baseline)');
  const c = featureColumns(g, 'features', FEATURES);
  const lnAge = log(g, c.age as string);
  const lnTc = log(g, c.totalCholesterol as string);
  const lnHdl = log(g, c.hdl as string);
  const lnSbp = log(g, c.systolicBP as string);
  const treated = c.onBPTreatment as string;
  const untreated = not(g, treated);
  const smoker = c.currentSmoker as string;
  const lnSbpTreated = mul(g, lnSbp, treated);
  const lnSbpUntreated = mul(g, lnSbp, untreated);
  // Table A rows: ln age, its square, then each risk factor followed by its ln-age interaction.
  const withAgeInteraction = (x: string) => [x, mul(g, lnAge, x)];
  const terms = concatColumns(g, [
    ...withAgeInteraction(lnAge),
    ...[lnTc, lnHdl, lnSbpTreated, lnSbpUntreated, smoker].flatMap(withAgeInteraction),
    c.diabetes as string,
  ]);
  // IndSum − MeanSum for all four equations at once: [N, 13]·[13, 4] − [4].
  const centred = sub(g, matmulConst(g, terms, TABLE_A, 'table_a'), g.constant('mean_sum', 'float64', [4], MEAN_SUM));

  const female = c.female as string;
  const black = c.black as string;
  const male = not(g, female);
  const nonBlack = not(g, black);
  const group = concatColumns(g, [mul(g, female, nonBlack), mul(g, female, black), mul(g, male, nonBlack), mul(g, male, black)]);

  const lp = rowSum(g, mul(g, centred, group));
  const s0 = matmulConst(g, group, BASELINE_SURVIVAL.map((s) => [s]), 'baseline_survival');
  const risk = not(g, g.op('Pow', [s0, g.op('Exp', [lp])]));
  asFloatOutput(g, risk, 'probability');
  return encodeModel({
    graph: g,
    docString: 'fhir-risk ascvd-pce: 10-year ASCVD risk, ACC/AHA 2013 PCE, Table A coefficients, precise S0/mean.',
    metadata: { 'fhir-risk.model-id': 'ascvd-pce', 'fhir-risk.features': FEATURES.join(',') },
  });
}

/** The variant we ship; cerner's "spreadsheet" coefficients equal Table A except for AA women. */
function isShippedVariant(v: ReferenceVector): boolean {
  if (v.variant?.baseline !== 'precise') return false;
  const blackFemale = v.inputs.sex === 'female' && v.inputs.race === 'black';
  return v.variant.coefficients === 'tableA' || !blackFemale;
}


export const ascvdPce: ModelDefinition = {
  vectorScore: 'pce',
  exampleVectorIds: [
    'pce-cerner-white-male-46',
    'pce-cerner-black-male-46',
    'pce-cerner-white-female-46',
    'pce-goff2013-tableA-white-male',
  ],
  buildOnnx,
  exampleExpectation(v) {
    const tolerancePercent = isShippedVariant(v) ? toleranceOf(v, 'risk10yPercent') : 0.5;
    return { expected: { probability: Number(v.expected.risk10yPercent) / 100 }, tolerance: tolerancePercent / 100 };
  },
  vectorInputs(v) {
    return vectorFeatures(v, FEATURES, {
      flags: ['onBPTreatment', 'currentSmoker', 'diabetes'],
      derived: { female: femaleFlag(v), black: v.inputs.race === 'black' ? 1 : 0 },
    });
  },
  vectorChecks(v, p) {
    const shipped = isShippedVariant(v);
    return [
      {
        quantity: 'risk10yPercent',
        expected: Number(v.expected.risk10yPercent),
        actual: (p.probability ?? NaN) * 100,
        tolerance: shipped ? toleranceOf(v, 'risk10yPercent') : 0.5,
        ...(shipped ? {} : { sourceTolerance: toleranceOf(v, 'risk10yPercent') }),
        toleranceReason: shipped
          ? 'vector tolerance (same coefficients and baseline as shipped)'
          : `0.5 pp: vector uses variant ${JSON.stringify(v.variant)}, not Table A + precise baseline`,
      },
    ];
  },
  manifest: {
    id: 'ascvd-pce',
    version: '2013.1.0',
    title: 'ACC/AHA 2013 Pooled Cohort Equations: 10-year ASCVD risk',
    intendedUse:
      'Estimates the 10-year risk of a first hard atherosclerotic cardiovascular disease (ASCVD) event ' +
      '(non-fatal myocardial infarction, coronary heart disease death, fatal or non-fatal stroke) for primary ' +
      'prevention in adults aged 40–79 without clinical ASCVD, to support statin and blood-pressure treatment ' +
      'discussions. Not for patients with known ASCVD, LDL-C ≥ 190 mg/dL or familial hypercholesterolaemia.',
    population: {
      description:
        'Adults 40–79 years without clinical ASCVD; equations derived in non-Hispanic White and African-American ' +
        'men and women (White equations are used for other races, as the guideline suggests).',
      ageMin: 40,
      ageMax: 79,
      sexes: ['female', 'male'],
    },
    outcome: {
      text: 'First hard ASCVD event (non-fatal MI, CHD death, fatal or non-fatal stroke) within 10 years',
      coding: [CARDIOVASCULAR_DISORDER],
    },
    ...TEN_YEAR_PROBABILITY,
    features: [
      feature.age({ min: 40, max: 79 }),
      feature.female(),
      {
        name: 'black',
        description: '1 when US Core race includes Black or African American (2054-5); else 0 (White equations).',
        source: { type: 'race', codes: ['2054-5'] },
        missing: { policy: 'absent-is-false' },
      },
      feature.totalCholesterol('P5Y', { min: 130, max: 320 }),
      feature.hdl('P5Y', { min: 20, max: 100 }),
      feature.systolicBP('P2Y', { min: 90, max: 200 }),
      feature.onBPTreatment(),
      feature.currentSmoker('P5Y'),
      feature.diabetes(),
    ],
    triggers: {
      codes: [
        ...feature.CHOLESTEROL_TRIGGER_CODES,
        ...feature.BLOOD_PRESSURE_TRIGGER_CODES,
        feature.LOINC_CODINGS.smokingStatus,
      ],
      valueSets: [valueSet('diabetes')],
    },
    output: ACC_AHA_RISK_OUTPUT,
    references: [
      {
        citation:
          'Goff DC Jr et al. 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk. Circulation 2014;129(25 Suppl 2):S49-73 (Table A).',
        url: 'https://doi.org/10.1161/01.cir.0000437741.48606.98',
      },
      {
        citation: 'Grundy SM et al. 2018 AHA/ACC Guideline on the Management of Blood Cholesterol (risk categories).',
        url: 'https://doi.org/10.1161/CIR.0000000000000625',
      },
    ],
  },
  card: {
    formula: [
      '`IndSum = Σ βᵢ·xᵢ` over ln age, (ln age)², ln TC, ln age·ln TC, ln HDL, ln age·ln HDL, ln SBP (treated or',
      'untreated term), ln age·ln SBP, smoker, ln age·smoker, diabetes (Goff 2013 Table A, one coefficient column per',
      `sex/race group: ${GROUPS.join(', ')}); \`risk = 1 − S0^exp(IndSum − MeanSum)\`.`,
      '',
      'The graph casts the float32 input to double and evaluates all four equations as one `[N,13]·[13,4]` MatMul, then',
      'selects the row\'s equation with a one-hot of (female, black). Output `probability` (float32 `[N,1]`, a fraction).',
    ].join('\n'),
    variant: [
      'Coefficients: Goff 2013 **Table A** (3 decimals), including the African-American female column (not the',
      "4-decimal spreadsheet values of cerner/ascvd-risk-calculator, which move AA-female risk by up to 0.46 pp; MODELS.md D1).",
      '',
      "Baseline: the **precise** variant of MODELS.md §1.3/1.4: mean (β·x) to 4 decimals",
      `(${MEAN_SUM.join(', ')}) and S0(10) to 5 digits (${BASELINE_SURVIVAL.join(', ')}), in the group order above.`,
      'The Table A printed baseline (0.9665/0.9533/0.9144/0.8954, means to 2 decimals) differs by ≤ ~0.02 pp (D2).',
      '',
      'Risk bands (ACC/AHA 2018 cholesterol guideline): low < 5 % → `low`; borderline 5 to < 7.5 % → `moderate`;',
      'intermediate 7.5 to < 20 % → `moderate`; high ≥ 20 % → `high` (risk-probability mapping).',
      '',
      'Outcome coding: SNOMED CT has no single concept for "hard ASCVD event"; the outcome is coded with the parent',
      'concept 49601007 *Disorder of cardiovascular system* and described exactly in `outcome.text`.',
    ].join('\n'),
    lookbacks: [
      '- Total and HDL cholesterol: latest within **P5Y** (the guideline re-assesses risk every 4–6 years; older lipids are `stale-input`).',
      '- Systolic BP: latest within **P2Y**.',
      '- Smoking status: latest within **P5Y**.',
      '- Diabetes, antihypertensive treatment: active at the assessment time (no look-back).',
    ].join('\n'),
    limitations: [
      '- Not for secondary prevention (known ASCVD), LDL-C ≥ 190 mg/dL, or ages outside 40–79 (the model does not apply: `age-out-of-range`).',
      '- Inputs outside TC 130–320 mg/dL, HDL 20–100 mg/dL, SBP 90–200 mm Hg make the model not applicable (never clamped).',
      '- Derived in US cohorts of White and African-American adults; overestimates risk in many contemporary populations.',
      '- Race is read from the US Core race extension; missing or other race uses the White equations.',
      '- A single latest SBP is used, not an average of readings.',
    ].join('\n'),
  },
};
