/**
 * Validation of a RiskAssessment before it is written: a failing assessment is a bug and is never
 * written.
 *
 * Three layers:
 * 1. FHIR R4 base validation (@medplum/core `validateResource`): structure, types, invariants.
 * 2. Our profile (`fhir-profiles/StructureDefinition-fhir-risk-assessment.json`, with its generated
 *    snapshot): cardinalities, fixed systems, slices and the fra-* invariants.
 * 3. Our own code checks, because @medplum/core does not check required bindings: the two
 *    qualitativeRisk codings, the method system, the identifier, probability 0–1.
 *
 * The base definitions are indexed into @medplum/core's global schema once per process (they are
 * large: a few hundred milliseconds).
 */
import type { RiskAssessment, StructureDefinition } from 'fhir/r4.js';
import { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } from '@medplum/core';
import {
  ASSESSMENT_IDENTIFIER_SYSTEM,
  MODELS_SYSTEM,
  RISK_ASSESSMENT_PROFILE,
  RISK_BAND_SYSTEM,
  RISK_PROBABILITY_CODES,
  RISK_PROBABILITY_SYSTEM,
  RISK_SCORE_EXTENSION,
} from './canonical.ts';
import { readOurCodeSystem, readOurStructureDefinitions, readValidationDefinitions } from './profiles.ts';

/** Thrown when a RiskAssessment does not conform; `issues` has one line per problem. */
export class RiskAssessmentValidationError extends Error {
  constructor(
    readonly issues: readonly string[],
    label: string,
  ) {
    super(`${label} does not conform to ${RISK_ASSESSMENT_PROFILE}:\n  - ${issues.join('\n  - ')}`);
    this.name = 'RiskAssessmentValidationError';
  }
}

interface Conformance {
  profile: StructureDefinition;
  riskBandCodes: ReadonlySet<string>;
}

/** @medplum/core's own FHIR types (structurally the same JSON as `fhir/r4.js`). */
type MedplumBundleArg = Parameters<typeof indexStructureDefinitionBundle>[0];
type MedplumResource = Parameters<typeof validateResource>[0];
type MedplumValidatorOptions = NonNullable<Parameters<typeof validateResource>[1]>;
type OperationOutcomeIssue = ReturnType<typeof validateResource>[number];

let conformance: Conformance | undefined;

/** Indexes the R4 base definitions and ours into @medplum/core (once) and reads our code lists. */
function loadConformance(): Conformance {
  if (conformance) return conformance;
  // All datatype definitions (with their invariants), but of the resources only RiskAssessment:
  // we never use `contained`, and reading all ~150 would cost seconds and 200+ MB at start-up.
  const { types, resources } = readValidationDefinitions();
  indexStructureDefinitionBundle(types as MedplumBundleArg);
  indexStructureDefinitionBundle(resources as MedplumBundleArg);
  const ours = readOurStructureDefinitions();
  // Our extensions and the profile are indexed under their own URLs (not as base types), so
  // loading them never changes how base resources validate.
  indexStructureDefinitionBundle(ours as MedplumBundleArg);
  const profile = ours.find((sd) => sd.url === RISK_ASSESSMENT_PROFILE);
  if (!profile?.snapshot) throw new Error(`fhir-profiles has no ${RISK_ASSESSMENT_PROFILE} with a snapshot`);
  const riskBand = readOurCodeSystem('risk-band');
  conformance = { profile, riskBandCodes: new Set((riskBand.concept ?? []).map((c) => c.code)) };
  return conformance;
}

/**
 * Loads the definitions now (seconds, and tens of MB transiently) so the first scoring does not
 * block the event loop while notifications are arriving. Called at start-up.
 */
export function warmUpValidation(): void {
  loadConformance();
}

/**
 * Shapes (element paths present, values left out) that already passed both @medplum/core passes.
 * Those passes cost about 3 ms per assessment (a FHIRPath evaluation per element, re-parsing the
 * profile), a fifth of the pipeline's CPU under load, while our builder produces a handful of
 * shapes per model. A shape seen for the first time gets both full passes; a known shape has the
 * same elements, types, cardinalities and slices, so only its values can differ, and those are
 * checked on every call: each primitive against its FHIR format (`primitiveProblems`) and every
 * rule of `ownChecks`. Anything wrong on a known shape re-runs both full passes for the diagnosis.
 */
