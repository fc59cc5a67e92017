/**
 * What each bring-your-own-model example provides to `scripts/build-examples.ts`.
 */
import type { ManifestInput } from '../models/types.ts';

/** A named input row for the manifest's `examples` (feature values by feature name). */
export interface ExampleCase {
  name: string;
  inputs: Record<string, number>;
}

export interface ExampleDefinition {
  /** The manifest as a data scientist would write it; `examples` are filled in by the build. */
  manifest: Omit<ManifestInput, 'examples'>;
  /** The ONNX bytes, as skl2onnx would export the model; deterministic. */
  buildOnnx(): Uint8Array;
  /** The model's own arithmetic (see `reference.ts`): positive-class probability of one row. */
  reference(row: readonly number[]): number;
  /** Cases copied into the manifest's `examples`, with the expected values of `reference`. */
  cases: readonly ExampleCase[];
  /**
   * Set when the example exists to be refused at load time (the ZipMap one): the problem line
   * the registry must report. The build fails if the model loads, or fails for another reason.
   */
  expectedLoadProblem?: RegExp;
  /** Model-card sections in Markdown; the build adds inputs, outputs, bands and examples. */
  card: {
    /** What the example shows. */
    summary: string;
    /** The Python a data scientist would run to produce such a file. */
    export: string;
    /** How the ONNX graph looks (operators, attributes). */
    graph: string;
  };
}
