/**
 * Builds the bring-your-own-model examples in memory: for each, `model.onnx`, `model.json` and a
 * `README.md` card under `examples/byo-models/<id>/`.
 *
 * The build proves what the examples claim, on the ONNX bytes themselves: the good ones load with
 * no problem and onnxruntime's probabilities equal the TypeScript re-computation within 1e-6 (the
 * manifest's `examples` carry those values); the ZipMap one is refused with the expected line.
 */
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { modelManifestSchema } from '../../../src/models/manifest.ts';
import type { ModelExample, ModelManifest } from '../../../src/models/manifest.ts';
import { bandIndexByThreshold, createOnnxModel, sessionProblems } from '../../../src/models/onnx-model.ts';
import { rowFromInputs } from '../../../src/models/verify.ts';
import type { ModelFiles } from '../build.ts';
import { renderExampleCard } from './card.ts';
import { exampleModels } from './index.ts';
import type { ExampleDefinition } from './types.ts';

/** Where the examples live, relative to the repository root. */
export const EXAMPLES_DIR = 'examples/byo-models';
/** Largest accepted |onnxruntime − reference| for a probability (float32 graph vs double arithmetic). */
export const PROBABILITY_TOLERANCE = 1e-6;

export interface BuiltExample {
  id: string;
  /** One line per check made, for the build's output. */
  lines: string[];
}

/** Expected values rounded to 1e-8 so the JSON stays readable; far below the tolerance. */
const round8 = (x: number): number => Math.round(x * 1e8) / 1e8;

/** The manifest's examples: each case with the reference probability and the band it falls in. */
function examplesOf(definition: ExampleDefinition, draft: ModelManifest): ModelExample[] {
  return definition.cases.map((c) => {
    const probability = definition.reference(rowFromInputs(draft, c.inputs));
    const band = draft.output.bands[bandIndexByThreshold(draft, probability)]?.code;
    return { name: c.name, inputs: { ...c.inputs }, expected: { probability: round8(probability), ...(band ? { band } : {}) }, tolerance: PROBABILITY_TOLERANCE };
  });
}

/** Checks a model that must load: no session problem, ONNX probabilities equal to the reference. */
async function checkLoads(definition: ExampleDefinition, manifest: ModelManifest, session: ort.InferenceSession, sha: string): Promise<string[]> {
  const problems = sessionProblems(session, manifest);
  if (problems.length > 0) throw new Error(`${manifest.id}: ${problems.join('; ')}`);
  const model = createOnnxModel({ manifest, dir: `${EXAMPLES_DIR}/${manifest.id}`, onnxSha256: sha, session });
  const rows = manifest.examples.map((e) => rowFromInputs(manifest, e.inputs));
  const predictions = await model.predict(rows);
  return manifest.examples.map((example, i) => {
    const actual = predictions[i]?.probability;
    const expected = definition.reference(rows[i] as number[]);
    if (actual === undefined || Math.abs(actual - expected) > PROBABILITY_TOLERANCE) {
      throw new Error(`${manifest.id} "${example.name}": onnxruntime ${actual}, reference ${expected}`);
    }
    return `${manifest.id} "${example.name}": onnxruntime ${actual.toFixed(7)} = reference ${expected.toFixed(7)}`;
  });
}

/** Checks a model that must be refused, and returns the problem text. */
function checkRefused(definition: ExampleDefinition, manifest: ModelManifest, session: ort.InferenceSession): string {
  const problems = sessionProblems(session, manifest);
  const expected = definition.expectedLoadProblem;
  if (!expected || problems.length !== 1 || !expected.test(problems[0] as string)) {
    throw new Error(`${manifest.id}: expected one load problem matching ${String(expected)}, got ${JSON.stringify(problems)}`);
  }
  return problems[0] as string;
}

async function buildOne(definition: ExampleDefinition, files: ModelFiles): Promise<BuiltExample> {
  const draft = modelManifestSchema.parse(definition.manifest);
  const manifest = modelManifestSchema.parse({ ...definition.manifest, examples: examplesOf(definition, draft) });
  const onnx = definition.buildOnnx();
  const sha = createHash('sha256').update(onnx).digest('hex');
  const dir = `${EXAMPLES_DIR}/${manifest.id}`;
  const session = await ort.InferenceSession.create(onnx);
  let lines: string[];
  let loadProblem: string | undefined;
  try {
    if (definition.expectedLoadProblem) {
      loadProblem = `${EXAMPLES_DIR.split('/').pop() ?? ''}/${manifest.id}/${manifest.onnx.file}: ${checkRefused(definition, manifest, session)}`;
      lines = [`${manifest.id}: refused on load as intended (${loadProblem})`];
    } else {
      lines = await checkLoads(definition, manifest, session, sha);
    }
  } finally {
    await session.release();
  }
  const text = (s: string) => new TextEncoder().encode(s);
  files.set(`${dir}/model.onnx`, onnx);
  files.set(`${dir}/model.json`, text(`${JSON.stringify(manifest, null, 2)}\n`));
  files.set(`${dir}/README.md`, text(renderExampleCard(definition, manifest, { onnxSha256: sha, ...(loadProblem ? { loadProblem } : {}) })));
  return { id: manifest.id, lines };
}

/** Builds every example (throws naming the example and the check that failed). */
export async function buildExampleFiles(): Promise<{ files: ModelFiles; examples: BuiltExample[] }> {
  const files: ModelFiles = new Map();
  const examples: BuiltExample[] = [];
  for (const definition of exampleModels) examples.push(await buildOne(definition, files));
  return { files, examples };
}
