/**
 * The example models' own arithmetic in TypeScript, written the way scikit-learn's `predict_proba`
 * computes it (double precision; trees compare the float32 feature with the threshold). The build
 * and the tests compare onnxruntime's output with these, so a wrong attribute in the exported graph
 * (a sign, a child index, a weight) shows up as a number that differs.
 */
import type { GradientBoostingParams, LogisticRegressionParams, SklearnTree } from './sklearn-export.ts';

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** `LogisticRegression.predict_proba(X)[:, 1]` for one row. */
export function logisticRegressionProbability(p: LogisticRegressionParams, row: readonly number[]): number {
  const z = p.coef.reduce((sum, c, j) => sum + c * (row[j] as number), p.intercept);
  return sigmoid(z);
}

/** The raw value of the leaf `row` falls into (`x <= threshold` goes left, as in sklearn). */
export function treeValue(tree: SklearnTree, row: readonly number[]): number {
  let node = 0;
  for (;;) {
    const left = tree.childrenLeft[node] as number;
    if (left === -1) return tree.value[node] as number;
    const x = Math.fround(row[tree.feature[node] as number] as number);
    node = x <= (tree.threshold[node] as number) ? left : (tree.childrenRight[node] as number);
  }
}

/** `GradientBoostingClassifier.predict_proba(X)[:, 1]`: sigmoid(init + learning rate × Σ leaves). */
export function gradientBoostingProbability(p: GradientBoostingParams, row: readonly number[]): number {
  const raw = p.trees.reduce((sum, tree) => sum + p.learningRate * treeValue(tree, row), p.baseValue);
  return sigmoid(raw);
}
