/**
 * The bring-your-own-model examples (examples/byo-models, models/README.md): the two sklearn-style
 * exports load and compute what their models compute, the ZipMap export is refused with one line
 * that says how to fix it, and the committed files are exactly what the build produces.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { diffModelFiles } from '../../scripts/onnx/build.ts';
import { buildExampleFiles } from '../../scripts/onnx/examples/build.ts';
import { readmissionGbt, readmissionGbtParams } from '../../scripts/onnx/examples/readmission-gbt.ts';
import { readmissionLogreg, readmissionLogregParams } from '../../scripts/onnx/examples/readmission-logreg.ts';
import { decodeModelProto } from '../../scripts/onnx/proto.ts';
import { loadModelRegistry } from './registry.ts';
import type { LoadedModel, ModelRegistry } from './types.ts';
import { verifyModel } from './verify.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const examplesDir = fileURLToPath(new URL('../../examples/byo-models', import.meta.url));

/** Independent of scripts/onnx/examples/reference.ts: the textbook formulas, written out again. */
const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
function logregProbability(row: readonly number[]): number {
  const { coef, intercept } = readmissionLogregParams;
  return sigmoid(intercept + coef.reduce((s, c, j) => s + c * (row[j] as number), 0));
}
function gbtProbability(row: readonly number[]): number {
  const { trees, learningRate, baseValue } = readmissionGbtParams;
  let raw = baseValue;
  for (const t of trees) {
    let node = 0;
    while (t.childrenLeft[node] !== -1) {
      const x = Math.fround(row[t.feature[node] as number] as number);
      node = (x <= (t.threshold[node] as number) ? t.childrenLeft[node] : t.childrenRight[node]) as number;
    }
    raw += learningRate * (t.value[node] as number);
  }
  return sigmoid(raw);
}

/**
 * Rows over the whole valid ranges plus every split threshold exactly (where `<=` matters):
 * a deterministic grid, no randomness.
 */
function gridRows(): number[][] {
  const rows: number[][] = [];
  for (const age of [18, 40, 64, 64.5, 65, 69.5, 74.5, 75, 90, 100]) {
    for (const sbp of [60, 110, 139.5, 140, 149.5, 159.5, 160, 250]) {
      for (const hba1c of [3, 5.4, 6.25, 7.25, 7.3, 8.5, 12, 20]) {
        for (const diabetes of [0, 1]) rows.push([age, sbp, hba1c, diabetes]);
      }
    }
  }
  return rows;
}

/** A single-node graph: the node's op type, domain, attribute names and the graph's outputs. */
function graphShape(bytes: Uint8Array): { ops: string[]; domain: string; attributes: string[]; outputs: string[]; input: string } {
  const proto = decodeModelProto(bytes) as {
    graph: { node: { op_type: string; domain?: string; attribute: { name: string }[] }[]; output: { name: string }[]; input: { name: string }[] };
  };
  const [first] = proto.graph.node;
  return {
    ops: proto.graph.node.map((n) => n.op_type),
    domain: first?.domain ?? '',
    attributes: (first?.attribute ?? []).map((a) => a.name).sort(),
    outputs: proto.graph.output.map((o) => o.name),
    input: proto.graph.input[0]?.name ?? '',
  };
}

