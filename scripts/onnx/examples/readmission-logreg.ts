/**
 * Worked example 1: a scikit-learn `LogisticRegression` exported with skl2onnx, `zipmap=False`.
 * Made-up coefficients over age, systolic BP, HbA1c and diabetes: illustrative, not clinical.
 */
import { readmissionCases, readmissionExport, readmissionManifest } from './readmission-common.ts';
import { logisticRegressionProbability } from './reference.ts';
import { logisticRegressionOnnx } from './sklearn-export.ts';
import type { LogisticRegressionParams } from './sklearn-export.ts';
import type { ExampleDefinition } from './types.ts';

/** `coef_[0]` and `intercept_[0]` of the toy model, per year, mmHg, HbA1c % and diabetes (0/1). */
export const readmissionLogregParams: LogisticRegressionParams = {
  coef: [0.0312, 0.0118, 0.2764, 0.4517],
  intercept: -7.8863,
};

/** The Python that would produce this file (also shown in models/README.md). */
export const LOGREG_EXPORT = `\`\`\`python
import numpy as np
from sklearn.linear_model import LogisticRegression
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType

# X: columns age, systolicBP, hba1c, diabetes (the manifest's feature order and units)
clf = LogisticRegression(max_iter=1000).fit(X.astype(np.float32), y)
onx = convert_sklearn(
    clf,
    initial_types=[("float_input", FloatTensorType([None, 4]))],
    options={id(clf): {"zipmap": False}},   # tensor outputs: label [N], probabilities [N, 2]
    target_opset=17,
)
with open("model.onnx", "wb") as f:
    f.write(onx.SerializeToString())
\`\`\``;

export const readmissionLogreg: ExampleDefinition = {
  manifest: readmissionManifest({
    id: 'example-readmission-logreg',
    title: 'Toy 30-day readmission risk, logistic regression',
    intendedUse:
      'Shows how a scikit-learn logistic regression exported with skl2onnx (zipmap=False) runs in fhir-risk. ' +
      'The coefficients are made up, not fitted to any data and not validated: do not use them for any patient.',
    probabilityOutput: 'probabilities',
    hba1cMissing: { policy: 'not-applicable' },
  }),
  buildOnnx: () =>
    logisticRegressionOnnx(
      readmissionLogregParams,
      readmissionExport('LogisticRegression', false, "with options={'zipmap': False}; made-up coefficients."),
    ),
  reference: (row) => logisticRegressionProbability(readmissionLogregParams, row),
  cases: readmissionCases,
  card: {
    summary:
      'A binary `LogisticRegression` exported the way skl2onnx does it with `zipmap=False`. fhir-risk reads ' +
      'the `probabilities` output (shape `[N, 2]`) as column 1, the probability of class 1 (readmitted). ' +
      'The `label` output is returned to callers as an extra output.',
    export: LOGREG_EXPORT,
    graph: [
      'One `ai.onnx.ml` `LinearClassifier` node: `float_input` → `label` (int64 `[N]`), `probabilities` (float `[N, 2]`).',
      '',
      '| attribute | value |',
      '|---|---|',
      '| `classlabels_ints` | `[0, 1]` |',
      `| \`coefficients\` | \`[${[...readmissionLogregParams.coef.map((c) => -c), ...readmissionLogregParams.coef].join(', ')}]\` (class 0 = −coef_, class 1 = coef_) |`,
      `| \`intercepts\` | \`[${-readmissionLogregParams.intercept}, ${readmissionLogregParams.intercept}]\` |`,
      '| `multi_class` | `0` |',
      '| `post_transform` | `LOGISTIC` |',
      '',
      'So `probabilities[:, 1] = 1 / (1 + exp(−(intercept + Σ coef·x)))`, exactly `predict_proba(X)[:, 1]`.',
    ].join('\n'),
  },
};
