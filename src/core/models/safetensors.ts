/**
 * Reader and writer for the safetensors format (8-byte little-endian header length, JSON header,
 * raw little-endian tensor data). The reader works on a file handle so multi-GB checkpoints are
 * read tensor by tensor, never whole.
 */
import { promises as fs } from 'node:fs';
import { ContactSheetError } from '../../shared/errors';
import { toHalfBits } from './float16';
import { decodeToFloat32, type StorageDtype } from './tensorDecode';


export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I8' | 'U8';

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES_PER: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I8: 1, U8: 1 };

export class SafetensorsFile {
  private constructor(
    private readonly handle: fs.FileHandle,
    readonly path: string,
    readonly tensors: Record<string, TensorInfo>,
    readonly metadata: Record<string, string>,
    private readonly dataStart: number,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const handle = await fs.open(path, 'r');
    try {
      const { size } = await handle.stat();
      const lenBuf = Buffer.alloc(8);
      await handle.read(lenBuf, 0, 8, 0);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (size < 8 || headerLen <= 0 || headerLen > 100_000_000 || 8 + headerLen > size) {
        throw new ContactSheetError('model-format', `${path} is not a safetensors file (bad header length).`, {
          action: 'Delete the file and download the model again.',
        });
      }
      const headerBuf = Buffer.alloc(headerLen);
      await handle.read(headerBuf, 0, headerLen, 8);
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(headerBuf.toString('utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new ContactSheetError('model-format', `${path} has a corrupt safetensors header.`, {
          cause: e,
          action: 'Delete the file and download the model again.',
        });
      }
      const metadata = (header.__metadata__ as Record<string, string> | undefined) ?? {};
      delete header.__metadata__;
      const tensors = header as Record<string, TensorInfo>;
      const dataLen = size - 8 - headerLen;
      for (const [name, t] of Object.entries(tensors)) {
        const [b, e] = t.data_offsets;
        const expected = t.shape.reduce((a, d) => a * d, 1) * (BYTES_PER[t.dtype] ?? NaN);
        if (!(b >= 0 && e <= dataLen && e - b === expected)) {
          throw new ContactSheetError('model-format', `${path}: tensor ${name} lies outside the file or has the wrong size (truncated download?).`, {
            action: 'Delete the file and download the model again.',
          });
        }
      }
      return new SafetensorsFile(handle, path, tensors, metadata, 8 + headerLen);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  has(name: string): boolean {
    return name in this.tensors;
  }

  info(name: string): TensorInfo {
    const t = this.tensors[name];
    if (!t) throw new ContactSheetError('model-format', `${this.path} has no tensor "${name}".`, { action: 'Check that the model files match the manifest.' });
    return t;
  }

  async readRaw(name: string): Promise<Buffer> {
    const t = this.info(name);
    const [b, e] = t.data_offsets;
    const buf = Buffer.alloc(e - b);
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await this.handle.read(buf, done, buf.length - done, this.dataStart + b + done);
      if (bytesRead === 0) throw new ContactSheetError('model-format', `${this.path} ended early while reading ${name}.`);
      done += bytesRead;
    }
    return buf;
  }

  /** Reads a floating-point tensor as float32 (F16 and BF16 are widened). */
  async readFloat32(name: string): Promise<Float32Array> {
    const t = this.info(name);
    const raw = await this.readRaw(name);
    return toFloat32(raw, t.dtype, `${this.path}:${name}`);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

const FLOAT_STORAGE: Partial<Record<SafetensorsDtype, StorageDtype>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64' };

export function toFloat32(raw: Buffer, dtype: SafetensorsDtype, what: string): Float32Array {
  const storage = FLOAT_STORAGE[dtype];
  if (!storage) throw new ContactSheetError('model-format', `${what} has dtype ${dtype}, expected a float type.`);
  return decodeToFloat32(raw, storage, raw.length / BYTES_PER[dtype]);
}


export interface TensorToWrite {
  dtype?: 'F32' | 'F16';
  shape: number[];
  data: Float32Array;
}

/** Writes a safetensors file (F32, or F16 rounded to nearest even). Used by the tiny-model maker. */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata: Record<string, string> = { format: 'pt' },
): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const dtype = t.dtype ?? 'F32';
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.data.length) throw new Error(`tensor ${name}: shape ${t.shape} does not match ${t.data.length} values`);
    let buf: Buffer;
    if (dtype === 'F32') {
      buf = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    } else {
      buf = Buffer.alloc(count * 2);
      for (let i = 0; i < count; i++) buf.writeUInt16LE(toHalfBits(t.data[i]), i * 2);
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + buf.length] };
    chunks.push(buf);
    offset += buf.length;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces to an 8-byte boundary, as the reference writer does.
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBuf = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBuf.length));
  await fs.writeFile(path, Buffer.concat([len, headerBuf, ...chunks]));
}
