/**
 * `model.json`: the manifest that makes a model data, not code.
 *
 * A hospital drops `models/<id>/model.onnx` + `model.json` into `MODELS_DIR` and fhir-risk knows
 * what the model needs (features, in the ONNX input order), when to run it (triggers), who it is
 * for (population), and how to report it (outcome, horizon, bands). Validated with zod on load: a
 * broken manifest disables that model only, with one line naming the file and the problem.
 */
import { z } from 'zod';

const code = z.object({
  system: z.string().min(1),
  code: z.string().min(1),
  display: z.string().optional(),
});
export type ManifestCoding = z.infer<typeof code>;

/**
 * Codes for a feature or trigger: inline codings and/or canonical URLs of ValueSets shipped in
 * `fhir-profiles/valuesets/` (fully listed; there is no terminology server to expand them).
 */
const codeSet = z
  .object({
    codes: z.array(code).default([]),
    valueSets: z.array(z.string().url()).default([]),
  })
  .refine((s) => s.codes.length + s.valueSets.length > 0, 'needs at least one code or value set');
export type CodeSet = z.infer<typeof codeSet>;

/** ISO 8601 duration such as `P1Y`, `P30D`, `PT24H`. */
const isoDuration = z.string().regex(/^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/, 'ISO 8601 duration, e.g. P1Y');

/** Where a feature's value comes from. */
const featureSource = z.discriminatedUnion('type', [
  /** Completed years between `Patient.birthDate` and the assessment time. */
  z.object({ type: z.literal('age') }),
  /** 1 when the patient's administrative sex (or birth sex) equals `equals`, else 0. */
  z.object({ type: z.literal('sex'), equals: z.enum(['female', 'male']) }),
  /** 1 when a US Core race `ombCategory` is in `codes`, else 0 (missing race counts as 0). */
  z.object({ type: z.literal('race'), codes: z.array(z.string()).min(1) }),
  /**
   * An Observation by code, or a component of one (BP panels). `value` says what to read:
   * `quantity` (converted to the feature's `unit`), or `coded` (1 when the value's code is in
   * `positiveCodes`, 0 when in `negativeCodes`, missing otherwise).
   */
  z.object({
    type: z.literal('observation'),
    codes: codeSet,
    component: codeSet.optional(),
    value: z.enum(['quantity', 'coded']).default('quantity'),
    positiveCodes: z.array(code).optional(),
    negativeCodes: z.array(code).optional(),
  }),
  /** 1 when an active, non-refuted Condition matches, else 0. */
  z.object({ type: z.literal('condition'), codes: codeSet }),
  /** 1 when an active MedicationRequest (or MedicationStatement) matches, else 0. */
  z.object({ type: z.literal('medication'), codes: codeSet }),
]);
export type FeatureSource = z.infer<typeof featureSource>;

/**
 * What to do when a feature has no usable value:
 * - `not-applicable`: the model does not apply (reason `missing-input` or `stale-input`).
 * - `assume`: use `value` and say so in the RiskAssessment `note` (`assumption` text).
 * - `absent-is-false`: for exists-style booleans, no match means 0 (not an assumption).
 */
const missingPolicy = z.discriminatedUnion('policy', [
  z.object({ policy: z.literal('not-applicable') }),
  z.object({ policy: z.literal('absent-is-false') }),
  z.object({ policy: z.literal('assume'), value: z.number(), assumption: z.string().min(1) }),
]);
export type MissingPolicy = z.infer<typeof missingPolicy>;

const featureSpec = z.object({
  /** Name used in examples, logs and the assessment's feature list. */
  name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]*$/),
  description: z.string().optional(),
  source: featureSource,
  /** `latest` by effective time, `exists`, or an aggregate over the look-back window. */
  select: z.enum(['latest', 'exists', 'mean', 'min', 'max']).default('latest'),
  /** Only data this recent counts (e.g. labs within `P1Y`). Older data is `stale-input`. */
  lookback: isoDuration.optional(),
  /** Target UCUM unit; quantities are converted with @lhncbc/ucum-lhc. */
  unit: z.string().optional(),
  /** Valid range; outside it the model does not apply (never clamped). */
  range: z.object({ min: z.number().optional(), max: z.number().optional() }).optional(),
  missing: missingPolicy.default({ policy: 'not-applicable' }),
});
export type FeatureSpec = z.infer<typeof featureSpec>;

const band = z.object({
  /** Code in `http://fhir-risk.org/fhir/CodeSystem/risk-band`, e.g. `low`, `low-medium`, `high`. */
  code: z.string().min(1),
  display: z.string().min(1),
  /** Mapping to `http://terminology.hl7.org/CodeSystem/risk-probability`. */
  riskProbability: z.enum(['negligible', 'low', 'moderate', 'high', 'certain']),
  /** Inclusive lower bound on the banded output (`output.bandOn`); omit for the first band. */
  min: z.number().optional(),
});
export type ManifestBand = z.infer<typeof band>;

const example = z.object({
  name: z.string(),
  inputs: z.record(z.string(), z.number()),
  expected: z.object({
    probability: z.number().optional(),
    score: z.number().optional(),
    band: z.string().optional(),
  }),
  tolerance: z.number().nonnegative().default(1e-6),
  source: z.string().optional(),
});
export type ModelExample = z.infer<typeof example>;

export const modelManifestSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and hyphens'),
  version: z.string().min(1),
  title: z.string().min(1),
  /** Plain words: what the model estimates, for whom, and what it is not for. */
  intendedUse: z.string().min(1),
  population: z.object({
    description: z.string().min(1),
    ageMin: z.number().optional(),
    ageMax: z.number().optional(),
    /** Sex-specific equations: other values are `sex-not-supported`. */
    sexes: z.array(z.enum(['female', 'male'])).optional(),
    /** The model applies only when one of these conditions is active (CHA2DS2-VASc: AF). */
    requiresCondition: codeSet.optional(),
    /** Populations the model excludes (NEWS2: pregnancy). */
    excludeConditions: codeSet.optional(),
  }),
  outcome: z.object({ text: z.string().min(1), coding: z.array(code).default([]) }),
  /** Prediction horizon, written as `whenPeriod` (occurrence → +horizon). Absent for "now" scores. */
  horizon: z.object({ value: z.number().positive(), unit: z.enum(['a', 'mo', 'd', 'h']) }).optional(),
  onnx: z.object({
    file: z.string().default('model.onnx'),
    /** Name of the single float32 input, shape [batch, features.length]. */
    input: z.string().default('features'),
    /** ONNX output names; each [batch, 1]. At least one of probability and score. */
    outputs: z
      .object({ probability: z.string().optional(), score: z.string().optional(), band: z.string().optional() })
      .refine((o) => o.probability !== undefined || o.score !== undefined, 'needs a probability or a score output'),
  }),
  features: z.array(featureSpec).min(1),
  /** Observation/Condition codes whose change makes this model re-score the patient. */
  triggers: codeSet,
  output: z.object({
    /** Which output the bands are read from; a `band` ONNX output (index into `bands`) overrides this. */
    bandOn: z.enum(['probability', 'score']),
    bands: z.array(band).min(1),
    /** Whether `score` is a points score written in the `risk-score` extension. */
    pointsScore: z.boolean().default(false),
  }),
  references: z.array(z.object({ citation: z.string(), url: z.string().optional() })).default([]),
  /** The model's own cases, run by `models verify` and the test suite. */
  examples: z.array(example).default([]),
});
export type ModelManifest = z.infer<typeof modelManifestSchema>;
