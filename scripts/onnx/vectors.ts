/**
 * The published reference vectors (a copy of the shared `reference/vectors.json`, see
 * `models/README.md`) and how a model's predictions are compared with them. Used by the build (for
 * the model cards) and by the tests, so both report the same numbers.
 */
import { readFileSync } from 'node:fs';
import type { LoadedModel } from '../../src/models/types.ts';
import { rowFromInputs } from '../../src/models/verify.ts';
import type { ModelDefinition, ReferenceVector, VectorCheck } from './models/types.ts';

const VECTORS_FILE = new URL('./reference/vectors.json', import.meta.url);

let cache: ReferenceVector[] | undefined;

/** All reference vectors. */
export function referenceVectors(): ReferenceVector[] {
  cache ??= JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as ReferenceVector[];
  return cache;
}

/** Vectors of one score (`pce`, `news2`, ...), in file order. */
export function vectorsFor(score: string): ReferenceVector[] {
  return referenceVectors().filter((v) => v.score === score);
}

export interface CheckResult extends VectorCheck {
  passed: boolean;
  /** |actual − expected| for numbers; 0 or 1 (mismatch) for strings. */
  error: number;
}

export interface VectorResult {
  vector: ReferenceVector;
  checks: CheckResult[];
  passed: boolean;
}

function judge(check: VectorCheck): CheckResult {
  if (typeof check.expected === 'number' && typeof check.actual === 'number') {
    const error = Math.abs(check.actual - check.expected);
    // A hair of slack for float32 outputs compared against decimal tolerances (e.g. 0.05 pp).
    return { ...check, error, passed: error <= check.tolerance + 1e-9 };
  }
  const passed = check.expected === check.actual;
  return { ...check, error: passed ? 0 : 1, passed };
}

/** Runs every vector of the definition's score through the model in one batch and judges each check. */
export async function evaluateVectors(definition: ModelDefinition, model: LoadedModel): Promise<VectorResult[]> {
  const vectors = vectorsFor(definition.vectorScore);
  const rows = vectors.map((v) => rowFromInputs(model.manifest, definition.vectorInputs(v)));
  const predictions = await model.predict(rows);
  const bandCodes = model.manifest.output.bands.map((b) => b.code);
  return vectors.map((vector, i) => {
    const prediction = predictions[i];
    if (!prediction) throw new Error(`no prediction for ${vector.id}`);
    const checks = definition.vectorChecks(vector, prediction, bandCodes).map(judge);
    return { vector, checks, passed: checks.every((c) => c.passed) };
  });
}
