/**
 * ONNX graphs shaped exactly like the ones skl2onnx writes for binary classifiers, built with the
 * project's own writer so the bring-your-own-model examples need no Python to rebuild.
 *
 * What skl2onnx does (sklearn-onnx, `operator_converters/linear_classifier.py`,
 * `gradient_boosting.py`, `common/tree_ensemble.py`, `zip_map.py`):
 * - input `float_input` (the name given in `initial_types`), float `[None, F]`;
 * - one `ai.onnx.ml` node (`LinearClassifier` or `TreeEnsembleClassifier`) whose two outputs are
 *   `label` (int64 `[None]`) and `probabilities` (float `[None, 2]`);
 * - by default (`zipmap` on) a `Cast` of the label to `output_label` and a `ZipMap` of the
 *   probabilities to `output_probability`, a sequence of maps `{0: p0, 1: p1}` per row — the output
 *   onnxruntime-node cannot return, which is why fhir-risk asks for `zipmap=False`.
 *
 * Differences that do not change what the graph computes: node names (`node_LinearClassifier_1`
 * here, `LinearClassifier` there) and the producer fields of the model.
 */
import { GraphBuilder, attr } from '../graph-builder.ts';
import type { Attribute } from '../graph-builder.ts';
import { DEFAULT_OPSET, IR_VERSION } from '../model.ts';
import { encodeModelProto } from '../proto.ts';
import { ElemType } from '../tensor.ts';

const ML = 'ai.onnx.ml';
/** skl2onnx's converters write these operators at `ai.onnx.ml` version 1. */
const SKL2ONNX_ML_OPSET = 1;
/** Placeholder for skl2onnx's `None` batch dimension, replaced by an unnamed dimension on encode. */
const BATCH = '__batch__';
const INPUT = 'float_input';

/** `LogisticRegression` after `fit` on a binary target: `coef_[0]` and `intercept_[0]`. */
export interface LogisticRegressionParams {
  coef: readonly number[];
  intercept: number;
}

/**
 * One fitted sklearn regression tree, as the arrays of `tree_` (nodes in depth-first pre-order,
 * node 0 the root): a leaf has `childrenLeft = childrenRight = -1`; `value` is the leaf's raw value.
 */
export interface SklearnTree {
  childrenLeft: readonly number[];
  childrenRight: readonly number[];
  feature: readonly number[];
  threshold: readonly number[];
  value: readonly number[];
}

/** `GradientBoostingClassifier(loss='log_loss')` after `fit` on a binary target. */
export interface GradientBoostingParams {
  learningRate: number;
  /** `_raw_predict_init`: the log-odds of the training prevalence. */
  baseValue: number;
  /** `estimators_[:, 0]`, one regression tree per boosting stage. */
  trees: readonly SklearnTree[];
}

/** How the model is exported: the feature count of `float_input`, and skl2onnx's `zipmap` option. */
export interface ExportOptions {
  featureCount: number;
  zipmap: boolean;
  /** Graph name (skl2onnx's `to_onnx` writes `ONNX(<estimator class>)`) and the model's doc string. */
  name: string;
  docString: string;
}

export type TreeNode = { leaf: number } | { feature: number; threshold: number; left: TreeNode; right: TreeNode };

/** A leaf with sklearn's raw value. */
export const leaf = (value: number): TreeNode => ({ leaf: value });
/** A split `x[feature] <= threshold` → `left`, else `right` (sklearn's convention). */
export const split = (feature: number, threshold: number, left: TreeNode, right: TreeNode): TreeNode => ({ feature, threshold, left, right });

/** Flattens a nested tree into sklearn's `tree_` arrays (depth-first pre-order, as sklearn numbers nodes). */
export function sklearnTree(root: TreeNode): SklearnTree {
  const t = { childrenLeft: [] as number[], childrenRight: [] as number[], feature: [] as number[], threshold: [] as number[], value: [] as number[] };
  const visit = (node: TreeNode): number => {
    const id = t.childrenLeft.length;
    t.childrenLeft.push(-1);
    t.childrenRight.push(-1);
    if ('leaf' in node) {
      t.feature.push(-2); // sklearn's TREE_UNDEFINED
      t.threshold.push(-2);
      t.value.push(node.leaf);
      return id;
    }
    t.feature.push(node.feature);
    t.threshold.push(node.threshold);
    t.value.push(0);
    t.childrenLeft[id] = visit(node.left);
    t.childrenRight[id] = visit(node.right);
    return id;
  };
  visit(root);
  return t;
}

/**
 * skl2onnx's `LinearClassifier` attributes for a binary `LogisticRegression`: the coefficients of
 * the negative class are the negated ones, `post_transform` LOGISTIC, no Normalizer (one intercept).
 */
function linearClassifierAttributes(p: LogisticRegressionParams): Record<string, Attribute> {
  return {
    classlabels_ints: attr.ints([0, 1]),
    coefficients: attr.floats([...p.coef.map((c) => -c), ...p.coef]),
    intercepts: attr.floats([-p.intercept, p.intercept]),
    multi_class: attr.int(0),
    post_transform: attr.string('LOGISTIC'),
  };
}

/**
 * skl2onnx's `TreeEnsembleClassifier` attributes for a binary `GradientBoostingClassifier`
 * (`add_tree_to_attribute_pairs`): one class weight per leaf (class id 0, value × learning rate),
 * `base_values` the initial log-odds, `post_transform` LOGISTIC.
 */
