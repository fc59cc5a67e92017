/**
 * Benchmark 3, inference: rows per second through onnxruntime-node for each shipped model, one
 * row per call (how the score worker calls it today) and 256 rows per call. The 256-row figure is
 * the limit of the runtime for that graph; batch 1 / batch 256 says how much of a call is fixed
 * overhead (session run, tensor marshalling) rather than arithmetic.
 */
import { BUNDLED_MODELS_DIR } from '../../src/config.ts';
import { loadModelRegistry } from '../../src/models/registry.ts';
import type { LoadedModel } from '../../src/models/types.ts';
import { ratio, round } from '../lib/stats.ts';

export interface InferenceResult {
  readonly model: string;
  readonly batch1RowsPerSecond: number;
  readonly batch256RowsPerSecond: number;
  /** batch 1 / batch 256 rows per second. */
  readonly ratio: number;
}

/** The model's own published examples as feature rows (manifest order), repeated to `count` rows. */
function exampleRows(model: LoadedModel, count: number): number[][] {
  const names = model.manifest.features.map((f) => f.name);
  const examples = (model.manifest as { examples?: { inputs: Record<string, number> }[] }).examples ?? [];
  if (examples.length === 0) throw new Error(`${model.manifest.id}: no examples in its manifest to use as input rows`);
  const rows = examples.map((e) => names.map((n) => e.inputs[n] ?? 0));
  return Array.from({ length: count }, (_, i) => rows[i % rows.length] as number[]);
}

/** Runs `predict(rows)` for about `seconds`; resolves with rows per second. */
async function rowsPerSecond(model: LoadedModel, rows: readonly number[][], seconds: number): Promise<number> {
  for (let i = 0; i < 20; i++) await model.predict(rows); // warm-up
  let done = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    await model.predict(rows);
    done += rows.length;
  }
  return done / ((performance.now() - started) / 1000);
}

export async function runInferenceBench(opts: { secondsPerCase: number }, log: (line: string) => void): Promise<InferenceResult[]> {
  const registry = await loadModelRegistry({ dir: BUNDLED_MODELS_DIR });
  try {
    const results: InferenceResult[] = [];
    for (const model of registry.list()) {
      const one = await rowsPerSecond(model, exampleRows(model, 1), opts.secondsPerCase);
      const many = await rowsPerSecond(model, exampleRows(model, 256), opts.secondsPerCase);
      results.push({ model: model.manifest.id, batch1RowsPerSecond: round(one, 0), batch256RowsPerSecond: round(many, 0), ratio: ratio(one, many) });
      log(`  inference ${model.manifest.id}: batch 1 ${round(one, 0)} rows/s, batch 256 ${round(many, 0)} rows/s`);
    }
    return results;
  } finally {
    await registry.close();
  }
}
