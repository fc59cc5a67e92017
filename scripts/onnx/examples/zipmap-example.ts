/**
 * The mistake every first export makes: the logistic regression of `readmission-logreg.ts`
 * exported with skl2onnx's defaults, so its probabilities come out of a ZipMap (a sequence of maps)
 * that onnxruntime-node cannot return. fhir-risk refuses it at load time, saying to use
 * `zipmap=False`; this example exists to show that line.
 */
import { readmissionCases, readmissionExport, readmissionManifest } from './readmission-common.ts';
import { readmissionLogregParams } from './readmission-logreg.ts';
import { logisticRegressionProbability } from './reference.ts';
import { logisticRegressionOnnx } from './sklearn-export.ts';
import type { ExampleDefinition } from './types.ts';

export const zipmapExample: ExampleDefinition = {
  manifest: readmissionManifest({
    id: 'zipmap-example',
    title: 'Toy readmission model exported WITH ZipMap, refused on load',
    intendedUse: "Demonstrates the load-time error for a classifier exported with skl2onnx's default ZipMap output; it never loads.",
    probabilityOutput: 'output_probability',
    hba1cMissing: { policy: 'not-applicable' },
  }),
  buildOnnx: () =>
    logisticRegressionOnnx(readmissionLogregParams, readmissionExport('LogisticRegression', true, 'by default (with ZipMap); fhir-risk refuses it.')),
  reference: (row) => logisticRegressionProbability(readmissionLogregParams, row),
  cases: readmissionCases,
  expectedLoadProblem: /^probability output "output_probability" is a sequence\/map, not a tensor \(sklearn's ZipMap\): export with zipmap=False/,
  card: {
    summary:
      'The logistic regression of `example-readmission-logreg`, exported with skl2onnx\'s defaults. Its outputs are ' +
      '`output_label` (int64 `[N]`) and `output_probability`, a *sequence of maps* `{0: p0, 1: p1}` per row made by a ' +
      '`ZipMap` node. onnxruntime-node cannot return sequence or map outputs, so fhir-risk checks every declared output ' +
      'when it loads a model and skips this one with a single line:\n\n' +
      '```text\n' +
      'byo-models/zipmap-example/model.onnx: probability output "output_probability" is a sequence/map, not a tensor ' +
      '(sklearn\'s ZipMap): export with zipmap=False (skl2onnx: options={id(model): {"zipmap": False}})\n' +
      '```\n\n' +
      'The fix is in the export, not in fhir-risk: pass `options={id(clf): {"zipmap": False}}` and name ' +
      '`probabilities` in `onnx.outputs.probability`, as `example-readmission-logreg` does.',
    export: [
      '```python',
      'onx = convert_sklearn(clf, initial_types=[("float_input", FloatTensorType([None, 4]))], target_opset=17)',
      '# no zipmap option: outputs are output_label and output_probability (a ZipMap)',
      '```',
    ].join('\n'),
    graph:
      '`LinearClassifier` (as in `example-readmission-logreg`) → `label`, `probabilities`; then `Cast(label, to=INT64)` → ' +
      '`output_label` and `ZipMap(probabilities, classlabels_int64s=[0, 1])` → `output_probability` of type ' +
      '`seq(map(int64, tensor(float)))`.',
  },
};
