/**
 * What this CPU can run, as far as onnxruntime's kernels care: the instruction-set extensions
 * that decide which GEMM kernels and pre-packed weight layouts it picks. An optimized graph saved
 * with pre-packed weights is only valid on a CPU with the same extensions, so its cache key
 * includes them; the int8 converter picks its weight range by them (VNNI or not); the
 * benchmarks print them next to every figure.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Extensions that change onnxruntime's MLAS kernel choice (Linux /proc/cpuinfo names). */
const KERNEL_FLAGS = [
  'sse4_1',
  'avx',
  'avx2',
  'fma',
  'f16c',
  'avx512f',
  'avx512bw',
  'avx512vl',
  'avx512_vnni',
  'avx_vnni',
  'avx512_bf16',
  'avx512_fp16',
  'amx_tile',
  'amx_int8',
  'amx_bf16',
] as const;

export interface CpuFeatures {
  model: string;
  arch: string;
  logicalCores: number;
  /** The KERNEL_FLAGS this CPU has, in that order; null where the OS does not tell (not Linux). */
  flags: string[] | null;
}

let cached: CpuFeatures | undefined;

export function cpuFeatures(): CpuFeatures {
  if (cached) return cached;
  const list = cpus();
  cached = { model: list[0]?.model.trim() ?? 'unknown', arch: process.arch, logicalCores: list.length, flags: linuxFlags() };
  return cached;
}

function linuxFlags(): string[] | null {
  if (process.platform !== 'linux') return null;
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const line = text.split('\n').find((l) => /^flags\s*:/.test(l));
    if (!line) return null;
    const have = new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/));
    return KERNEL_FLAGS.filter((f) => have.has(f));
  } catch {
    return null;
  }
}

/** One line for logs and benchmark tables: model, arch, cores, the kernel-relevant flags. */
export function describeCpu(c: CpuFeatures = cpuFeatures()): string {
  const flags = c.flags ? c.flags.filter((f) => /avx2|avx512f|vnni|amx_int8/.test(f)).join(' ') || 'no AVX2' : 'flags unknown';
  return `${c.model} (${c.arch}), ${c.logicalCores} logical cores, ${flags}`;
}
