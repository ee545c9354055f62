/**
 * A small ONNX graph builder (no dependencies) so graphs read like the maths.
 *
 * API
 * ```ts
 * import { GraphBuilder, attr } from './graphBuilder';
 * import { ExternalDataWriter } from './externalDataWriter';
 *
 * const g = new GraphBuilder('tiny', { externalData: new ExternalDataWriter('/dir/m.onnx.data') }); // externalData optional
 * const x = g.input('x', 'float32', ['batch', 4]);          // string dims are symbolic (dim_param)
 * const w = g.initializer('w', new Float32Array(4 * 3), [4, 3]);
 * const y = g.add(g.matmul(x, w), g.constFloat([1, 2, 3]));
 * const ln = g.layerNorm(y, g.constFloat([1, 1, 1]), g.constFloat([0, 0, 0]), 1e-5);
 * const [z] = g.node('QuickGelu', [ln], { alpha: attr.float(1.702) }, { domain: 'com.microsoft' });
 * g.output(z, 'y', 'float32', ['batch', 3]);
 * const bytes = g.toBuffer();          // ModelProto bytes (ORT: InferenceSession.create(bytes))
 * await g.save('/dir/m.onnx');         // or write it; closes the external data file first.
 *                                      // With external data, load the model from its path.
 * ```
 * Values are tensor names (strings). Every op helper returns its output name; `g.node(...)` adds
 * any op (any domain) with explicit attributes built by `attr.int/float/ints/floats/string/tensor`.
 * Initializers of at least `externalMinBytes` (default 1 KiB) go to the external data file when
 * one is given; smaller ones (shapes, scalars) stay inline.
 * Model: ir_version 8, opset ai.onnx 17, plus com.microsoft 1 once a node uses that domain.
 */
import { promises as fs } from 'node:fs';
import type { ExternalDataWriter } from './externalDataWriter';
import {
  ELEMENT_TYPE_CODE,
  encodeModel,
  type AttributeValue,
  type Dim,
  type NodeSpec,
  type TensorElementType,
  type TensorProtoSpec,
  type ValueInfoSpec,
} from './onnxProto';

export type Value = string;

export type TensorData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

export const attr = {
  int: (value: number): AttributeValue => ({ kind: 'int', value }),
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
  ints: (value: number[]): AttributeValue => ({ kind: 'ints', value }),
  floats: (value: number[]): AttributeValue => ({ kind: 'floats', value }),
  tensor: (value: TensorProtoSpec): AttributeValue => ({ kind: 'tensor', value }),
};

export const ONNX_OPSET = 17;
export const MS_DOMAIN = 'com.microsoft';

export interface GraphBuilderOptions {
  externalData?: ExternalDataWriter;
  externalMinBytes?: number;
  producerName?: string;
  producerVersion?: string;
  metadata?: Record<string, string>;
}

