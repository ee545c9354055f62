/**
 * Protocol-buffers wire encoding, just what the ONNX writer needs: varints, length-delimited
 * fields (strings, bytes, nested messages) and packed repeated scalars. Messages are encoded
 * bottom-up: a nested message is finished into a Buffer first, so its length is known when the
 * parent writes it. Large tensor payloads never pass through here (they go to external data).
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

export class ProtobufWriter {
  private readonly chunks: Buffer[] = [];
  private scratch: number[] = [];

  /** Field with a non-negative or negative integer (int32/int64/enum/bool), as a varint. */
  varintField(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  float32Field(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = Buffer.alloc(4);
    b.writeFloatLE(value, 0);
    this.pushBytes(b);
    return this;
  }

  float64Field(field: number, value: number): this {
    this.tag(field, WIRE_FIXED64);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value, 0);
    this.pushBytes(b);
    return this;
  }

  stringField(field: number, value: string): this {
    return this.bytesField(field, Buffer.from(value, 'utf8'));
  }

  bytesField(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.varint(value.length);
    this.pushBytes(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return this;
  }

  messageField(field: number, message: ProtobufWriter): this {
    return this.bytesField(field, message.finish());
  }

  /** Packed repeated varints (int64 dims, ints attributes). */
  packedVarintField(field: number, values: ArrayLike<number | bigint>): this {
    const inner = new ProtobufWriter();
    for (let i = 0; i < values.length; i++) inner.varint(values[i]);
    return this.bytesField(field, inner.finish());
  }

  /** Packed repeated float32 (floats attributes). */
  packedFloat32Field(field: number, values: ArrayLike<number>): this {
    const b = Buffer.alloc(values.length * 4);
    for (let i = 0; i < values.length; i++) b.writeFloatLE(values[i], i * 4);
    return this.bytesField(field, b);
  }

  finish(): Buffer {
    this.flushScratch();
    return Buffer.concat(this.chunks);
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /**
   * Negative numbers are encoded as 10-byte two's-complement varints, as protobuf does for
   * int32/int64 (ONNX uses negative axes and -1 in Reshape shapes).
   */
  private varint(value: number | bigint): void {
    let v = typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
    if (v < 0n) v += 1n << 64n;
    if (v < 0x80n) {
      this.scratch.push(Number(v));
      return;
    }
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private pushBytes(b: Buffer): void {
    this.flushScratch();
    this.chunks.push(b);
  }

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    this.chunks.push(Buffer.from(this.scratch));
    this.scratch = [];
  }
}
