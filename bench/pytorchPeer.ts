/**
 * Runs bench/pytorch_towers.py (the same towers in PyTorch eager fp32) when a Python with torch is
 * there — `python3` first, then Debian's /usr/bin/python3 — with BLAS and torch threads set to
 * the core count. Nothing of the project depends on it: without torch the figure says so.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { ClipArchConfig } from '../src/core/models/convert/clipConfig';

export interface TorchTiming {
  python: string;
  torch: string;
  threads: number;
  blas: string;
  prompt_ms: number;
  images_ms: number;
  total_ms: number;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The first Python that imports torch, or the reason none does. */
export async function findTorchPython(): Promise<{ python: string } | { skip: string }> {
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = await run(python, ['-c', 'import torch'], process.env, 60_000);
    if (r.code === 0) return { python };
  }
  return { skip: '`python3 -c "import torch"` fails (Debian: apt-get install python3-torch libopenblas0-pthread)' };
}

export async function timeTorchTowers(python: string, archs: ClipArchConfig[], images: number, promptTokens: number, threads: number): Promise<TorchTiming> {
  const t = String(threads);
  const env = { ...process.env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t };
  const spec = JSON.stringify({ archs, images, prompt_tokens: promptTokens, threads });
  const r = await run(python, [join(__dirname, 'pytorch_towers.py'), spec], env, 30 * 60_000);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) throw new Error(`pytorch_towers.py failed (${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return { python, ...(JSON.parse(line) as Omit<TorchTiming, 'python'>) };
}
