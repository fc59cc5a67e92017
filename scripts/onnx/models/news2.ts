/**
 * `news2`: Royal College of Physicians National Early Warning Score 2 (2017), Chart 1 and Chart 2.
 *
 * Every parameter's points table is a step function with cuts halfway between the charted
 * integers (one decimal for temperature), which is "round to the charted precision, then band".
 * The graph returns the total, each sub-score, and the band index (the "any single parameter
 * scores 3 → low-medium" rule cannot be a threshold on the total).
 */
import { GraphBuilder, attr } from '../graph-builder.ts';
import { encodeModel } from '../model.ts';
import {
  add,
  asFloatOutput,
  asInt64Output,
  atLeast,
  concatColumns,
  featureColumns,
  greaterThan,
  mul,
  scale,
  stepFunction,
  sub,
  sum,
} from '../ops.ts';
import * as feature from './common-features.ts';
import { VITALS_LOOKBACK } from './common-features.ts';
import { ICD10CM, LOINC, SNOMED, exactCheck, flag, quantity, valueSet } from './types.ts';
import type { ModelDefinition, ReferenceVector, VectorCheck } from './types.ts';

const FEATURES = [
  'respiratoryRate',
  'spo2',
  'spo2Scale2',
  'oxygenFlowRate',
  'systolicBP',
  'pulse',
  'consciousnessNotAlert',
  'temperature',
] as const;

/** Sub-score output names, keyed as in vectors.json `expected.subscores`. */
const SUBSCORES = ['respiratoryRate', 'spo2', 'airOrOxygen', 'systolicBP', 'pulse', 'consciousness', 'temperature'] as const;
const BANDS = ['low', 'low-medium', 'medium', 'high'] as const;
/** Far below the 0.1 °C charted precision, far above float32's ~4e-6 error near 40 °C. */
const FLOAT32_SLACK = 1e-4;

function buildOnnx(): Uint8Array {
  const g = new GraphBuilder('news2', 'RCP NEWS2 (2017): total, sub-scores and clinical-risk band');
  const c = featureColumns(g, 'features', FEATURES);
  const onOxygen = greaterThan(g, c.oxygenFlowRate as string, 0);
  const scale2 = atLeast(g, c.spo2Scale2 as string, 0.5);

  const rr = stepFunction(g, c.respiratoryRate as string, [8.5, 11.5, 20.5, 24.5], [3, 1, 0, 2, 3], 'rr');
  // SpO2 scale 1; scale 2 = low-saturation part (as on air) + high-saturation part on oxygen only.
  const spo2Scale1 = stepFunction(g, c.spo2 as string, [91.5, 93.5, 95.5], [3, 2, 1, 0], 'spo2_s1');
  const spo2Scale2Low = stepFunction(g, c.spo2 as string, [83.5, 85.5, 87.5], [3, 2, 1, 0], 'spo2_s2_low');
  const spo2Scale2High = stepFunction(g, c.spo2 as string, [92.5, 94.5, 96.5], [0, 1, 2, 3], 'spo2_s2_high');
  const spo2Scale2 = add(g, spo2Scale2Low, mul(g, onOxygen, spo2Scale2High));
  const spo2 = add(g, spo2Scale1, mul(g, scale2, sub(g, spo2Scale2, spo2Scale1)));
  const airOrOxygen = scale(g, onOxygen, 2);
  const sbp = stepFunction(g, c.systolicBP as string, [90.5, 100.5, 110.5, 219.5], [3, 2, 1, 0, 3], 'sbp');
  const pulse = stepFunction(g, c.pulse as string, [40.5, 50.5, 90.5, 110.5, 130.5], [3, 1, 0, 1, 2, 3], 'pulse');
  const consciousness = scale(g, atLeast(g, c.consciousnessNotAlert as string, 0.5), 3);
  // 38.05 arrives as float32 38.0499992…: cuts sit 1e-4 below the half-tenths so such values round up.
  const temperatureCuts = [35.05, 36.05, 38.05, 39.05].map((cut) => cut - FLOAT32_SLACK);
  const temperature = stepFunction(g, c.temperature as string, temperatureCuts, [3, 1, 0, 1, 2], 'temp');

  const subscores = [rr, spo2, airOrOxygen, sbp, pulse, consciousness, temperature];
  const total = sum(g, subscores);
  const maxSubscore = g.op('ReduceMax', [concatColumns(g, subscores)], { axes: attr.ints([1]), keepdims: attr.int(1) });
  // Chart 2 precedence (high > medium > low-medium > low) as the max of the three rules' indices.
  const band = g.op('Max', [scale(g, atLeast(g, total, 7), 3), scale(g, atLeast(g, total, 5), 2), atLeast(g, maxSubscore, 3)]);

  asFloatOutput(g, total, 'score');
  asInt64Output(g, band, 'band');
  SUBSCORES.forEach((name, i) => asFloatOutput(g, subscores[i] as string, `subscore_${name}`));
  return encodeModel({
    graph: g,
    docString: 'fhir-risk news2: NEWS2 total (0-20), band index (low, low-medium, medium, high) and sub-scores.',
    metadata: { 'fhir-risk.model-id': 'news2', 'fhir-risk.features': FEATURES.join(',') },
  });
}

