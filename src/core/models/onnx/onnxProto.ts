/**
 * Plain TypeScript shapes of the ONNX protobuf messages the builder emits (ModelProto,
 * GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto) and their encoders.
 * Field numbers follow onnx/onnx.proto (IR version 8).
 */
import { ProtobufWriter } from './protobufWriter';

/** TensorProto.DataType values used here. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
} as const;
export type OnnxDataTypeName = keyof typeof OnnxDataType;

export type TensorElementType = 'float32' | 'uint8' | 'int8' | 'int32' | 'int64' | 'bool';

export const ELEMENT_TYPE_CODE: Record<TensorElementType, number> = {
  float32: OnnxDataType.FLOAT,
  uint8: OnnxDataType.UINT8,
  int8: OnnxDataType.INT8,
  int32: OnnxDataType.INT32,
  int64: OnnxDataType.INT64,
  bool: OnnxDataType.BOOL,
};

export const ELEMENT_BYTES: Record<TensorElementType, number> = { float32: 4, uint8: 1, int8: 1, int32: 4, int64: 8, bool: 1 };

export interface ExternalDataRef {
  /** File name relative to the model file. */
  location: string;
  offset: number;
  length: number;
}

export interface TensorProtoSpec {
  name: string;
  elementType: TensorElementType;
  dims: number[];
  /** Inline little-endian bytes (small tensors), or `external` for weights in the data file. */
  rawData?: Uint8Array;
  external?: ExternalDataRef;
}

/** A dimension is a fixed size or a symbolic name (dim_param), e.g. "batch". */
export type Dim = number | string;

export interface ValueInfoSpec {
  name: string;
  elementType: TensorElementType;
  shape: Dim[];
}

export type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'tensor'; value: TensorProtoSpec };

export interface NodeSpec {
  opType: string;
  domain?: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
}

export interface GraphSpec {
  name: string;
  nodes: NodeSpec[];
  initializers: TensorProtoSpec[];
  inputs: ValueInfoSpec[];
  outputs: ValueInfoSpec[];
}

export interface ModelSpec {
  graph: GraphSpec;
  /** opset per domain; "" is ai.onnx. */
  opsets: Record<string, number>;
  producerName: string;
  producerVersion: string;
  metadata?: Record<string, string>;
}

const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;
const DATA_LOCATION_EXTERNAL = 1;

export function encodeTensor(t: TensorProtoSpec): ProtobufWriter {
  const w = new ProtobufWriter();
  if (t.dims.length) w.packedVarintField(1, t.dims);
  w.varintField(2, ELEMENT_TYPE_CODE[t.elementType]);
  w.stringField(8, t.name);
  if (t.external) {
    const entries: [string, string][] = [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(t.external.length)],
    ];
    for (const [key, value] of entries) w.messageField(13, new ProtobufWriter().stringField(1, key).stringField(2, value));
    w.varintField(14, DATA_LOCATION_EXTERNAL);
  } else {
    w.bytesField(9, t.rawData ?? new Uint8Array(0));
  }
  return w;
}

function encodeAttribute(name: string, a: AttributeValue): ProtobufWriter {
  const w = new ProtobufWriter().stringField(1, name);
  switch (a.kind) {
    case 'float':
      w.float32Field(2, a.value);
      break;
    case 'int':
      w.varintField(3, a.value);
      break;
    case 'string':
      w.stringField(4, a.value);
      break;
    case 'tensor':
      w.messageField(5, encodeTensor(a.value));
      break;
    case 'floats':
      w.packedFloat32Field(7, a.value);
      break;
    case 'ints':
      w.packedVarintField(8, a.value);
      break;
  }
  w.varintField(20, ATTRIBUTE_TYPE[a.kind]);
  return w;
}

function encodeNode(n: NodeSpec): ProtobufWriter {
  const w = new ProtobufWriter();
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  w.stringField(3, n.name);
  w.stringField(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes)) w.messageField(5, encodeAttribute(name, a));
  if (n.domain) w.stringField(7, n.domain);
  return w;
}

function encodeValueInfo(v: ValueInfoSpec): ProtobufWriter {
  const shape = new ProtobufWriter();
  for (const d of v.shape) {
    const dim = new ProtobufWriter();
    if (typeof d === 'number') dim.varintField(1, d);
    else dim.stringField(2, d);
    shape.messageField(1, dim);
  }
  const tensorType = new ProtobufWriter().varintField(1, ELEMENT_TYPE_CODE[v.elementType]).messageField(2, shape);
  const type = new ProtobufWriter().messageField(1, tensorType);
  return new ProtobufWriter().stringField(1, v.name).messageField(2, type);
}

function encodeGraph(g: GraphSpec): ProtobufWriter {
  const w = new ProtobufWriter();
  for (const n of g.nodes) w.messageField(1, encodeNode(n));
  w.stringField(2, g.name);
  for (const t of g.initializers) w.messageField(5, encodeTensor(t));
  for (const i of g.inputs) w.messageField(11, encodeValueInfo(i));
  for (const o of g.outputs) w.messageField(12, encodeValueInfo(o));
  return w;
}

export const ONNX_IR_VERSION = 8;

export function encodeModel(m: ModelSpec): Buffer {
  const w = new ProtobufWriter();
  w.varintField(1, ONNX_IR_VERSION);
  w.stringField(2, m.producerName);
  w.stringField(3, m.producerVersion);
  w.messageField(7, encodeGraph(m.graph));
  for (const [domain, version] of Object.entries(m.opsets)) {
    const op = new ProtobufWriter();
    if (domain) op.stringField(1, domain);
    op.varintField(2, version);
    w.messageField(8, op);
  }
  for (const [key, value] of Object.entries(m.metadata ?? {})) {
    w.messageField(14, new ProtobufWriter().stringField(1, key).stringField(2, value));
  }
  return w.finish();
}
