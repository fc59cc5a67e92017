/**
 * Encodes and decodes ONNX protobuf messages with protobufjs and the schema subset in `onnx.proto`.
 *
 * protobufjs writes fields in field-number order and we never set wall-clock fields, so the same
 * message object always encodes to the same bytes: `npm run models:check` relies on that.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PROTO_FILE = fileURLToPath(new URL('./onnx.proto', import.meta.url));

let root: protobuf.Root | undefined;

/** The loaded schema; `keepCase` keeps ONNX's snake_case field names (`op_type`, `raw_data`). */
function schema(): protobuf.Root {
  root ??= new protobuf.Root().loadSync(PROTO_FILE, { keepCase: true });
  return root;
}

/** Encodes a plain object shaped like `onnx.ModelProto` (snake_case fields) to bytes. */
export function encodeModelProto(model: Record<string, unknown>): Uint8Array {
  const type = schema().lookupType('onnx.ModelProto');
  const message = type.fromObject(model);
  const problem = type.verify(message);
  if (problem) throw new Error(`invalid ModelProto: ${problem}`);
  return type.encode(message).finish();
}

/** Decodes ONNX bytes to a plain object (int64 as numbers, bytes as Buffers): for tests and tools. */
export function decodeModelProto(bytes: Uint8Array): Record<string, unknown> {
  const type = schema().lookupType('onnx.ModelProto');
  return type.toObject(type.decode(bytes), { longs: Number, enums: String, defaults: false });
}
