/**
 * Reads a Hugging Face checkpoint folder tensor by tensor: `model.safetensors`, or the shards
 * listed in `model.safetensors.index.json`. Every tensor is returned as float32 (F16/BF16 are
 * widened) so the converter works the same on fp16 and fp32 checkpoints.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ContactSheetError } from '../../../shared/errors';
import { SafetensorsFile } from '../safetensors';

export const SINGLE_FILE = 'model.safetensors';
export const SHARD_INDEX = 'model.safetensors.index.json';

export class CheckpointReader {
  private constructor(
    private readonly files: Map<string, SafetensorsFile>,
    private readonly owner: Map<string, SafetensorsFile>,
    /** Paths relative to the checkpoint folder, for the cache signature. */
    readonly sourcePaths: string[],
  ) {}

  static async open(dir: string): Promise<CheckpointReader> {
    const names = await listNames(dir);
    const files = new Map<string, SafetensorsFile>();
    const owner = new Map<string, SafetensorsFile>();
    try {
      if (names.includes(SINGLE_FILE)) {
        const f = await SafetensorsFile.open(join(dir, SINGLE_FILE));
        files.set(SINGLE_FILE, f);
        for (const name of Object.keys(f.tensors)) owner.set(name, f);
        return new CheckpointReader(files, owner, [SINGLE_FILE]);
      }
      if (names.includes(SHARD_INDEX)) {
        const weightMap = await readWeightMap(join(dir, SHARD_INDEX));
        for (const [tensor, shard] of Object.entries(weightMap)) {
          let f = files.get(shard);
          if (!f) {
            f = await SafetensorsFile.open(join(dir, shard));
            files.set(shard, f);
          }
          if (!f.has(tensor)) throw formatError(`${shard} does not hold ${tensor}, which ${SHARD_INDEX} says it does.`);
          owner.set(tensor, f);
        }
        return new CheckpointReader(files, owner, [SHARD_INDEX, ...files.keys()]);
      }
    } catch (e) {
      await Promise.all([...files.values()].map((f) => f.close()));
      throw e;
    }
    throw new ContactSheetError('model-missing', `No ${SINGLE_FILE} or ${SHARD_INDEX} in ${dir}.`, {
      action: 'Download the model again (`contact-sheet models download`).',
    });
  }

  names(): string[] {
    return [...this.owner.keys()];
  }

  has(name: string): boolean {
    return this.owner.has(name);
  }

  shape(name: string): number[] {
    return this.file(name).info(name).shape;
  }

  /** Bytes of float data the converter will read (for progress). */
  byteLength(name: string): number {
    const [b, e] = this.file(name).info(name).data_offsets;
    return e - b;
  }

  /** Reads a tensor as float32 and checks its shape. */
  async readFloat32(name: string, expectedShape?: number[]): Promise<Float32Array> {
    const f = this.file(name);
    const shape = f.info(name).shape;
    if (expectedShape && (shape.length !== expectedShape.length || shape.some((d, i) => d !== expectedShape[i]))) {
      throw formatError(`${name} has shape [${shape}], config.json implies [${expectedShape}].`);
    }
    return f.readFloat32(name);
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.close()));
  }

  private file(name: string): SafetensorsFile {
    const f = this.owner.get(name);
    if (!f) throw formatError(`The checkpoint has no tensor "${name}" (not a CLIPModel checkpoint?).`);
    return f;
  }
}

function formatError(message: string): ContactSheetError {
  return new ContactSheetError('model-format', message, { action: 'Delete the model folder and download it again.' });
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (e) {
    throw new ContactSheetError('model-missing', `Cannot read the model folder ${dir}.`, { cause: e, action: 'Download the model again.' });
  }
}

async function readWeightMap(path: string): Promise<Record<string, string>> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(path, 'utf8'));
  } catch (e) {
    throw new ContactSheetError('model-format', `${path} is not valid JSON.`, { cause: e, action: 'Download the model again.' });
  }
  const map = (json as { weight_map?: unknown }).weight_map;
  if (typeof map !== 'object' || map === null) throw formatError(`${path} has no weight_map.`);
  for (const v of Object.values(map)) if (typeof v !== 'string' || v.includes('/') || v.includes('\\')) throw formatError(`${path} names an invalid shard.`);
  return map as Record<string, string>;
}
