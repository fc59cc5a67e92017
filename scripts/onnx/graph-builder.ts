/**
 * A small builder for ONNX graphs: inputs, constant initializers, nodes and outputs, with names
 * generated from a counter (never from time or randomness) so a rebuild gives identical bytes.
 */
import { ElemType, tensor } from './tensor.ts';
import type { ElemTypeName, TensorProtoObject } from './tensor.ts';

/** A dimension: a fixed size, or a symbolic name such as `N` for the batch. */
export type Dim = number | string;

/** A node attribute, tagged with its ONNX attribute type. */
export type Attribute =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string }
  | { kind: 'strings'; value: readonly string[] };

/** Attribute constructors: `{ to: attr.int(11) }`. */
export const attr = {
  int: (value: number): Attribute => ({ kind: 'int', value }),
  ints: (value: readonly number[]): Attribute => ({ kind: 'ints', value }),
  float: (value: number): Attribute => ({ kind: 'float', value }),
  floats: (value: readonly number[]): Attribute => ({ kind: 'floats', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
  strings: (value: readonly string[]): Attribute => ({ kind: 'strings', value }),
};

/** `AttributeProto.AttributeType` numbers: FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7, STRINGS 8. */
function attributeProto(name: string, a: Attribute): Record<string, unknown> {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  switch (a.kind) {
    case 'int':
      return { name, type: 2, i: a.value };
    case 'ints':
      return { name, type: 7, ints: [...a.value] };
    case 'float':
      return { name, type: 1, f: a.value };
    case 'floats':
      return { name, type: 6, floats: [...a.value] };
    case 'string':
      return { name, type: 3, s: utf8(a.value) };
    case 'strings':
      return { name, type: 8, strings: a.value.map(utf8) };
  }
}

function valueInfo(name: string, elemType: ElemTypeName, shape: readonly Dim[], doc?: string): Record<string, unknown> {
  return {
    name,
    ...(doc ? { doc_string: doc } : {}),
    type: {
      tensor_type: {
        elem_type: ElemType[elemType],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

export interface NodeOptions {
  /** Explicit output names (e.g. a graph output); generated when omitted. */
  outputs?: readonly string[];
  /** Number of outputs when names are generated (default 1). */
  outputCount?: number;
  /** Operator domain: `''` (ai.onnx, default) or `ai.onnx.ml`. */
  domain?: string;
}

export class GraphBuilder {
  private readonly nodes: Record<string, unknown>[] = [];
  private readonly initializers: TensorProtoObject[] = [];
  private readonly inputs: Record<string, unknown>[] = [];
  private readonly outputs: Record<string, unknown>[] = [];
  private readonly counters = new Map<string, number>();

  constructor(
    readonly name: string,
    private readonly docString = '',
  ) {}

  /** A fresh, deterministic value name such as `Log_3`. */
  private fresh(prefix: string): string {
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    return `${prefix}_${n}`;
  }

  /** Declares a graph input and returns its name. */
  input(name: string, elemType: ElemTypeName, shape: readonly Dim[], doc?: string): string {
    this.inputs.push(valueInfo(name, elemType, shape, doc));
    return name;
  }

  /** Declares an existing value as a graph output (the value must already carry `name`). */
  output(name: string, elemType: ElemTypeName, shape: readonly Dim[], doc?: string): void {
    this.outputs.push(valueInfo(name, elemType, shape, doc));
  }

  /** Adds a constant initializer and returns its name (`prefix` makes the graph readable in Netron). */
  constant(prefix: string, elemType: ElemTypeName, dims: readonly number[], values: readonly (number | boolean)[]): string {
    const name = this.fresh(prefix);
    this.initializers.push(tensor(name, elemType, dims, values));
    return name;
  }

  /** Scalar double constant, the common case in clinical formulas. */
  scalar(value: number, prefix = 'c'): string {
    return this.constant(prefix, 'float64', [], [value]);
  }

  /** Adds a node and returns its output names. */
  node(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}, options: NodeOptions = {}): string[] {
    const outputs = options.outputs
      ? [...options.outputs]
      : Array.from({ length: options.outputCount ?? 1 }, () => this.fresh(opType));
    this.nodes.push({
      name: this.fresh(`node_${opType}`),
      op_type: opType,
      ...(options.domain ? { domain: options.domain } : {}),
      input: [...inputs],
      output: outputs,
      attribute: Object.keys(attributes)
        .sort()
        .map((key) => attributeProto(key, attributes[key] as Attribute)),
    });
    return outputs;
  }

  /** Adds a single-output node and returns the output name. */
  op(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}, options: NodeOptions = {}): string {
    const [out] = this.node(opType, inputs, attributes, options);
    if (out === undefined) throw new Error(`${opType} produced no output`);
    return out;
  }

  /** The `GraphProto` as a plain object for protobufjs. */
  toProto(): Record<string, unknown> {
    return {
      name: this.name,
      ...(this.docString ? { doc_string: this.docString } : {}),
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
  }
}
