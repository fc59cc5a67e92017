/**
 * Builds the model pack in memory: for each built-in model, `model.onnx`, `model.json` and the
 * `README.md` model card, with the vector results measured on the ONNX bytes themselves.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { modelManifestSchema } from '../../src/models/manifest.ts';
import type { ModelExample } from '../../src/models/manifest.ts';
import { createOnnxModel, sessionProblems } from '../../src/models/onnx-model.ts';
import { renderModelCard } from './model-card.ts';
import { builtInModels } from './models/index.ts';
import type { ModelDefinition } from './models/types.ts';
import { evaluateVectors, vectorsFor } from './vectors.ts';
import type { VectorResult } from './vectors.ts';

/** Files of the pack by path relative to the repository root (`models/<id>/...`). */
export type ModelFiles = Map<string, Uint8Array>;

export interface BuiltModel {
  id: string;
  results: VectorResult[];
}

function examplesOf(definition: ModelDefinition): ModelExample[] {
  const vectors = vectorsFor(definition.vectorScore);
  return definition.exampleVectorIds.map((id) => {
    const vector = vectors.find((v) => v.id === id);
    if (!vector) throw new Error(`example vector ${id} not found`);
    const { expected, tolerance } = definition.exampleExpectation(vector);
    return { name: id, inputs: definition.vectorInputs(vector), expected, tolerance, source: vector.source };
  });
}

/** Builds one model: bytes, validated manifest, vector results, card. */
async function buildOne(definition: ModelDefinition, files: ModelFiles): Promise<BuiltModel> {
  const manifest = modelManifestSchema.parse({ ...definition.manifest, examples: examplesOf(definition) });
  const onnx = definition.buildOnnx();
  const sha = createHash('sha256').update(onnx).digest('hex');
  const session = await ort.InferenceSession.create(onnx);
  const problems = sessionProblems(session, manifest);
  if (problems.length > 0) throw new Error(`${manifest.id}: ${problems.join('; ')}`);
  const model = createOnnxModel({ manifest, dir: `models/${manifest.id}`, onnxSha256: sha, session });
  try {
    const results = await evaluateVectors(definition, model);
    const dir = `models/${manifest.id}`;
    const text = (s: string) => new TextEncoder().encode(s);
    files.set(`${dir}/model.onnx`, onnx);
    files.set(`${dir}/model.json`, text(`${JSON.stringify(manifest, null, 2)}\n`));
    files.set(`${dir}/README.md`, text(renderModelCard(definition, manifest, results, sha)));
    return { id: manifest.id, results };
  } finally {
    await model.close();
  }
}

/** Builds every built-in model. */
export async function buildModelFiles(): Promise<{ files: ModelFiles; models: BuiltModel[] }> {
  const files: ModelFiles = new Map();
  const models: BuiltModel[] = [];
  for (const definition of builtInModels) models.push(await buildOne(definition, files));
  return { files, models };
}

/** Paths (relative to `repoRoot`) whose content on disk differs from `files`, or that are missing. */
export async function diffModelFiles(repoRoot: string, files: ModelFiles): Promise<string[]> {
  const differing: string[] = [];
  for (const [path, bytes] of files) {
    let onDisk: Buffer | undefined;
    try {
      onDisk = await readFile(join(repoRoot, path));
    } catch {
      onDisk = undefined;
    }
    if (!onDisk || !Buffer.from(bytes).equals(onDisk)) differing.push(path);
  }
  return differing.sort();
}
