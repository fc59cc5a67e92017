/**
 * What each built-in model provides to `scripts/build-models.ts`: its manifest, its graph, how
 * the published reference vectors map onto its features, and the text of its model card.
 */
import type { z } from 'zod';
import type { modelManifestSchema } from '../../../src/models/manifest.ts';
import type { ModelPrediction } from '../../../src/models/types.ts';

/** The manifest as authored (zod input: defaults may be omitted). */
export type ManifestInput = z.input<typeof modelManifestSchema>;

/** One entry of `reference/vectors.json` (see MODELS.md, "Conventions in vectors.json"). */
export interface ReferenceVector {
  id: string;
  score: string;
  variant?: Record<string, string>;
  inputs: Record<string, unknown>;
  expected: Record<string, unknown>;
  tolerance: number | Record<string, number>;
  source: string;
}

/** `expected` of a manifest example. */
export interface ExampleExpectation {
  probability?: number;
  score?: number;
  band?: string;
}

/** One compared quantity of one vector. */
export interface VectorCheck {
  /** What is compared, e.g. `risk10yPercent` or `subscores.pulse`. */
  quantity: string;
  expected: number | string;
  actual: number | string;
  /** Absolute tolerance applied, in the unit of `expected` (0 for exact matches and strings). */
  tolerance: number;
  /** Why this tolerance (the vector's own, or a documented wider one). */
  toleranceReason: string;
  /** The vector's own tolerance when a wider one is applied (reported, not enforced). */
  sourceTolerance?: number;
}

export interface ModelDefinition {
  manifest: ManifestInput;
  /** The ONNX bytes; must be deterministic. */
  buildOnnx(): Uint8Array;
  /** `score` value of this model's vectors in vectors.json. */
  vectorScore: string;
  /** Feature values by feature name for a vector's inputs. */
  vectorInputs(vector: ReferenceVector): Record<string, number>;
  /** The comparisons to make between a vector's expectations and the model's prediction. */
  vectorChecks(vector: ReferenceVector, prediction: ModelPrediction, bandCodes: readonly string[]): VectorCheck[];
  /** Ids of vectors copied into the manifest's `examples`. */
  exampleVectorIds: readonly string[];
  /** A vector's expectation in manifest-example form (probability as a fraction, absolute tolerance). */
  exampleExpectation(vector: ReferenceVector): { expected: ExampleExpectation; tolerance: number };
  /** Model-card sections in Markdown (the build adds inputs, outputs and vector results). */
  card: {
    formula: string;
    variant: string;
    limitations: string;
    lookbacks: string;
  };
}

/** A quantity input (`{value, unit}`) or a plain number of a vector, as a number. */
export function quantity(vector: ReferenceVector, key: string): number | undefined {
  const v = vector.inputs[key];
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'value' in v && typeof v.value === 'number') return v.value;
  return undefined;
}

/** A boolean input of a vector as 0/1 (absent = false, as MODELS.md says). */
export function flag(vector: ReferenceVector, key: string): number {
  return vector.inputs[key] === true ? 1 : 0;
}

/** A required quantity input. */
export function requiredQuantity(vector: ReferenceVector, key: string): number {
  const v = quantity(vector, key);
  if (v === undefined) throw new Error(`${vector.id}: input ${key} missing`);
  return v;
}

/** A vector's sex as the `female` feature: 1 for female, else 0. */
export function femaleFlag(vector: ReferenceVector): number {
  return vector.inputs.sex === 'female' ? 1 : 0;
}

/**
 * A vector's feature values by name, in `features` order (the order manifest examples keep):
 * each a required quantity, unless named in `flags` (a boolean input as 0/1) or given in `derived`.
 */
export function vectorFeatures(
  vector: ReferenceVector,
  features: readonly string[],
  kinds: { flags?: readonly string[]; derived?: Record<string, number> } = {},
): Record<string, number> {
  const values: Record<string, number> = {};
  for (const name of features) {
    const derived = kinds.derived?.[name];
    if (derived !== undefined) values[name] = derived;
    else values[name] = kinds.flags?.includes(name) ? flag(vector, name) : requiredQuantity(vector, name);
  }
  return values;
}

/** Why points scores are compared with no tolerance. */
const EXACT_POINTS = 'exact (integer points)';

/** An exact comparison of integer points (or a band code) with no tolerance. */
export function exactCheck(quantity: string, expected: number | string, actual: number | string): VectorCheck {
  return { quantity, expected, actual, tolerance: 0, toleranceReason: EXACT_POINTS };
}

/** The vector's tolerance for one expected key. */
export function toleranceOf(vector: ReferenceVector, key: string): number {
  return typeof vector.tolerance === 'number' ? vector.tolerance : (vector.tolerance[key] ?? 0);
}

/** ValueSet canonical URL of a value set shipped in fhir-profiles/valuesets/. */
export function valueSet(name: string): string {
  return `http://fhir-risk.org/fhir/ValueSet/${name}`;
}

export const LOINC = 'http://loinc.org';
export const SNOMED = 'http://snomed.info/sct';
export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
