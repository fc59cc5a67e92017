/**
 * `fhir-risk models verify`: runs each model's own `examples` (from its manifest) and reports one
 * line per example, so an operator can check a dropped-in or rebuilt model before enabling it.
 */
import type { ModelManifest } from './manifest.ts';
import type { LoadedModel } from './types.ts';

/** Orders named feature values as the model's input row; throws naming any missing feature. */
export function rowFromInputs(manifest: ModelManifest, inputs: Readonly<Record<string, number>>): number[] {
  return manifest.features.map((feature) => {
    const value = inputs[feature.name];
    if (value === undefined) throw new Error(`${manifest.id}: no value for feature "${feature.name}"`);
    return value;
  });
}

export interface VerifyResult {
  modelId: string;
  /** True when every example passed (and there was at least one). */
  ok: boolean;
  /** `PASS …` / `FAIL …` lines, one per example (or one saying there are none). */
  lines: string[];
}

function format(n: number): string {
  return Number(n.toPrecision(6)).toString();
}

/** Runs the manifest's examples through the model (one batch) and compares each expectation. */
export async function verifyModel(model: LoadedModel): Promise<VerifyResult> {
  const { manifest } = model;
  const modelId = manifest.id;
  if (manifest.examples.length === 0) {
    return { modelId, ok: false, lines: [`FAIL ${modelId}: the manifest has no examples to verify`] };
  }
  const lines: string[] = [];
  let ok = true;
  let rows: number[][];
  try {
    rows = manifest.examples.map((example) => rowFromInputs(manifest, example.inputs));
  } catch (error) {
    return { modelId, ok: false, lines: [`FAIL ${modelId}: ${error instanceof Error ? error.message : String(error)}`] };
  }
  const predictions = await model.predict(rows);
  manifest.examples.forEach((example, i) => {
    const prediction = predictions[i];
    const problems: string[] = [];
    const seen: string[] = [];
    const compare = (what: string, expected: number | undefined, actual: number | undefined): void => {
      if (expected === undefined) return;
      if (actual === undefined || Math.abs(actual - expected) > example.tolerance + 1e-12) {
        problems.push(`${what} ${actual === undefined ? 'missing' : format(actual)}, expected ${format(expected)} ± ${format(example.tolerance)}`);
      } else {
        seen.push(`${what} ${format(actual)}`);
      }
    };
    compare('probability', example.expected.probability, prediction?.probability);
    compare('score', example.expected.score, prediction?.score);
    if (example.expected.band !== undefined) {
      const band = prediction ? manifest.output.bands[prediction.bandIndex]?.code : undefined;
      if (band !== example.expected.band) problems.push(`band ${band ?? 'missing'}, expected ${example.expected.band}`);
      else seen.push(`band ${band}`);
    }
    if (problems.length > 0) ok = false;
    lines.push(
      problems.length > 0
        ? `FAIL ${modelId} "${example.name}": ${problems.join('; ')}`
        : `PASS ${modelId} "${example.name}": ${seen.join(', ')}`,
    );
  });
  return { modelId, ok, lines };
}
