/**
 * Building blocks for clinical formulas as ONNX graphs, all in float64 (double) so that sums of
 * large offsetting terms (PCE: IndSum − MeanSum) keep their precision.
 *
 * Shapes: `N` is the batch; a "column" is `[N, 1]`.
 */
import { attr } from './graph-builder.ts';
import type { GraphBuilder } from './graph-builder.ts';
import { ElemType } from './tensor.ts';

/** Declares the float32 `[N, names.length]` input and returns it cast to double, one column per name. */
export function featureColumns(g: GraphBuilder, inputName: string, names: readonly string[]): Record<string, string> {
  const x = g.input(inputName, 'float32', ['N', names.length], `features in order: ${names.join(', ')}`);
  const xd = g.op('Cast', [x], { to: attr.int(ElemType.float64) });
  const columns: Record<string, string> = {};
  names.forEach((name, i) => {
    const index = g.constant(`idx_${name}`, 'int64', [1], [i]);
    columns[name] = g.op('Gather', [xd, index], { axis: attr.int(1) });
  });
  return columns;
}

export const mul = (g: GraphBuilder, a: string, b: string): string => g.op('Mul', [a, b]);
export const add = (g: GraphBuilder, a: string, b: string): string => g.op('Add', [a, b]);
export const sub = (g: GraphBuilder, a: string, b: string): string => g.op('Sub', [a, b]);
export const log = (g: GraphBuilder, a: string): string => g.op('Log', [a]);

/** Sum of several same-shaped values. */
export function sum(g: GraphBuilder, values: readonly string[]): string {
  const [first, ...rest] = values;
  if (first === undefined) throw new Error('sum of nothing');
  return rest.reduce((acc, v) => add(g, acc, v), first);
}

/** `1 − a`, for 0/1 flags. */
export function not(g: GraphBuilder, a: string): string {
  return sub(g, g.scalar(1, 'one'), a);
}

/** Concatenates columns into `[N, k]`. */
export function concatColumns(g: GraphBuilder, columns: readonly string[]): string {
  return g.op('Concat', columns, { axis: attr.int(1) });
}

/** `[N, k] · [k, m]` with a constant matrix given row by row. */
export function matmulConst(g: GraphBuilder, x: string, rows: readonly (readonly number[])[], prefix: string): string {
  const k = rows.length;
  const m = rows[0]?.length ?? 0;
  const w = g.constant(prefix, 'float64', [k, m], rows.flat());
  return g.op('MatMul', [x, w]);
}

/** Row sums of `[N, k]` → `[N, 1]`. */
export function rowSum(g: GraphBuilder, x: string): string {
  const axes = g.constant('axes', 'int64', [1], [1]);
  return g.op('ReduceSum', [x, axes], { keepdims: attr.int(1) });
}

/** 1.0 where `x ≥ threshold`, else 0.0 (double column). */
export function atLeast(g: GraphBuilder, x: string, threshold: number): string {
  const cmp = g.op('GreaterOrEqual', [x, g.scalar(threshold, 'cut')]);
  return g.op('Cast', [cmp], { to: attr.int(ElemType.float64) });
}

/** 1.0 where `x < threshold`, else 0.0 (double column). */
export function below(g: GraphBuilder, x: string, threshold: number): string {
  return not(g, atLeast(g, x, threshold));
}

/**
 * A step function of one column: `values[0]` below `cuts[0]`, `values[i]` from `cuts[i-1]`
 * (inclusive) to `cuts[i]`, `values[k]` from the last cut up. Written as
 * `values[0] + Σ (values[i+1] − values[i])·[x ≥ cuts[i]]`, one comparison against all cuts and one
 * MatMul, so a points table is a single readable initializer pair.
 */
export function stepFunction(g: GraphBuilder, x: string, cuts: readonly number[], values: readonly number[], prefix: string): string {
  if (values.length !== cuts.length + 1) throw new Error(`${prefix}: need one more value than cuts`);
  const cutTensor = g.constant(`${prefix}_cuts`, 'float64', [cuts.length], cuts);
  const ge = g.op('Cast', [g.op('GreaterOrEqual', [x, cutTensor])], { to: attr.int(ElemType.float64) });
  const deltas = cuts.map((_, i) => [(values[i + 1] as number) - (values[i] as number)]);
  const steps = matmulConst(g, ge, deltas, `${prefix}_steps`);
  return add(g, steps, g.scalar(values[0] as number, `${prefix}_base`));
}

/** Casts a double column to float32 under a given (graph output) name. */
export function asFloatOutput(g: GraphBuilder, x: string, name: string): void {
  g.op('Cast', [x], { to: attr.int(ElemType.float32) }, { outputs: [name] });
  g.output(name, 'float32', ['N', 1]);
}

/** Casts a double column to int64 under a given (graph output) name (for band indices). */
export function asInt64Output(g: GraphBuilder, x: string, name: string): void {
  g.op('Cast', [x], { to: attr.int(ElemType.int64) }, { outputs: [name] });
  g.output(name, 'int64', ['N', 1]);
}

/** 1.0 where `x > threshold`, else 0.0 (double column). */
export function greaterThan(g: GraphBuilder, x: string, threshold: number): string {
  const cmp = g.op('Greater', [x, g.scalar(threshold, 'cut')]);
  return g.op('Cast', [cmp], { to: attr.int(ElemType.float64) });
}

/** `k·a` for a constant k. */
export function scale(g: GraphBuilder, a: string, k: number): string {
  return mul(g, a, g.scalar(k, 'k'));
}

/** `(a + offset)·factor` for constants: the centring/scaling of model inputs. */
export function affine(g: GraphBuilder, a: string, offset: number, factor: number): string {
  return scale(g, add(g, a, g.scalar(offset, 'offset')), factor);
}

/** Element-wise minimum / maximum with a constant. */
export const minWith = (g: GraphBuilder, a: string, k: number): string => g.op('Min', [a, g.scalar(k, 'k')]);
export const maxWith = (g: GraphBuilder, a: string, k: number): string => g.op('Max', [a, g.scalar(k, 'k')]);

/** Column `i` of a `[N, k]` value, as `[N, 1]`. */
export function columnOf(g: GraphBuilder, x: string, i: number): string {
  return g.op('Gather', [x, g.constant('col', 'int64', [1], [i])], { axis: attr.int(1) });
}

/** A column of ones shaped like `like` (`[N, 1]`), for constant terms in a MatMul. */
export function onesLike(g: GraphBuilder, like: string): string {
  return add(g, mul(g, like, g.scalar(0, 'zero')), g.scalar(1, 'one'));
}
