/**
 * Worked example 2: a scikit-learn `GradientBoostingClassifier` (4 trees of depth 2) exported with
 * skl2onnx, `zipmap=False`: a `TreeEnsembleClassifier`. Made-up trees: illustrative, not clinical.
 */
import { readmissionCases, readmissionExport, readmissionManifest } from './readmission-common.ts';
import { gradientBoostingProbability } from './reference.ts';
import { gradientBoostingOnnx, leaf, sklearnTree, split } from './sklearn-export.ts';
import type { GradientBoostingParams } from './sklearn-export.ts';
import type { ExampleDefinition } from './types.ts';

const [AGE, SBP, HBA1C, DIABETES] = [0, 1, 2, 3] as const;

/**
 * `GradientBoostingClassifier(n_estimators=4, max_depth=2, learning_rate=0.3)`. Thresholds are
 * midpoints between observed values, as sklearn picks them (64.5 years, 7.25 %, 0.5 for a flag);
 * leaves are the Newton steps of the log-loss, so of both signs.
 */
export const readmissionGbtParams: GradientBoostingParams = {
  learningRate: 0.3,
  baseValue: Math.log(0.12 / 0.88), // training prevalence 12%
  trees: [
    split(HBA1C, 7.25, split(AGE, 64.5, leaf(-0.512), leaf(0.214)), split(DIABETES, 0.5, leaf(0.338), leaf(1.127))),
    split(AGE, 74.5, split(SBP, 139.5, leaf(-0.436), leaf(0.187)), split(HBA1C, 8.5, leaf(0.402), leaf(1.046))),
    split(SBP, 159.5, split(DIABETES, 0.5, leaf(-0.298), leaf(0.251)), split(AGE, 69.5, leaf(0.176), leaf(0.689))),
    split(DIABETES, 0.5, split(HBA1C, 6.25, leaf(-0.355), leaf(0.071)), split(SBP, 149.5, leaf(0.118), leaf(0.542))),
  ].map(sklearnTree),
};

const EXPORT = `\`\`\`python
import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType

clf = GradientBoostingClassifier(n_estimators=4, max_depth=2, learning_rate=0.3)
clf.fit(X.astype(np.float32), y)           # X columns: age, systolicBP, hba1c, diabetes
onx = convert_sklearn(
    clf,
    initial_types=[("float_input", FloatTensorType([None, 4]))],
    options={id(clf): {"zipmap": False}},
    target_opset=17,
)
open("model.onnx", "wb").write(onx.SerializeToString())
\`\`\`

XGBoost and LightGBM give the same operator through onnxmltools:
\`convert_xgboost(model, initial_types=[("float_input", FloatTensorType([None, 4]))])\` and
\`convert_lightgbm(model, initial_types=[...], zipmap=False)\`.`;

const treeCount = readmissionGbtParams.trees.length;
const nodeCount = readmissionGbtParams.trees.reduce((n, t) => n + t.childrenLeft.length, 0);

export const readmissionGbt: ExampleDefinition = {
  manifest: readmissionManifest({
    id: 'example-readmission-gbt',
    title: 'Toy 30-day readmission risk, gradient-boosted trees',
    intendedUse:
      'Shows how a scikit-learn gradient-boosted tree ensemble exported with skl2onnx (zipmap=False) runs in fhir-risk, ' +
      'and the `assume` missing-data policy. The trees are made up, not fitted to any data and not validated: do not use them for any patient.',
    probabilityOutput: 'probabilities',
    hba1cMissing: {
      policy: 'assume',
      value: 5.4,
      assumption: 'No HbA1c in the last year: 5.4% (a non-diabetic level) was assumed.',
    },
  }),
  buildOnnx: () =>
    gradientBoostingOnnx(
      readmissionGbtParams,
      readmissionExport('GradientBoostingClassifier', false, "with options={'zipmap': False}; made-up trees."),
    ),
  reference: (row) => gradientBoostingProbability(readmissionGbtParams, row),
  cases: readmissionCases,
  card: {
    summary:
      'A binary `GradientBoostingClassifier` exported the way skl2onnx does it with `zipmap=False`, and a ' +
      'feature (`hba1c`) whose missing value is replaced by a stated assumption rather than making the model not applicable. ' +
      'Whether an assumption is acceptable is the model owner\'s decision: here a missing HbA1c in a patient with diabetes ' +
      'would understate the risk, which is one more reason this is only an example.',
    export: EXPORT,
    graph: [
      `One \`ai.onnx.ml\` \`TreeEnsembleClassifier\` node (${treeCount} trees, ${nodeCount} nodes): \`float_input\` → \`label\`, \`probabilities\`.`,
      '',
      '| attribute | value |',
      '|---|---|',
      '| `nodes_treeids`, `nodes_nodeids` | tree and node number (sklearn\'s depth-first order) |',
      '| `nodes_featureids`, `nodes_values`, `nodes_modes` | split column, threshold, `BRANCH_LEQ` (`x <= threshold` → true branch) or `LEAF` |',
      '| `nodes_truenodeids`, `nodes_falsenodeids` | sklearn\'s `children_left`, `children_right` |',
      '| `nodes_hitrates`, `nodes_missing_value_tracks_true` | `1.0`, `0` for every node |',
      '| `class_treeids`, `class_nodeids`, `class_ids`, `class_weights` | one weight per leaf, class id `0`, leaf value × learning rate |',
      `| \`base_values\` | \`[${readmissionGbtParams.baseValue}]\` (log-odds of the 12% prevalence) |`,
      '| `classlabels_int64s` | `[0, 1]` |',
      '| `post_transform` | `LOGISTIC` |',
      '',
      'So `probabilities[:, 1] = 1 / (1 + exp(−(base + 0.3 × Σ leaf values)))`, exactly `predict_proba(X)[:, 1]`.',
    ].join('\n'),
  },
};