const shapesPassing = new Set<string>();
const MAX_REMEMBERED_SHAPES = 1000;

function shapeOf(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(shapeOf).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${k}:${shapeOf((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return typeof value;
}

/** FHIR R4 primitive formats (datatypes.html#primitive) of the fields our assessments carry. */
const PRIMITIVE_FORMATS: readonly (readonly [RegExp, RegExp, string])[] = [
  [/(^|\.)(id)$/, /^[A-Za-z0-9\-.]{1,64}$/, 'id'],
  [/(^|\.)(code|status)$/, /^[^\s]+( [^\s]+)*$/, 'code'],
  [/(^|\.)(system|url|profile)$/, /^\S+$/, 'uri'],
  [/(DateTime|^meta\.lastUpdated|Period\.(start|end))$/, /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$/, 'dateTime'],
];

/** Problems with the primitive values of `value` (paths without indexes, e.g. `prediction.outcome.text`). */
function primitiveProblems(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => primitiveProblems(v, path));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => primitiveProblems(v, path ? `${path}.${k}` : k));
  }
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [`${path}: not a finite decimal`];
  if (typeof value !== 'string') return [];
  if (value.trim() === '') return [`${path}: empty or blank string`];
  const format = PRIMITIVE_FORMATS.find(([field]) => field.test(path));
  return format && !format[1].test(value) ? [`${path}: not a valid FHIR ${format[2]}`] : [];
}

/**
 * Validates a RiskAssessment against FHIR R4, the fhir-risk profile and our code rules.
 * Returns the warnings of a shape seen for the first time (e.g. "a resource should have narrative");
 * throws
 * {@link RiskAssessmentValidationError} listing every error. Messages name paths and rules, never
 * values (no patient data).
 */
export function validateRiskAssessment(ra: RiskAssessment): readonly string[] {
  const { profile, riskBandCodes } = loadConformance();
  const shape = shapeOf(ra);
  const own = ownChecks(ra, riskBandCodes);
  if (own.length === 0 && shapesPassing.has(shape) && primitiveProblems(ra).length === 0) return [];
  const errors: string[] = [];
  const warnings: string[] = [];
  const layers = [
    ['FHIR R4', undefined],
    ['profile', { profile } as MedplumValidatorOptions],
  ] as const;
  for (const [layer, options] of layers) {
    for (const issue of medplumIssues(ra, options)) {
      if (isKnownFalsePositive(ra, issue)) continue;
      const line = `${layer}: ${formatIssue(issue)}`;
      if (issue.severity === 'error' || issue.severity === 'fatal') errors.push(line);
      else warnings.push(line);
    }
  }
  errors.push(...own, ...primitiveProblems(ra).map((p) => `FHIR R4: ${p}`));
  if (errors.length === 0 && shapesPassing.size < MAX_REMEMBERED_SHAPES) shapesPassing.add(shape);
  if (errors.length > 0) {
    const label = `RiskAssessment${ra.id ? '/' + ra.id : ''} (model ${ra.method?.coding?.[0]?.code ?? 'unknown'})`;
    throw new RiskAssessmentValidationError([...new Set(errors)], label);
  }
  return warnings;
}

/** Runs @medplum/core's validator and returns all its issues, whether it threw or not. */
function medplumIssues(ra: RiskAssessment, options: MedplumValidatorOptions | undefined): OperationOutcomeIssue[] {
  try {
    return validateResource(ra as MedplumResource, options);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome.issue ?? [];
    throw err;
  }
}

/**
 * R4's ras-2 (`probability is decimal implies (probability as decimal) <= 100`) evaluates to empty,
 * not true, on a prediction without a probability, and @medplum/core counts empty as failed. Points
 * models (NEWS2, qSOFA) have no probability, so this one report is dropped for them; the range of a
 * probability that is present is checked by fra-6 and by our own checks.
 */
function isKnownFalsePositive(ra: RiskAssessment, issue: OperationOutcomeIssue): boolean {
  const text = issue.details?.text ?? issue.diagnostics ?? '';
  if (!/Constraint ras-2 not met/.test(text)) return false;
  const index = /prediction\[(\d+)\]$/.exec(issue.expression?.[0] ?? '')?.[1];
  const prediction = index === undefined ? undefined : ra.prediction?.[Number(index)];
  return prediction !== undefined && prediction.probabilityDecimal === undefined && prediction.probabilityRange === undefined;
}

