/**
 * The deterministic assessment identifier: one RiskAssessment per (patient, model, model version,
 * exact inputs).
 *
 * Why deterministic: BullMQ delivers at least once, so the same scoring can run twice (a redelivered
 * notification, a worker killed after the write but before the ack). Both runs compute the same
 * identifier, and the write (PUT to the id derived from it, or a conditional create on it) turns the
 * second into a no-op. Anything that changes the inputs — a new version of a basis resource, a
 * different feature value, a new model version — gives a new identifier, hence a new assessment.
 *
 * The assessment time is deliberately not part of it: the same inputs scored an hour later are the
 * same assessment (time-dependent inputs such as age are features, so they do count).
 */
import { createHash } from 'node:crypto';
import type { Identifier } from 'fhir/r4.js';
import { ASSESSMENT_IDENTIFIER_SYSTEM } from './canonical.ts';

/** What identifies an assessment. */
export interface AssessmentKey {
  readonly patientId: string;
  readonly modelId: string;
  readonly modelVersion: string;
  /** Versioned references (`Observation/1/_history/2`); order and duplicates do not matter. */
  readonly basis: readonly string[];
  /** Feature values by name; order does not matter (names are unique within a model). */
  readonly features: readonly { readonly name: string; readonly value: number }[];
}

/** The identifier value (64 hex digits) and the FHIR logical id derived from it. */
export interface AssessmentIdentity {
  /** `identifier[0].value`: lower-case hex sha256 of the canonical key. */
  readonly value: string;
  /** Logical id `fr-<first 40 hex>` (43 characters: a valid FHIR id, `[A-Za-z0-9\-.]{1,64}`). */
  readonly id: string;
  /** `identifier[0]`, ready to write. */
  readonly identifier: Identifier & { system: string; value: string };
}

/** Length of the hash prefix in the logical id: 160 bits, collision-free in practice. */
const ID_HEX_LENGTH = 40;

/** Computes the identity of an assessment. Throws on a non-finite feature value or a duplicate name. */
export function assessmentIdentity(key: AssessmentKey): AssessmentIdentity {
  const names = new Set<string>();
  for (const f of key.features) {
    if (!Number.isFinite(f.value)) throw new Error(`feature ${f.name} of ${key.modelId} has a non-finite value`);
    if (names.has(f.name)) throw new Error(`feature ${f.name} of ${key.modelId} appears twice`);
    names.add(f.name);
  }
  const canonical = canonicalJson({
    patient: key.patientId,
    model: key.modelId,
    version: key.modelVersion,
    basis: [...new Set(key.basis)].sort(),
    features: [...key.features].map((f) => ({ name: f.name, value: f.value })).sort((a, b) => compare(a.name, b.name)),
  });
  const value = createHash('sha256').update(canonical, 'utf8').digest('hex');
  return {
    value,
    id: `fr-${value.slice(0, ID_HEX_LENGTH)}`,
    identifier: { system: ASSESSMENT_IDENTIFIER_SYSTEM, value },
  };
}

/** The `If-None-Exist` / search token for an assessment identifier: `system|value`. */
export function identifierSearchToken(value: string): string {
  return `${ASSESSMENT_IDENTIFIER_SYSTEM}|${value}`;
}

/**
 * JSON with object keys sorted at every level (RFC 8785 in spirit): the same data always gives the
 * same bytes, whatever order the properties were built in. Numbers use JavaScript's shortest
 * round-trip form, which is deterministic.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('canonicalJson: non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => compare(a, b));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** Code-unit order, independent of locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Re-exported for callers that think of the identifier system and profile as "the assessment's". */
export { ASSESSMENT_IDENTIFIER_SYSTEM, RISK_ASSESSMENT_PROFILE as ASSESSMENT_PROFILE } from './canonical.ts';
