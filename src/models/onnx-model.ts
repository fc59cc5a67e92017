/**
 * One model at run time: an onnxruntime session plus its manifest, turning feature rows into
 * `ModelPrediction`s. Also the checks that a session matches what its manifest promises.
 */
import * as ort from 'onnxruntime-node';
import { InvalidInputError } from '../errors.ts';
import type { ModelManifest } from './manifest.ts';
import type { LoadedModel, ModelPrediction } from './types.ts';

type Session = ort.InferenceSession;

/**
 * What is wrong between a session and its manifest (empty when they match): the input name and
 * width, the declared outputs, and outputs that are not tensors (sklearn's ZipMap).
 */
export function sessionProblems(session: Session, manifest: ModelManifest): string[] {
  const problems: string[] = [];
  const { input, outputs } = manifest.onnx;
  if (!session.inputNames.includes(input)) {
    problems.push(`input "${input}" not found (the graph has ${list(session.inputNames)})`);
  } else if (session.inputNames.length !== 1) {
    problems.push(`the graph has ${session.inputNames.length} inputs (${list(session.inputNames)}); fhir-risk feeds exactly one`);
  }
  const inputMeta = session.inputMetadata.find((m) => m.name === input);
  if (inputMeta?.isTensor) {
    if (inputMeta.type !== 'float32') problems.push(`input "${input}" is ${inputMeta.type}; it must be float32`);
    const width = inputMeta.shape[1];
    if (inputMeta.shape.length !== 2) {
      problems.push(`input "${input}" has rank ${inputMeta.shape.length}; it must be [batch, ${manifest.features.length}]`);
    } else if (typeof width === 'number' && width !== manifest.features.length) {
      problems.push(`input "${input}" takes ${width} features but the manifest lists ${manifest.features.length}`);
    }
  }
  for (const [role, name] of Object.entries(outputs)) {
    if (name === undefined) continue;
    const meta = session.outputMetadata.find((m) => m.name === name);
    if (!meta) {
      problems.push(`${role} output "${name}" not found (the graph has ${list(session.outputNames)})`);
    } else if (!meta.isTensor) {
      problems.push(
        `${role} output "${name}" is a sequence/map, not a tensor (sklearn's ZipMap): export with zipmap=False ` +
          '(skl2onnx: options={id(model): {"zipmap": False}})',
      );
    }
  }
  return problems;
}

function list(names: readonly string[]): string {
  return names.length ? names.map((n) => `"${n}"`).join(', ') : 'none';
}

/**
 * Band index by thresholds: the last band whose `min` the value reaches. Bands after the first
 * without a `min` (such as NEWS2's rule-based low-medium) are only reachable through a `band` output.
 */
export function bandIndexByThreshold(manifest: ModelManifest, value: number): number {
  let index = 0;
  manifest.output.bands.forEach((band, i) => {
    if (i > 0 && band.min !== undefined && value >= band.min) index = i;
  });
  return index;
}

/** Values of one output tensor for each row; probability outputs of width 2 give the positive class. */
function perRow(tensor: ort.Tensor, rows: number, column: number): number[] {
  const width = tensor.dims.length > 1 ? Number(tensor.dims[1]) : 1;
  const data = tensor.data as ArrayLike<number | bigint>;
  return Array.from({ length: rows }, (_, i) => Number(data[i * width + Math.min(column, width - 1)]));
}

export interface OnnxModelOptions {
  manifest: ModelManifest;
  dir: string;
  onnxSha256: string;
  session: Session;
}

/** A `LoadedModel` over an open session; `close` releases the session. */
export function createOnnxModel(options: OnnxModelOptions): LoadedModel & { close(): Promise<void> } {
  const { manifest, session } = options;
  const declared = manifest.onnx.outputs;
  const declaredNames = new Set(Object.values(declared).filter((n): n is string => n !== undefined));
  // Extra tensor outputs (e.g. NEWS2 sub-scores) are returned in `outputs`; non-tensors are never fetched.
  const fetchNames = session.outputMetadata.filter((m) => m.isTensor).map((m) => m.name);
  const extraNames = fetchNames.filter((n) => !declaredNames.has(n));
  const width = manifest.features.length;

  async function predict(rows: readonly (readonly number[])[]): Promise<ModelPrediction[]> {
    if (rows.length === 0) return [];
    const data = new Float32Array(rows.length * width);
    rows.forEach((row, i) => {
      if (row.length !== width) {
        throw new InvalidInputError(`${manifest.id}: row ${i} has ${row.length} values, the model takes ${width}`, 422);
      }
      row.forEach((value, j) => {
        if (!Number.isFinite(value)) {
          throw new InvalidInputError(`${manifest.id}: feature ${manifest.features[j]?.name ?? j} of row ${i} is not a finite number`, 422);
        }
        data[i * width + j] = value;
      });
    });
    const input = new ort.Tensor('float32', data, [rows.length, width]);
    const results = await session.run({ [manifest.onnx.input]: input }, fetchNames);
    const read = (name: string | undefined, column = 0): number[] | undefined => {
      if (name === undefined) return undefined;
      const tensor = results[name];
      return tensor ? perRow(tensor, rows.length, column) : undefined;
    };
    const probability = read(declared.probability, 1);
    const score = read(declared.score);
    const band = read(declared.band);
    const extras = extraNames.map((name) => [name, read(name) ?? []] as const);

    return rows.map((_, i) => {
      const p = probability?.[i];
      const s = score?.[i];
      let bandIndex: number;
      if (band) {
        bandIndex = band[i] as number;
        if (!Number.isInteger(bandIndex) || bandIndex < 0 || bandIndex >= manifest.output.bands.length) {
          throw new Error(`${manifest.id}: band output ${bandIndex} is not an index into the ${manifest.output.bands.length} bands`);
        }
      } else {
        const on = manifest.output.bandOn === 'probability' ? p : s;
        if (on === undefined) throw new Error(`${manifest.id}: output.bandOn is ${manifest.output.bandOn} but the model has no such output`);
        bandIndex = bandIndexByThreshold(manifest, on);
      }
      const prediction: { probability?: number; score?: number; bandIndex: number; outputs?: Record<string, number> } = { bandIndex };
      if (p !== undefined) prediction.probability = p;
      if (s !== undefined) prediction.score = s;
      if (extras.length > 0) prediction.outputs = Object.fromEntries(extras.map(([name, values]) => [name, values[i] as number]));
      return prediction;
    });
  }

  return {
    manifest,
    dir: options.dir,
    onnxSha256: options.onnxSha256,
    predict,
    close: () => session.release(),
  };
}