describe('bring-your-own-model examples', () => {
  let registry: ModelRegistry;
  before(async () => {
    registry = await loadModelRegistry({ dir: examplesDir });
  });
  after(async () => {
    await registry.close();
  });

  const model = (id: string): LoadedModel => {
    const m = registry.get(id);
    assert.ok(m, `${id} loaded`);
    return m;
  };

  test('the two zipmap=False exports load; the ZipMap export is refused with one line saying zipmap=False', () => {
    assert.deepEqual(
      registry.list().map((m) => m.manifest.id).sort(),
      ['example-readmission-gbt', 'example-readmission-logreg'],
    );
    assert.equal(registry.problems.length, 1, registry.problems.join('\n'));
    const [line] = registry.problems;
    assert.match(line ?? '', /^byo-models\/zipmap-example\/model\.onnx: probability output "output_probability" is a sequence\/map/);
    assert.match(line ?? '', /zipmap=False/);
    assert.doesNotMatch(line ?? '', /\n/);
  });

  test('the logistic regression matches its own arithmetic within 1e-6 over a grid of rows', async () => {
    const rows = gridRows();
    const predictions = await model('example-readmission-logreg').predict(rows);
    assert.equal(predictions.length, rows.length);
    let worst = 0;
    predictions.forEach((p, i) => {
      const expected = logregProbability(rows[i] as number[]);
      assert.ok(p.probability !== undefined);
      worst = Math.max(worst, Math.abs(p.probability - expected));
      // skl2onnx's `label` output comes back as an extra output: class 1 exactly when p > 0.5.
      assert.equal(p.outputs?.label, p.probability > 0.5 ? 1 : 0, `label of row ${i}`);
    });
    assert.ok(worst <= 1e-6, `largest difference ${worst}`);
    // The grid reaches both classes, so the comparison covers both sides of 0.5.
    assert.ok(predictions.some((p) => (p.probability ?? 0) > 0.5) && predictions.some((p) => (p.probability ?? 1) < 0.1));
  });

  test('the gradient-boosted trees match their own arithmetic within 1e-6, thresholds included', async () => {
    const rows = gridRows();
    const predictions = await model('example-readmission-gbt').predict(rows);
    let worst = 0;
    predictions.forEach((p, i) => {
      assert.ok(p.probability !== undefined);
      worst = Math.max(worst, Math.abs(p.probability - gbtProbability(rows[i] as number[])));
    });
    assert.ok(worst <= 1e-6, `largest difference ${worst}`);
    // A value exactly at a threshold takes the `<=` branch: 7.25 and 7.3 land in different leaves.
    const [at, above] = await model('example-readmission-gbt').predict([
      [50, 120, 7.25, 0],
      [50, 120, 7.3, 0],
    ]);
    assert.ok(at?.probability !== undefined && above?.probability !== undefined);
    assert.notEqual(at.probability, above.probability);
    assert.ok(Math.abs(at.probability - gbtProbability([50, 120, 7.25, 0])) <= 1e-6);
  });

  test('bands follow the manifest thresholds and both examples pass `models verify`', async () => {
    for (const id of ['example-readmission-logreg', 'example-readmission-gbt']) {
      const m = model(id);
      const result = await verifyModel(m);
      assert.ok(result.ok, result.lines.join('\n'));
      assert.equal(result.lines.length, 3);
      assert.deepEqual(m.manifest.examples.map((e) => e.expected.band), ['low', 'moderate', 'high']);
    }
  });

  test('the graphs are what skl2onnx writes with zipmap=False (and without it)', async () => {
    const { files } = await buildExampleFiles();
    const bytes = (id: string): Uint8Array => {
      const b = files.get(`examples/byo-models/${id}/model.onnx`);
      assert.ok(b, id);
      return b;
    };
    const logreg = graphShape(bytes('example-readmission-logreg'));
    assert.deepEqual(logreg.ops, ['LinearClassifier']);
    assert.equal(logreg.domain, 'ai.onnx.ml');
    assert.equal(logreg.input, 'float_input');
    assert.deepEqual(logreg.outputs, ['label', 'probabilities']);
    assert.deepEqual(logreg.attributes, ['classlabels_ints', 'coefficients', 'intercepts', 'multi_class', 'post_transform']);

    const gbt = graphShape(bytes('example-readmission-gbt'));
    assert.deepEqual(gbt.ops, ['TreeEnsembleClassifier']);
    assert.equal(gbt.domain, 'ai.onnx.ml');
    assert.deepEqual(gbt.outputs, ['label', 'probabilities']);
    assert.deepEqual(gbt.attributes, [
      'base_values', 'class_ids', 'class_nodeids', 'class_treeids', 'class_weights', 'classlabels_int64s',
      'nodes_falsenodeids', 'nodes_featureids', 'nodes_hitrates', 'nodes_missing_value_tracks_true', 'nodes_modes',
      'nodes_nodeids', 'nodes_treeids', 'nodes_truenodeids', 'nodes_values', 'post_transform',
    ]);

    const zipmap = graphShape(bytes('zipmap-example'));
    assert.deepEqual(zipmap.ops, ['LinearClassifier', 'Cast', 'ZipMap']);
    assert.deepEqual(zipmap.outputs, ['output_label', 'output_probability']);
    // The manifests name what the graphs export.
    assert.equal(readmissionLogreg.manifest.onnx.outputs.probability, 'probabilities');
    assert.equal(readmissionGbt.manifest.onnx.input, 'float_input');
  });

  test('the build is reproducible: --check finds no difference, two builds are byte-identical', async () => {
    const first = await buildExampleFiles();
    const second = await buildExampleFiles();
    assert.equal(first.files.size, 9);
    for (const [path, b] of first.files) {
      assert.ok(Buffer.from(b).equals(Buffer.from(second.files.get(path) ?? new Uint8Array())), `${path} is reproducible`);
    }
    assert.deepEqual(await diffModelFiles(repoRoot, first.files), []);
  });
});