export function elementTypeOf(data: TensorData): TensorElementType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int32Array) return 'int32';
  return 'int64';
}

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers: TensorProtoSpec[] = [];
  private readonly inputs: ValueInfoSpec[] = [];
  private readonly outputs: ValueInfoSpec[] = [];
  private readonly usedNames = new Set<string>();
  private readonly domains = new Set<string>();
  private counter = 0;

  constructor(readonly name: string, private readonly options: GraphBuilderOptions = {}) {}

  // ---- graph interface -------------------------------------------------------------------

  input(name: string, elementType: TensorElementType, shape: Dim[]): Value {
    this.claim(name);
    this.inputs.push({ name, elementType, shape });
    return name;
  }

  /** Marks `value` as a graph output called `name` (an Identity renames it if needed). */
  output(value: Value, name: string, elementType: TensorElementType, shape: Dim[]): void {
    const out = value === name ? value : this.node('Identity', [value], {}, { outputName: name })[0];
    this.outputs.push({ name: out, elementType, shape });
  }

  initializer(name: string, data: TensorData, dims: number[]): Value {
    const count = dims.reduce((a, d) => a * d, 1);
    if (count !== data.length) throw new Error(`initializer ${name}: dims [${dims}] hold ${count} values, got ${data.length}`);
    this.claim(name);
    const bytes = bytesOf(data);
    const elementType = elementTypeOf(data);
    const ext = this.options.externalData;
    if (ext && bytes.byteLength >= (this.options.externalMinBytes ?? 1024)) {
      this.initializers.push({ name, elementType, dims, external: ext.append(bytes) });
    } else {
      // Copy: the caller may reuse its array after this returns.
      this.initializers.push({ name, elementType, dims, rawData: Uint8Array.from(bytes) });
    }
    return name;
  }

  constFloat(values: number[], dims: number[] = [values.length]): Value {
    return this.initializer(this.fresh('const_f'), Float32Array.from(values), dims);
  }

  constInt64(values: number[], dims: number[] = [values.length]): Value {
    return this.initializer(this.fresh('const_i'), BigInt64Array.from(values.map((v) => BigInt(v))), dims);
  }

  /** Adds any node; returns its output names. */
  node(
    opType: string,
    inputs: Value[],
    attributes: Record<string, AttributeValue> = {},
    opts: { domain?: string; outputs?: number; outputName?: string } = {},
  ): Value[] {
    const id = this.counter++;
    const count = opts.outputs ?? 1;
    const outputs: Value[] = [];
    for (let i = 0; i < count; i++) {
      const n = i === 0 && opts.outputName ? opts.outputName : `${opType}_${id}${count > 1 ? `_${i}` : ''}`;
      this.claim(n);
      outputs.push(n);
    }
    if (opts.domain) this.domains.add(opts.domain);
    this.nodes.push({ opType, domain: opts.domain, name: `${opType}_node_${id}`, inputs, outputs, attributes });
    return outputs;
  }

  // ---- ops (ai.onnx 17) -----------------------------------------------------------------

  op(opType: string, inputs: Value[], attributes: Record<string, AttributeValue> = {}): Value {
    return this.node(opType, inputs, attributes)[0];
  }
  matmul(a: Value, b: Value): Value {
    return this.op('MatMul', [a, b]);
  }
  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('Div', [a, b]);
  }
  sigmoid(x: Value): Value {
    return this.op('Sigmoid', [x]);
  }
  erf(x: Value): Value {
    return this.op('Erf', [x]);
  }
  softmax(x: Value, axis = -1): Value {
    return this.op('Softmax', [x], { axis: attr.int(axis) });
  }
  /** LayerNormalization over the last axis (opset 17). */
  layerNorm(x: Value, scale: Value, bias: Value, epsilon: number): Value {
    return this.op('LayerNormalization', [x, scale, bias], { axis: attr.int(-1), epsilon: attr.float(epsilon) });
  }
  /** Reshape with a constant target shape (0 copies the input dim, -1 infers one). */
  reshape(x: Value, shape: number[]): Value {
    return this.op('Reshape', [x, this.constInt64(shape)]);
  }
  transpose(x: Value, perm: number[]): Value {
    return this.op('Transpose', [x], { perm: attr.ints(perm) });
  }
  gather(data: Value, indices: Value, axis = 0): Value {
    return this.op('Gather', [data, indices], { axis: attr.int(axis) });
  }
  gatherND(data: Value, indices: Value, batchDims = 0): Value {
    return this.op('GatherND', [data, indices], { batch_dims: attr.int(batchDims) });
  }
  concat(values: Value[], axis: number): Value {
    return this.op('Concat', values, { axis: attr.int(axis) });
  }
  /** Shape(x)[start:end] as a 1-D int64 tensor. */
  shape(x: Value, start?: number, end?: number): Value {
    const a: Record<string, AttributeValue> = {};
    if (start !== undefined) a.start = attr.int(start);
    if (end !== undefined) a.end = attr.int(end);
    return this.op('Shape', [x], a);
  }
  slice(x: Value, starts: Value, ends: Value, axes: Value): Value {
    return this.op('Slice', [x, starts, ends, axes]);
  }
  unsqueeze(x: Value, axes: number[]): Value {
    return this.op('Unsqueeze', [x, this.constInt64(axes)]);
  }
  squeeze(x: Value, axes: number[]): Value {
    return this.op('Squeeze', [x, this.constInt64(axes)]);
  }
  cast(x: Value, to: TensorElementType): Value {
    return this.op('Cast', [x], { to: attr.int(ELEMENT_TYPE_CODE[to]) });
  }
  equal(a: Value, b: Value): Value {
    return this.op('Equal', [a, b]);
  }
  argmax(x: Value, axis: number, keepdims = false): Value {
    return this.op('ArgMax', [x], { axis: attr.int(axis), keepdims: attr.int(keepdims ? 1 : 0) });
  }
  pad(x: Value, pads: number[]): Value {
    return this.op('Pad', [x, this.constInt64(pads)]);
  }
  conv(x: Value, w: Value, opts: { strides: number[]; bias?: Value }): Value {
    const inputs = opts.bias ? [x, w, opts.bias] : [x, w];
    return this.op('Conv', inputs, { strides: attr.ints(opts.strides) });
  }
  /** uint8 quantization of an activation: returns [quantized, scale, zeroPoint]. */
  dynamicQuantizeLinear(x: Value): [Value, Value, Value] {
    const [q, s, z] = this.node('DynamicQuantizeLinear', [x], {}, { outputs: 3 });
    return [q, s, z];
  }
  matmulInteger(a: Value, b: Value, aZeroPoint: Value, bZeroPoint: Value): Value {
    return this.op('MatMulInteger', [a, b, aZeroPoint, bZeroPoint]);
  }

  // ---- output --------------------------------------------------------------------------

  toBuffer(): Buffer {
    const opsets: Record<string, number> = { '': ONNX_OPSET };
    for (const d of this.domains) opsets[d] = 1;
    return encodeModel({
      graph: { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs },
      opsets,
      producerName: this.options.producerName ?? 'contact-sheet',
      producerVersion: this.options.producerVersion ?? '1',
      metadata: this.options.metadata,
    });
  }

  /** Closes the external data file (if any) and writes the model file. */
  async save(path: string): Promise<void> {
    this.options.externalData?.close();
    await fs.writeFile(path, this.toBuffer());
  }

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  private claim(name: string): void {
    if (this.usedNames.has(name)) throw new Error(`duplicate tensor name in graph ${this.name}: ${name}`);
    this.usedNames.add(name);
  }
}