function formatIssue(issue: OperationOutcomeIssue): string {
  const where = issue.expression?.join(', ') ?? '';
  const what = issue.details?.text ?? issue.diagnostics ?? issue.code;
  return where ? `${where}: ${what}` : what;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const MODEL_ID = /^[a-z0-9][a-z0-9-]*$/;

/** The rules @medplum/core cannot check (required bindings) or that we want spelled out. */
function ownChecks(ra: RiskAssessment, riskBandCodes: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const fail = (message: string): number => problems.push(message);

  if (ra.resourceType !== 'RiskAssessment') fail(`resourceType must be RiskAssessment`);
  if (ra.id !== undefined && !FHIR_ID.test(ra.id)) fail('id is not a valid FHIR id ([A-Za-z0-9-.], at most 64)');
  if (!ra.meta?.profile?.includes(RISK_ASSESSMENT_PROFILE)) fail(`meta.profile must include ${RISK_ASSESSMENT_PROFILE}`);

  const identifier = ra.identifier?.[0];
  if (identifier?.system !== ASSESSMENT_IDENTIFIER_SYSTEM) {
    fail(`identifier[0].system must be ${ASSESSMENT_IDENTIFIER_SYSTEM}`);
  } else if (!identifier.value || !SHA256_HEX.test(identifier.value)) {
    fail('identifier[0].value must be 64 lower-case hex digits (sha256)');
  } else if (ra.id?.startsWith('fr-') && ra.id !== `fr-${identifier.value.slice(0, 40)}`) {
    fail('id does not match identifier[0].value (fr-<first 40 hex>)');
  }

  if (!['final', 'preliminary', 'entered-in-error'].includes(ra.status)) fail('status must be final, preliminary or entered-in-error');
  if (!/^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(ra.subject?.reference ?? '')) fail('subject.reference must be Patient/<id>');
  if (!ra.occurrenceDateTime) fail('occurrenceDateTime is required');

  const method = ra.method?.coding?.[0];
  if (method?.system !== MODELS_SYSTEM) fail(`method.coding[0].system must be ${MODELS_SYSTEM}`);
  if (!method?.code || !MODEL_ID.test(method.code)) fail('method.coding[0].code must be a model id');
  if (!method?.version) fail('method.coding[0].version (model version) is required');

  for (const [i, basis] of (ra.basis ?? []).entries()) {
    if (!basis.reference) fail(`basis[${i}] has no reference`);
  }

  const predictions = ra.prediction ?? [];
  if (predictions.length === 0) fail('prediction[0] is required');
  for (const [i, p] of predictions.entries()) {
    const at = `prediction[${i}]`;
    if (!p.outcome?.text && !p.outcome?.coding?.length) fail(`${at}.outcome is required`);
    if (p.probabilityDecimal !== undefined && !(Number.isFinite(p.probabilityDecimal) && p.probabilityDecimal >= 0 && p.probabilityDecimal <= 1)) {
      fail(`${at}.probabilityDecimal must be a fraction from 0 to 1`);
    }
    if (p.probabilityRange !== undefined) fail(`${at}.probabilityRange is not allowed (use probabilityDecimal)`);
    const [probability, band] = p.qualitativeRisk?.coding ?? [];
    if (probability?.system !== RISK_PROBABILITY_SYSTEM || !(RISK_PROBABILITY_CODES as readonly string[]).includes(probability.code ?? '')) {
      fail(`${at}.qualitativeRisk.coding[0] must be a code of ${RISK_PROBABILITY_SYSTEM} (${RISK_PROBABILITY_CODES.join(', ')})`);
    }
    if (band?.system !== RISK_BAND_SYSTEM || !riskBandCodes.has(band.code ?? '')) {
      fail(`${at}.qualitativeRisk.coding[1] must be a code of ${RISK_BAND_SYSTEM} (${[...riskBandCodes].join(', ')})`);
    }
    const scores = (p.extension ?? []).filter((e) => e.url === RISK_SCORE_EXTENSION);
    if (scores.length > 1) fail(`${at} has more than one risk-score extension`);
    for (const score of scores) {
      if (score.valueDecimal === undefined || !Number.isFinite(score.valueDecimal)) fail(`${at} risk-score extension needs a finite valueDecimal`);
    }
  }
  return problems;
}
