import { strict as assert } from 'node:assert';
import { toHalfBits } from '../../src/core/models/float16';
import { decodeToFloat32, STORAGE_BYTES, type StorageDtype } from '../../src/core/models/tensorDecode';

describe('tensor decoding (safetensors and PyTorch storages)', () => {
  const values = [0, 1, -2, 3, 127];

  const encode: Record<StorageDtype, (b: Buffer, v: number, i: number) => void> = {
    float32: (b, v, i) => b.writeFloatLE(v, i * 4),
    float16: (b, v, i) => b.writeUInt16LE(toHalfBits(v), i * 2),
    bfloat16: (b, v, i) => b.writeUInt16LE(new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16, i * 2),
    float64: (b, v, i) => b.writeDoubleLE(v, i * 8),
    int64: (b, v, i) => b.writeBigInt64LE(BigInt(v), i * 8),
    int32: (b, v, i) => b.writeInt32LE(v, i * 4),
    int16: (b, v, i) => b.writeInt16LE(v, i * 2),
    int8: (b, v, i) => b.writeInt8(v, i),
    uint8: (b, v, i) => b.writeUInt8(Math.abs(v), i),
    bool: (b, v, i) => b.writeUInt8(v === 0 ? 0 : 1, i),
  };

  for (const dtype of Object.keys(encode) as StorageDtype[]) {
    it(`decodes ${dtype}`, () => {
      const buf = Buffer.alloc(values.length * STORAGE_BYTES[dtype] + 3); // trailing bytes are ignored
      values.forEach((v, i) => encode[dtype](buf, v, i));
      const expected = values.map((v) => (dtype === 'uint8' ? Math.abs(v) : dtype === 'bool' ? (v === 0 ? 0 : 1) : v));
      assert.deepEqual(Array.from(decodeToFloat32(buf, dtype, values.length)), expected);
    });
  }

  it('reads float32 from an unaligned offset', () => {
    const backing = Buffer.alloc(4 * 3 + 1);
    const view = backing.subarray(1);
    [1.5, -2.25, 3].forEach((v, i) => view.writeFloatLE(v, i * 4));
    assert.deepEqual(Array.from(decodeToFloat32(view, 'float32', 3)), [1.5, -2.25, 3]);
  });
});
