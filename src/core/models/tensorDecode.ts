/**
 * Little-endian tensor bytes → Float32Array, for every element type the checkpoint readers meet
 * (safetensors and PyTorch storages share this one decoder).
 */
import { fromHalfBits } from './float16';

export type StorageDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export const STORAGE_BYTES: Record<StorageDtype, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Decodes the first `count` elements of `raw`. */
export function decodeToFloat32(raw: Buffer, dtype: StorageDtype, count: number): Float32Array {
  const out = new Float32Array(count);
  switch (dtype) {
    case 'float32':
      // Copy through an aligned buffer: the source need not be 4-byte aligned in memory.
      new Uint8Array(out.buffer).set(raw.subarray(0, count * 4));
      return out;
    case 'float16':
      for (let i = 0; i < count; i++) out[i] = fromHalfBits(raw.readUInt16LE(i * 2));
      return out;
    case 'bfloat16': {
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u32[i] = raw.readUInt16LE(i * 2) << 16;
      return out;
    }
    case 'float64':
      for (let i = 0; i < count; i++) out[i] = raw.readDoubleLE(i * 8);
      return out;
    case 'int64':
      for (let i = 0; i < count; i++) out[i] = Number(raw.readBigInt64LE(i * 8));
      return out;
    case 'int32':
      for (let i = 0; i < count; i++) out[i] = raw.readInt32LE(i * 4);
      return out;
    case 'int16':
      for (let i = 0; i < count; i++) out[i] = raw.readInt16LE(i * 2);
      return out;
    case 'int8':
      for (let i = 0; i < count; i++) out[i] = raw.readInt8(i);
      return out;
    case 'uint8':
    case 'bool':
      for (let i = 0; i < count; i++) out[i] = raw[i];
      return out;
  }
}
