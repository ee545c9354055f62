/**
 * Reader for PyTorch's zip checkpoint format (what `torch.save` writes since 1.6): a zip archive of
 * stored entries `<archive>/data.pkl` (the pickled state dict), `<archive>/data/<key>` (raw
 * little-endian storages) and `<archive>/version`. Python is not needed: the zip central
 * directory (zip64 included, for multi-GB .bin files) and a small pickle VM are implemented here.
 *
 * Security: pickle can call any Python global. This VM knows a whitelist of the globals a state
 * dict needs (OrderedDict, tensor rebuilders, storage types) and refuses everything else with a
 * 'model-format' error, so a hostile file can never make it do more than build tensors.
 */
import { promises as fs } from 'node:fs';
import { ContactSheetError } from '../../shared/errors';
import { decodeToFloat32, STORAGE_BYTES, type StorageDtype } from './tensorDecode';

export type TorchDtype = StorageDtype;

export interface TorchTensor {
  dtype: TorchDtype;
  shape: number[];
  stride: number[];
  /** Elements in row-major order of `shape` (strides and storage offset already applied). */
  data: Float32Array;
  /** Device the tensor was saved from ("cpu", "cuda:0"); irrelevant here, kept for the record. */
  location: string;
  /** Whether the view was contiguous in its storage (false: it was gathered through its strides). */
  contiguous: boolean;
}

export type TorchStateDict = Record<string, TorchTensor>;

const STORAGE_DTYPES: Record<string, TorchDtype> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

function formatError(path: string, what: string): ContactSheetError {
  return new ContactSheetError('model-format', `${path} is not a readable PyTorch checkpoint: ${what}.`, {
    action: 'Delete the file and download the model again (`contact-sheet models pull`).',
  });
}

// ---------------------------------------------------------------------------------------------
// Zip: central directory only; entries must be stored (method 0), as torch.save writes them.

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export class ZipArchive {
  private constructor(
    private readonly handle: fs.FileHandle,
    readonly path: string,
    readonly entries: Map<string, ZipEntry>,
  ) {}

  static async open(path: string): Promise<ZipArchive> {
    const handle = await fs.open(path, 'r');
    try {
      const entries = await readCentralDirectory(handle, path);
      return new ZipArchive(handle, path, entries);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** Byte offset of an entry's data in the file (after its local header). */
  async dataOffset(entry: ZipEntry): Promise<number> {
    const local = await readExactly(this.handle, entry.localHeaderOffset, 30, this.path);
    if (local.readUInt32LE(0) !== 0x04034b50) throw formatError(this.path, `bad local header for ${entry.name}`);
    return entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  }

  /** Reads `length` bytes of a stored entry starting at `start` within the entry. */
  async read(entry: ZipEntry, start = 0, length = entry.size - start): Promise<Buffer> {
    if (entry.method !== 0) throw formatError(this.path, `entry ${entry.name} is compressed (method ${entry.method})`);
    if (start < 0 || length < 0 || start + length > entry.size) throw formatError(this.path, `read outside entry ${entry.name}`);
    return readExactly(this.handle, (await this.dataOffset(entry)) + start, length, this.path);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

async function readExactly(handle: fs.FileHandle, position: number, length: number, path: string): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw formatError(path, 'the file ends early (truncated download?)');
    done += bytesRead;
  }
  return buf;
}

async function readCentralDirectory(handle: fs.FileHandle, path: string): Promise<Map<string, ZipEntry>> {
  const { size } = await handle.stat();
  if (size < 22) throw formatError(path, 'too small to be a zip archive');
  // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
  const tailLen = Math.min(size, 22 + 0xffff + 20);
  const tail = await readExactly(handle, size - tailLen, tailLen, path);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw formatError(path, 'no zip end-of-central-directory record (is it an old-format or truncated file?)');
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  // Zip64: a locator right before the EOCD points at the zip64 EOCD with 64-bit fields.
  if (eocd >= 20 && tail.readUInt32LE(eocd - 20) === 0x07064b50) {
    const z64Offset = Number(tail.readBigUInt64LE(eocd - 20 + 8));
    const z64 = await readExactly(handle, z64Offset, 56, path);
    if (z64.readUInt32LE(0) !== 0x06064b50) throw formatError(path, 'bad zip64 end-of-central-directory record');
    count = Number(z64.readBigUInt64LE(32));
    cdSize = Number(z64.readBigUInt64LE(40));
    cdOffset = Number(z64.readBigUInt64LE(48));
  }
  if (cdOffset + cdSize > size) throw formatError(path, 'central directory lies outside the file');
  const cd = await readExactly(handle, cdOffset, cdSize, path);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw formatError(path, 'corrupt central directory');
    const method = cd.readUInt16LE(p + 10);
    let compressedSize = cd.readUInt32LE(p + 20);
    let entrySize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let localHeaderOffset = cd.readUInt32LE(p + 42);
    const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
    // Zip64 extended information (id 1): 64-bit values follow, in this order, only for fields
    // whose 32-bit value is the 0xFFFFFFFF sentinel.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (entrySize === 0xffffffff) {
          entrySize = Number(cd.readBigUInt64LE(q));
          q += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = Number(cd.readBigUInt64LE(q));
          q += 8;
        }
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = Number(cd.readBigUInt64LE(q));
      }
      e += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size: entrySize, localHeaderOffset });
    p = extraEnd + commentLen;
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------
// Pickle VM (protocols 2–5 subset). Values are plain JS values plus the marker classes below.