function treeEnsembleAttributes(p: GradientBoostingParams): Record<string, Attribute> {
  const nodes = { treeids: [] as number[], nodeids: [] as number[], featureids: [] as number[], modes: [] as string[], values: [] as number[] };
  const links = { truenodeids: [] as number[], falsenodeids: [] as number[] };
  const classes = { treeids: [] as number[], nodeids: [] as number[], ids: [] as number[], weights: [] as number[] };
  p.trees.forEach((tree, treeId) => {
    tree.childrenLeft.forEach((left, nodeId) => {
      const right = tree.childrenRight[nodeId] as number;
      const isBranch = left > nodeId || right > nodeId;
      nodes.treeids.push(treeId);
      nodes.nodeids.push(nodeId);
      nodes.featureids.push(isBranch ? (tree.feature[nodeId] as number) : 0);
      nodes.modes.push(isBranch ? 'BRANCH_LEQ' : 'LEAF');
      nodes.values.push(isBranch ? (tree.threshold[nodeId] as number) : 0);
      links.truenodeids.push(isBranch ? left : 0);
      links.falsenodeids.push(isBranch ? right : 0);
      if (!isBranch) {
        classes.treeids.push(treeId);
        classes.nodeids.push(nodeId);
        classes.ids.push(0);
        classes.weights.push((tree.value[nodeId] as number) * p.learningRate);
      }
    });
  });
  return {
    base_values: attr.floats([p.baseValue]),
    class_ids: attr.ints(classes.ids),
    class_nodeids: attr.ints(classes.nodeids),
    class_treeids: attr.ints(classes.treeids),
    class_weights: attr.floats(classes.weights),
    classlabels_int64s: attr.ints([0, 1]),
    nodes_falsenodeids: attr.ints(links.falsenodeids),
    nodes_featureids: attr.ints(nodes.featureids),
    nodes_hitrates: attr.floats(nodes.modes.map(() => 1)),
    nodes_missing_value_tracks_true: attr.ints(nodes.modes.map(() => 0)),
    nodes_modes: attr.strings(nodes.modes),
    nodes_nodeids: attr.ints(nodes.nodeids),
    nodes_treeids: attr.ints(nodes.treeids),
    nodes_truenodeids: attr.ints(links.truenodeids),
    nodes_values: attr.floats(nodes.values),
    post_transform: attr.string('LOGISTIC'),
  };
}

/** skl2onnx's `ZipMap` output type: `seq(map(int64, tensor(float)))`. */
const ZIPMAP_OUTPUT_TYPE = {
  sequence_type: { elem_type: { map_type: { key_type: ElemType.int64, value_type: { tensor_type: { elem_type: ElemType.float32 } } } } },
};

/** The classifier node, then either tensor outputs (`zipmap=False`) or Cast + ZipMap (the default). */
function classifierModel(opType: string, attributes: Record<string, Attribute>, options: ExportOptions): Uint8Array {
  const g = new GraphBuilder(options.name);
  g.input(INPUT, 'float32', [BATCH, options.featureCount]);
  g.node(opType, [INPUT], attributes, { outputs: ['label', 'probabilities'], domain: ML });
  if (!options.zipmap) {
    g.output('label', 'int64', [BATCH]);
    g.output('probabilities', 'float32', [BATCH, 2]);
  } else {
    g.op('Cast', ['label'], { to: attr.int(ElemType.int64) }, { outputs: ['output_label'] });
    g.op('ZipMap', ['probabilities'], { classlabels_int64s: attr.ints([0, 1]) }, { outputs: ['output_probability'], domain: ML });
    g.output('output_label', 'int64', [BATCH]);
  }
  const graph = g.toProto() as { output: Record<string, unknown>[] } & Record<string, unknown>;
  // GraphBuilder declares tensor outputs only; the ZipMap output is a sequence of maps.
  if (options.zipmap) graph.output.push({ name: 'output_probability', type: ZIPMAP_OUTPUT_TYPE });
  return encodeModelProto({
    ir_version: IR_VERSION,
    opset_import: [
      { domain: ML, version: SKL2ONNX_ML_OPSET },
      { domain: '', version: DEFAULT_OPSET },
    ],
    producer_name: 'fhir-risk scripts/build-examples.ts',
    producer_version: '1',
    domain: 'org.fhir-risk.examples',
    model_version: 1,
    doc_string: options.docString,
    graph: withUnnamedBatch(graph),
  });
}

/** skl2onnx writes `None` dimensions as a `Dimension` with neither a value nor a name. */
function withUnnamedBatch<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => withUnnamedBatch(v)) as T;
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1 && entries[0]?.[0] === 'dim_param' && entries[0][1] === BATCH) return {} as T;
  return Object.fromEntries(entries.map(([k, v]) => [k, withUnnamedBatch(v)])) as T;
}

/** `convert_sklearn(LogisticRegression, initial_types=[('float_input', FloatTensorType([None, F]))], options=...)`. */
export function logisticRegressionOnnx(params: LogisticRegressionParams, options: ExportOptions): Uint8Array {
  if (params.coef.length !== options.featureCount) throw new Error(`${options.name}: ${params.coef.length} coefficients for ${options.featureCount} features`);
  return classifierModel('LinearClassifier', linearClassifierAttributes(params), options);
}

/** `convert_sklearn(GradientBoostingClassifier, ...)` for a binary target. */
export function gradientBoostingOnnx(params: GradientBoostingParams, options: ExportOptions): Uint8Array {
  for (const tree of params.trees) {
    if (tree.feature.some((f) => f >= options.featureCount)) throw new Error(`${options.name}: a split uses a feature beyond ${options.featureCount}`);
  }
  return classifierModel('TreeEnsembleClassifier', treeEnsembleAttributes(params), options);
}
