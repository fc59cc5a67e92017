/**
 * ONNX element types and constant tensors (`TensorProto`) stored as little-endian `raw_data`.
 */

/** Element types we write; values are `TensorProto.DataType` numbers. */
export const ElemType = {
  float32: 1,
  int64: 7,
  bool: 9,
  float64: 11,
} as const;
export type ElemTypeName = keyof typeof ElemType;

/** A `TensorProto` as a plain object for protobufjs. */
export interface TensorProtoObject {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

/** Little-endian bytes of `values` in `elemType`, independent of the host's byte order. */
function rawBytes(elemType: ElemTypeName, values: readonly (number | boolean)[]): Uint8Array {
  const width = { float32: 4, int64: 8, bool: 1, float64: 8 }[elemType];
  const view = new DataView(new ArrayBuffer(values.length * width));
  values.forEach((value, i) => {
    const n = Number(value);
    switch (elemType) {
      case 'float32':
        view.setFloat32(i * 4, n, true);
        break;
      case 'float64':
        view.setFloat64(i * 8, n, true);
        break;
      case 'int64':
        if (!Number.isSafeInteger(n)) throw new Error(`int64 tensor value ${n} is not a safe integer`);
        view.setBigInt64(i * 8, BigInt(n), true);
        break;
      case 'bool':
        view.setUint8(i, n ? 1 : 0);
        break;
    }
  });
  return new Uint8Array(view.buffer);
}

/** A named constant tensor; `dims` must multiply to `values.length` (`[]` for a scalar). */
export function tensor(
  name: string,
  elemType: ElemTypeName,
  dims: readonly number[],
  values: readonly (number | boolean)[],
): TensorProtoObject {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== values.length) {
    throw new Error(`tensor ${name}: dims [${dims.join(',')}] hold ${count} values, got ${values.length}`);
  }
  return { name, dims: [...dims], data_type: ElemType[elemType], raw_data: rawBytes(elemType, values) };
}
