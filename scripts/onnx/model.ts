/**
 * Wraps a graph into an ONNX `ModelProto` and encodes it.
 */
import type { GraphBuilder } from './graph-builder.ts';
import { encodeModelProto } from './proto.ts';

/** ONNX IR version 8 goes with opset 17 (ONNX 1.12); every onnxruntime since 1.12 reads it. */
export const IR_VERSION = 8;
export const DEFAULT_OPSET = 17;
/** ai.onnx.ml opset 3 (TreeEnsemble*, LinearClassifier, ZipMap...) pairs with IR 8. */
export const ML_OPSET = 3;

export interface ModelOptions {
  graph: GraphBuilder;
  /** Extra operator sets, e.g. `{ domain: 'ai.onnx.ml', version: ML_OPSET }`. */
  extraOpsets?: readonly { domain: string; version: number }[];
  docString?: string;
  /** Free-form key/value metadata (written sorted by key, for reproducible bytes). */
  metadata?: Record<string, string>;
  /** Integer model version (ONNX `model_version`). */
  modelVersion?: number;
}

/** Encodes the model; the same options always give the same bytes (no timestamps, sorted metadata). */
export function encodeModel(options: ModelOptions): Uint8Array {
  const metadata = options.metadata ?? {};
  return encodeModelProto({
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: DEFAULT_OPSET }, ...(options.extraOpsets ?? [])],
    producer_name: 'fhir-risk scripts/build-models.ts',
    producer_version: '1',
    domain: 'org.fhir-risk',
    model_version: options.modelVersion ?? 1,
    ...(options.docString ? { doc_string: options.docString } : {}),
    graph: options.graph.toProto(),
    metadata_props: Object.keys(metadata)
      .sort()
      .map((key) => ({ key, value: metadata[key] })),
  });
}
