import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GraphBuilder, attr } from '../../scripts/onnx/graph-builder.ts';
import { ML_OPSET, encodeModel } from '../../scripts/onnx/model.ts';
import { decodeModelProto, encodeModelProto } from '../../scripts/onnx/proto.ts';
import { ConfigError } from '../errors.ts';
import { loadModelRegistry } from './registry.ts';

const shipped = fileURLToPath(new URL('../../models', import.meta.url));

/** A sklearn-style classifier whose probabilities come out of a ZipMap (a sequence of maps). */
function zipMapModel(): Uint8Array {
  const g = new GraphBuilder('zipmap');
  const x = g.input('float_input', 'float32', ['N', 2]);
  g.op('Identity', [x], {}, { outputs: ['label'] });
  g.output('label', 'float32', ['N', 2]);
  g.op('ZipMap', [x], { classlabels_int64s: attr.ints([0, 1]) }, { outputs: ['output_probability'], domain: 'ai.onnx.ml' });
  const bytes = encodeModel({ graph: g, extraOpsets: [{ domain: 'ai.onnx.ml', version: ML_OPSET }] });
  // GraphBuilder only declares tensor outputs; add the seq(map(int64, float)) output by hand.
  const proto = decodeModelProto(bytes) as { graph: { output: unknown[] } } & Record<string, unknown>;
  proto.graph.output.push({
    name: 'output_probability',
    type: { sequence_type: { elem_type: { map_type: { key_type: 7, value_type: { tensor_type: { elem_type: 1 } } } } } },
  });
  return encodeModelProto(proto);
}


describe('loadModelRegistry', () => {
  let root: string;
  let modelsDir: string;
  let pceManifest: Record<string, unknown>;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'fhir-risk-registry-'));
    modelsDir = join(root, 'models');
    await mkdir(modelsDir);
    await cp(join(shipped, 'ascvd-pce'), join(modelsDir, 'ascvd-pce'), { recursive: true });
    pceManifest = JSON.parse(await readFile(join(shipped, 'ascvd-pce', 'model.json'), 'utf8')) as Record<string, unknown>;

    // A manifest that fails validation.
    await mkdir(join(modelsDir, 'broken'));
    await writeFile(join(modelsDir, 'broken', 'model.json'), JSON.stringify({ ...pceManifest, id: 'broken', features: [] }));

    // A valid manifest over an ONNX file with a ZipMap output.
    await mkdir(join(modelsDir, 'zipmapped'));
    await writeFile(join(modelsDir, 'zipmapped', 'model.onnx'), zipMapModel());
    await writeFile(
      join(modelsDir, 'zipmapped', 'model.json'),
      JSON.stringify({
        ...pceManifest,
        id: 'zipmapped',
        features: (pceManifest.features as unknown[]).slice(0, 2),
        examples: [],
        onnx: { file: 'model.onnx', input: 'float_input', outputs: { probability: 'output_probability' } },
      }),
    );

    // Input name and width that do not match the graph.
    await mkdir(join(modelsDir, 'mismatched'));
    await cp(join(shipped, 'ascvd-pce', 'model.onnx'), join(modelsDir, 'mismatched', 'model.onnx'));
    await writeFile(
      join(modelsDir, 'mismatched', 'model.json'),
      JSON.stringify({ ...pceManifest, id: 'mismatched', onnx: { input: 'x', outputs: { probability: 'risk' } } }),
    );
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('a broken model is skipped with one clear line; the others load', async () => {
    const registry = await loadModelRegistry({ dir: modelsDir });
    try {
      assert.deepEqual(
        registry.list().map((m) => m.manifest.id),
        ['ascvd-pce'],
      );
      assert.equal(registry.problems.length, 3);
      const [broken, mismatched, zipmapped] = registry.problems;
      assert.match(broken ?? '', /^models\/broken\/model\.json: features: .+/);
      assert.equal((broken ?? '').split('\n').length, 1);
      assert.match(mismatched ?? '', /^models\/mismatched\/model\.onnx: input "x" not found \(the graph has "features"\); probability output "risk" not found/);
      assert.match(zipmapped ?? '', /^models\/zipmapped\/model\.onnx: probability output "output_probability" is a sequence\/map.*zipmap=False/);
    } finally {
      await registry.close();
    }
  });

  test('strict mode refuses to start with every problem listed', async () => {
    await assert.rejects(loadModelRegistry({ dir: modelsDir, strict: true }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 3);
      return true;
    });
  });

  test('disabled models are not loaded and are not problems', async () => {
    const registry = await loadModelRegistry({ dir: modelsDir, disabled: ['broken', 'zipmapped', 'mismatched', 'ascvd-pce'] });
    try {
      assert.equal(registry.list().length, 0);
      assert.deepEqual(registry.problems, []);
    } finally {
      await registry.close();
    }
  });

  test('a missing directory is a problem, not a crash', async () => {
    const registry = await loadModelRegistry({ dir: join(root, 'nope') });
    assert.equal(registry.list().length, 0);
    assert.match(registry.problems[0] ?? '', /cannot read the models directory/);
  });

  test('the loaded model carries the sha256 of its ONNX file and batches rows', async () => {
    const registry = await loadModelRegistry({ dir: modelsDir, disabled: ['broken', 'zipmapped', 'mismatched'] });
    try {
      const model = registry.get('ascvd-pce');
      assert.ok(model);
      assert.match(model.onnxSha256, /^[0-9a-f]{64}$/);
      const row = [55, 0, 0, 213, 50, 120, 0, 0, 0];
      const predictions = await model.predict([row, row.map((v, i) => (i === 0 ? 70 : v)), row]);
      assert.equal(predictions.length, 3);
      assert.equal(predictions[0]?.probability, predictions[2]?.probability);
      assert.ok((predictions[1]?.probability ?? 0) > (predictions[0]?.probability ?? 1));
      assert.deepEqual(await model.predict([]), []);
      await assert.rejects(model.predict([[1, 2]]), /row 0 has 2 values/);
      await assert.rejects(model.predict([row.map((v, i) => (i === 3 ? Number.NaN : v))]), /totalCholesterol/);
    } finally {
      await registry.close();
    }
  });
});