class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
}

class StorageRef {
  constructor(
    readonly dtype: TorchDtype,
    readonly elementBytes: number,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
  ) {}
}

class TensorView {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** An OrderedDict (a Map keeps insertion order and is safe against "__proto__" keys). */
class PyDict extends Map<unknown, unknown> {}

const MARK = Symbol('mark');

const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`),
]);

function callGlobal(fn: unknown, args: unknown, path: string): unknown {
  if (!(fn instanceof PyGlobal) || !Array.isArray(args)) throw formatError(path, 'REDUCE on something that is not a whitelisted global');
  const qualified = `${fn.module}.${fn.name}`;
  switch (qualified) {
    case 'collections.OrderedDict':
      return new PyDict();
    case 'torch._utils._rebuild_tensor_v2':
    case 'torch._utils._rebuild_tensor': {
      const [storage, offset, shape, stride] = args as [unknown, unknown, unknown, unknown];
      if (!(storage instanceof StorageRef) || typeof offset !== 'number' || !isIntArray(shape) || !isIntArray(stride) || shape.length !== stride.length) {
        throw formatError(path, `bad arguments to ${qualified}`);
      }
      return new TensorView(storage, offset, shape, stride);
    }
    case 'torch._utils._rebuild_parameter': {
      const [data] = args;
      if (!(data instanceof TensorView)) throw formatError(path, 'bad arguments to _rebuild_parameter');
      return data;
    }
    default:
      throw formatError(path, `calling ${qualified} is not allowed`);
  }
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0);
}

function persistentLoad(pid: unknown, path: string): StorageRef {
  // torch.save's persistent id: ('storage', storage_type, key, location, numel)
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw formatError(path, 'unknown persistent id');
  const [, type, key, location, numel] = pid as [string, unknown, unknown, unknown, unknown];
  if (!(type instanceof PyGlobal) || type.module !== 'torch' || !(type.name in STORAGE_DTYPES)) throw formatError(path, 'unknown storage type');
  if (typeof key !== 'string' || typeof location !== 'string' || typeof numel !== 'number') throw formatError(path, 'bad storage reference');
  const dtype = STORAGE_DTYPES[type.name];
  return new StorageRef(dtype, STORAGE_BYTES[dtype], key, location, numel);
}

export function unpickleStateDict(data: Buffer, path: string): unknown {
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > data.length) throw formatError(path, 'pickle ends early');
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw formatError(path, 'pickle MARK missing');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw formatError(path, 'pickle stack underflow');
    return stack.pop();
  };
  const readLine = (): string => {
    const end = data.indexOf(0x0a, p);
    if (end < 0) throw formatError(path, 'pickle line without end');
    const s = data.toString('utf8', p, end);
    p = end + 1;
    return s;
  };
  const pushGlobal = (module: string, name: string) => {
    if (!ALLOWED_GLOBALS.has(`${module}.${name}`)) throw formatError(path, `it refers to the Python global ${module}.${name}, which is not allowed in a state dict`);
    stack.push(new PyGlobal(module, name));
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof PyDict)) throw formatError(path, 'SETITEMS on a non-dict');
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  };

  for (;;) {
    need(1);
    const op = data[p++];
    switch (op) {
      case 0x80: // PROTO
        need(1);
        p += 1;
        break;
      case 0x95: // FRAME (protocol 4): length only, contents follow inline
        need(8);
        p += 8;
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        need(1);
        stack.push(data[p]);
        p += 1;
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(data.readUInt16LE(p));
        p += 2;
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(data.readInt32LE(p));
        p += 4;
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes
        need(1);
        const n = data[p++];
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]);
        if (n > 0 && data[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw formatError(path, 'integer too large');
        stack.push(Number(v));
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(data.readDoubleBE(p));
        p += 8;
        break;
      case 0x58: {
        // BINUNICODE
        need(4);
        const n = data.readUInt32LE(p);
        p += 4;
        need(n);
        stack.push(data.toString('utf8', p, p + n));
        p += n;
        break;
      }
      case 0x8c: {
        // SHORT_BINUNICODE
        need(1);
        const n = data[p++];
        need(n);
        stack.push(data.toString('utf8', p, p + n));
        p += n;
        break;
      }
      case 0x55: {
        // SHORT_BINSTRING
        need(1);
        const n = data[p++];
        need(n);
        stack.push(data.toString('latin1', p, p + n));
        p += n;
        break;
      }
      case 0x54: {
        // BINSTRING
        need(4);
        const n = data.readUInt32LE(p);
        p += 4;
        need(n);
        stack.push(data.toString('latin1', p, p + n));
        p += n;
        break;
      }
      case 0x71: // BINPUT
        need(1);
        memo.set(data[p++], stack[stack.length - 1]);
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memo.set(data.readUInt32LE(p), stack[stack.length - 1]);
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, stack[stack.length - 1]);
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const long = op === 0x6a;
        need(long ? 4 : 1);
        const idx = long ? data.readUInt32LE(p) : data[p];
        p += long ? 4 : 1;
        if (!memo.has(idx)) throw formatError(path, `pickle memo ${idx} missing`);
        stack.push(memo.get(idx));
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = readLine();
        const name = readLine();
        pushGlobal(module, name);
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw formatError(path, 'bad STACK_GLOBAL');
        pushGlobal(module, name);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop(), path));
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(callGlobal(fn, args, path));
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(stack[stack.length - 1], [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(stack[stack.length - 1], items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = stack[stack.length - 1];
        if (!Array.isArray(list)) throw formatError(path, 'APPEND on a non-list');
        list.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = stack[stack.length - 1];
        if (!Array.isArray(list)) throw formatError(path, 'APPENDS on a non-list');
        list.push(...items);
        break;
      }
      case 0x62: {
        // BUILD: an OrderedDict's __dict__ (torch's `_metadata`) — irrelevant to the weights.
        pop();
        if (!(stack[stack.length - 1] instanceof PyDict)) throw formatError(path, 'BUILD on an unexpected object');
        break;
      }
      default:
        throw formatError(path, `unsupported pickle opcode 0x${op.toString(16)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// State dict assembly

/** Reads every tensor of a torch zip checkpoint's state dict as float32 values. */
export async function readTorchStateDict(path: string): Promise<TorchStateDict> {
  const zip = await ZipArchive.open(path);
  try {
    const pklEntry = [...zip.entries.values()].find((e) => /^[^/]+\/data\.pkl$/.test(e.name));
    if (!pklEntry) throw formatError(path, 'no <archive>/data.pkl entry (legacy, non-zip checkpoints are not supported)');
    const prefix = pklEntry.name.slice(0, -'data.pkl'.length);
    const byteorder = zip.entries.get(`${prefix}byteorder`);
    if (byteorder && (await zip.read(byteorder)).toString('utf8').trim() !== 'little') throw formatError(path, 'big-endian storages are not supported');
    const root = unpickleStateDict(await zip.read(pklEntry), path);
    if (!(root instanceof PyDict)) throw formatError(path, 'the pickle is not a state dict');
    const out: TorchStateDict = {};
    const storageCache = new Map<string, Float32Array>();
    for (const [name, value] of root) {
      if (typeof name !== 'string' || !(value instanceof TensorView)) continue;
      const storage = await loadStorage(zip, prefix, value.storage, storageCache, path);
      out[name] = materialize(value, storage, path, name);
    }
    return out;
  } finally {
    await zip.close();
  }
}

async function loadStorage(zip: ZipArchive, prefix: string, ref: StorageRef, cache: Map<string, Float32Array>, path: string): Promise<Float32Array> {
  const cached = cache.get(ref.key);
  if (cached) return cached;
  const entry = zip.entries.get(`${prefix}data/${ref.key}`);
  if (!entry) throw formatError(path, `storage ${ref.key} is missing`);
  if (entry.size < ref.numel * ref.elementBytes) throw formatError(path, `storage ${ref.key} is shorter than its ${ref.numel} elements`);
  const raw = await zip.read(entry, 0, ref.numel * ref.elementBytes);
  const values = decodeToFloat32(raw, ref.dtype, ref.numel);
  cache.set(ref.key, values);
  return values;
}

function materialize(view: TensorView, storage: Float32Array, path: string, name: string): TorchTensor {
  const { shape, stride, offset } = view;
  const count = shape.reduce((a, d) => a * d, 1);
  // Largest index the view touches must lie inside the storage.
  const last = count === 0 ? offset : offset + shape.reduce((a, d, i) => a + (d - 1) * stride[i], 0);
  if (last >= storage.length && count > 0) throw formatError(path, `tensor ${name} reaches past its storage`);
  let contiguous = true;
  for (let i = shape.length - 1, expected = 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) contiguous = false;
    expected *= shape[i];
  }
  let data: Float32Array;
  if (contiguous) {
    data = storage.slice(offset, offset + count);
  } else {
    data = new Float32Array(count);
    const index = new Array<number>(shape.length).fill(0);
    for (let k = 0; k < count; k++) {
      let src = offset;
      for (let d = 0; d < shape.length; d++) src += index[d] * stride[d];
      data[k] = storage[src];
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++index[d] < shape[d]) break;
        index[d] = 0;
      }
    }
  }
  return { dtype: view.storage.dtype, shape: [...shape], stride: [...stride], data, location: view.storage.location, contiguous };
}