/** Normal values used for the parameters a single-parameter vector leaves out (each scores 0). */
const NORMAL = { respiratoryRate: 16, spo2: 97, systolicBP: 120, pulse: 70, temperature: 37 };
/** Oxygen flow standing for "on supplemental oxygen" in vectors (any flow above 0 scores). */
const OXYGEN_FLOW_IN_VECTORS = 2;

function vectorInputs(v: ReferenceVector): Record<string, number> {
  const consciousness = v.inputs.consciousness;
  return {
    respiratoryRate: quantity(v, 'respiratoryRate') ?? NORMAL.respiratoryRate,
    spo2: quantity(v, 'spo2') ?? NORMAL.spo2,
    spo2Scale2: v.inputs.spo2Scale === 2 ? 1 : 0,
    oxygenFlowRate: flag(v, 'onOxygen') * OXYGEN_FLOW_IN_VECTORS,
    systolicBP: quantity(v, 'systolicBP') ?? NORMAL.systolicBP,
    pulse: quantity(v, 'pulse') ?? NORMAL.pulse,
    consciousnessNotAlert: consciousness === undefined || consciousness === 'alert' ? 0 : 1,
    temperature: quantity(v, 'temperature') ?? NORMAL.temperature,
  };
}

const ACVPU = {
  alert: { system: SNOMED, code: '248234008', display: 'Mentally alert' },
  confusion: { system: SNOMED, code: '130987000', display: 'Acute confusion' },
  voice: { system: SNOMED, code: '300202002', display: 'Responds to voice' },
  pain: { system: SNOMED, code: '450847001', display: 'Responds to pain' },
  unresponsive: { system: SNOMED, code: '422768004', display: 'Unresponsive' },
};

export const news2: ModelDefinition = {
  vectorScore: 'news2',
  exampleVectorIds: ['news2-dhos-overall1', 'news2-dhos-overall4', 'news2-dhos-overall5', 'news2-dhos-overall7', 'news2-kscarlett-scale2-high-sats-on-oxygen'],
  buildOnnx,
  vectorInputs,
  exampleExpectation(v) {
    return { expected: { score: Number(v.expected.total), band: String(v.expected.risk) }, tolerance: 0 };
  },
  vectorChecks(v, p, bandCodes) {
    const checks: VectorCheck[] = [];
    if (v.expected.total !== undefined) checks.push(exactCheck('total', Number(v.expected.total), p.score ?? NaN));
    if (v.expected.risk !== undefined) checks.push(exactCheck('risk', String(v.expected.risk), bandCodes[p.bandIndex] ?? '?'));
    const subscores = (v.expected.subscores ?? {}) as Record<string, number>;
    for (const [name, expected] of Object.entries(subscores)) {
      checks.push(exactCheck(`subscores.${name}`, expected, p.outputs?.[`subscore_${name}`] ?? NaN));
    }
    return checks;
  },
  manifest: {
    id: 'news2',
    version: '2017.1.0',
    title: 'National Early Warning Score 2 (NEWS2)',
    intendedUse:
      'Track-and-trigger score of acute-illness severity from routine vital signs in adults (16 years and over) ' +
      'in hospital, to prompt the clinical response of RCP Chart 3. It supports, never replaces, clinical judgement. ' +
      'Not for children under 16 or pregnant women.',
    population: {
      description: 'Adults 16 years and over, excluding pregnancy (RCP 2017).',
      ageMin: 16,
      excludeConditions: { valueSets: [valueSet('pregnancy')] },
    },
    outcome: {
      text: 'Acute clinical deterioration (cardiac arrest, unanticipated ICU admission or death) within 24 hours',
      coding: [],
    },
    horizon: { value: 24, unit: 'h' },
    onnx: { file: 'model.onnx', input: 'features', outputs: { score: 'score', band: 'band' } },
    features: [
      feature.respiratoryRate(VITALS_LOOKBACK),
      feature.observationQuantity({
        name: 'spo2',
        description: 'Oxygen saturation by pulse oximetry.',
        valueSet: 'spo2',
        unit: '%',
        lookback: VITALS_LOOKBACK,
        range: { min: 0, max: 100 },
      }),
      {
        name: 'spo2Scale2',
        description:
          'SpO2 scale 2 in use: 1 when hypercapnic respiratory failure is on the active problem list (the RCP reserves ' +
          'scale 2 for confirmed hypercapnic failure with a prescribed 88–92 % target); else scale 1.',
        source: {
          type: 'condition',
          codes: {
            codes: [
              { system: ICD10CM, code: 'J96.02', display: 'Acute respiratory failure with hypercapnia' },
              { system: ICD10CM, code: 'J96.12', display: 'Chronic respiratory failure with hypercapnia' },
              { system: ICD10CM, code: 'J96.22', display: 'Acute and chronic respiratory failure with hypercapnia' },
              { system: ICD10CM, code: 'J96.92', display: 'Respiratory failure, unspecified with hypercapnia' },
            ],
          },
        },
        select: 'exists',
        missing: { policy: 'absent-is-false' },
      },
      {
        name: 'oxygenFlowRate',
        description: 'Inhaled oxygen flow rate; any flow above 0 L/min means supplemental oxygen (scores 2).',
        source: { type: 'observation', codes: { codes: [{ system: LOINC, code: '3151-8', display: 'Inhaled oxygen flow rate' }] } },
        unit: 'L/min',
        lookback: VITALS_LOOKBACK,
        range: { min: 0 },
        missing: {
          policy: 'assume',
          value: 0,
          assumption: 'No inhaled oxygen flow recorded in the last 24 hours: the patient was assumed to breathe room air.',
        },
      },
      feature.systolicBP(VITALS_LOOKBACK),
      feature.observationQuantity({ name: 'pulse', valueSet: 'heart-rate', unit: '/min', lookback: VITALS_LOOKBACK }),
      {
        name: 'consciousnessNotAlert',
        description: 'ACVPU: 1 for new confusion, voice, pain or unresponsive; 0 for alert.',
        source: {
          type: 'observation',
          codes: { valueSets: [valueSet('consciousness')] },
          value: 'coded',
          positiveCodes: [ACVPU.confusion, ACVPU.voice, ACVPU.pain, ACVPU.unresponsive],
          negativeCodes: [ACVPU.alert],
        },
        lookback: VITALS_LOOKBACK,
        missing: {
          policy: 'assume',
          value: 0,
          assumption: 'Level of consciousness not recorded in the last 24 hours: the patient was assumed to be Alert (ACVPU A).',
        },
      },
      feature.observationQuantity({ name: 'temperature', valueSet: 'body-temperature', unit: 'Cel', lookback: VITALS_LOOKBACK }),
    ],
    triggers: {
      codes: [
        feature.LOINC_CODINGS.respiratoryRate,
        { system: LOINC, code: '2708-6', display: 'Oxygen saturation in Arterial blood' },
        { system: LOINC, code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry' },
        { system: LOINC, code: '3151-8', display: 'Inhaled oxygen flow rate' },
        ...feature.BLOOD_PRESSURE_TRIGGER_CODES,
        { system: LOINC, code: '8867-4', display: 'Heart rate' },
        { system: LOINC, code: '67775-7', display: 'Level of responsiveness' },
        { system: LOINC, code: '8310-5', display: 'Body temperature' },
      ],
      valueSets: [valueSet('consciousness')],
    },
    output: {
      bandOn: 'score',
      pointsScore: true,
      bands: [
        { code: BANDS[0], display: 'Low (aggregate 0–4)', riskProbability: 'low' },
        { code: BANDS[1], display: 'Low–medium (a single parameter scores 3)', riskProbability: 'moderate' },
        { code: BANDS[2], display: 'Medium (aggregate 5–6)', riskProbability: 'moderate', min: 5 },
        { code: BANDS[3], display: 'High (aggregate 7 or more)', riskProbability: 'high', min: 7 },
      ],
    },
    references: [
      {
        citation:
          'Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the assessment of acute-illness severity in the NHS. London: RCP, 2017.',
        url: 'https://www.rcp.ac.uk/improving-care/resources/national-early-warning-score-news-2/',
      },
    ],
  },
  card: {
    formula: [
      'RCP Chart 1 points per parameter, summed (0–20); Chart 2 clinical risk: high if total ≥ 7, else medium if',
      '5–6, else low–medium if any single parameter scores 3, else low (precedence as in the DHOS scoring engine).',
      '',
      'Each points table is a step function with cuts halfway between charted values (e.g. respiration 8.5, 11.5, 20.5,',
      '24.5; temperature 35.05, 36.05, 38.05, 39.05 °C), so values are effectively rounded half-up to the charted',
      'precision (integers; 0.1 °C) before banding. SpO2 scale 2 scores 88–92 % as 0 and, only on oxygen, 93–94 → 1,',
      '95–96 → 2, ≥ 97 → 3; on air ≥ 93 % scores 0. Air/oxygen scores 2 when the inhaled O2 flow is above 0.',
      '',
      `Outputs: \`score\` (float32 total), \`band\` (int64 index into ${BANDS.join(', ')}), and one float32 sub-score per`,
      `parameter: ${SUBSCORES.map((s) => `\`subscore_${s}\``).join(', ')}.`,
    ].join('\n'),
    variant: [
      'RCP 2017 NEWS2 Chart 1 with both SpO2 scales; Chart 2 bands. Nurse concern (used by some engines to escalate to',
      'high) is not part of NEWS2 and not modelled. `low-medium` and `medium` both map to risk-probability `moderate`.',
      '',
      'Horizon: 24 hours, the window in which NEWS/NEWS2 were validated for cardiac arrest, unanticipated ICU admission and',
      'death (Smith 2013; Pimentel 2019); NEWS2 reports a current state, not a probability.',
      '',
      'SpO2 scale 2 is selected by an active hypercapnic respiratory failure diagnosis (ICD-10-CM J96.x2); air vs oxygen',
      'by the inhaled oxygen flow rate (LOINC 3151-8). Single-parameter vectors are run with the other parameters at',
      'normal values (RR 16, SpO2 97 % scale 1 on air, SBP 120, pulse 70, alert, 37 °C) and compare only the sub-score.',
    ].join('\n'),
    lookbacks: [
      '- All vital signs: latest within **PT24H** (an older set does not describe the current state: `stale-input`).',
      '- Consciousness: latest within PT24H; when none is recorded, **Alert is assumed** and the assessment says so in `note`.',
      '- Inhaled oxygen flow: latest within PT24H; when none is recorded, room air is assumed (stated in `note`).',
      '- Hypercapnic respiratory failure (scale 2): active at the assessment time.',
    ].join('\n'),
    limitations: [
      '- The latest value of each parameter is used; they may come from different observation sets within 24 hours.',
      '- A diagnosis of hypercapnic respiratory failure stands in for the clinician\'s prescription of scale 2 (88–92 % target);',
      '  scale 2 is used only when that diagnosis is on the problem list.',
      '- Oxygen given without a recorded flow rate (e.g. only FiO2 or a device) is not detected.',
      '- Not validated for children (< 16 years) or pregnancy (excluded populations); not a diagnosis.',
    ].join('\n'),
  },
};
