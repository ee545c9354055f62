/**
 * Proves a freshly saved optimized graph before it is published: a separate process loads it,
 * runs probe inputs, and its outputs must equal, bit for bit, those of the session that wrote it.
 *
 * Why a process: onnxruntime 1.30 can save graphs with pre-packed weights that crash it when they
 * are loaded back (measured: the tiny CLIP text towers of the tests, with a symbolic sequence
 * length, segfault on their first run; the full-size towers are fine). A crash inside the scorer
 * would take the extension host down with it; inside this throw-away process it only means "do
 * not cache this graph".
 */
import { spawn } from 'node:child_process';
import type { InferenceSession, Tensor } from 'onnxruntime-node';

export interface ProbeTensor {
  type: Tensor.Type;
  dims: number[];
  data: Tensor.DataType;
}

interface CheckRequest {
  modelPath: string;
  threads: number;
  feeds: Record<string, ProbeTensor>;
}

type CheckReply = { ok: true; outputs: Record<string, ProbeTensor> } | { ok: false; error: string };

/** A crash, a hang or different outputs: the reason, for the log and the marker file. */
export type CheckVerdict = { ok: true } | { ok: false; reason: string };

const CHECK_TIMEOUT_MS = 5 * 60_000;

export function toProbe(t: Tensor): ProbeTensor {
  return { type: t.type, dims: [...t.dims], data: t.data };
}

/** Runs `feeds` through `written` here and through `modelPath` in a child process; compares. */
export async function checkOptimizedGraph(modelPath: string, written: InferenceSession, feeds: Record<string, Tensor>, threads: number): Promise<CheckVerdict> {
  const expected = await written.run(feeds);
  let reply: CheckReply;
  try {
    reply = await runChild({ modelPath, threads, feeds: Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toProbe(t)])) });
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  if (!reply.ok) return { ok: false, reason: `the saved graph failed in onnxruntime: ${reply.error}` };
  for (const [name, tensor] of Object.entries(expected)) {
    const got = reply.outputs[name];
    if (!got || !sameBytes(got.data, tensor.data) || got.dims.join() !== tensor.dims.join()) return { ok: false, reason: `output "${name}" differs from the source graph's` };
  }
  return { ok: true };
}

function sameBytes(a: Tensor.DataType, b: Tensor.DataType): boolean {
  const bytes = (x: Tensor.DataType) => (Array.isArray(x) ? Buffer.from(JSON.stringify(x)) : Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  return bytes(a).equals(bytes(b));
}

/**
 * The child: plain Node with onnxruntime-node only (no TypeScript, no bundle of its own), so it
 * starts fast and ships without another file. It answers one request and exits.
 */
const CHILD_SCRIPT = `
const ort = require(process.argv[1]);
process.once('message', async (req) => {
  let reply;
  try {
    const session = await ort.InferenceSession.create(req.modelPath, { graphOptimizationLevel: 'disabled', ...(req.threads > 0 ? { intraOpNumThreads: req.threads } : {}) });
    const feeds = {};
    for (const [k, p] of Object.entries(req.feeds)) feeds[k] = new ort.Tensor(p.type, p.data, p.dims);
    const out = await session.run(feeds);
    const outputs = {};
    for (const [k, t] of Object.entries(out)) outputs[k] = { type: t.type, dims: [...t.dims], data: t.data };
    reply = { ok: true, outputs };
  } catch (e) {
    reply = { ok: false, error: e && e.message ? e.message : String(e) };
  }
  process.send(reply, () => process.exit(0));
});`;

function runChild(req: CheckRequest): Promise<CheckReply> {
  return new Promise((resolve, reject) => {
    // 'advanced' serialization carries typed arrays (BigInt64Array included) as they are.
    // ELECTRON_RUN_AS_NODE: inside VS Code, process.execPath is the editor's own binary.
    const child = spawn(process.execPath, ['-e', CHILD_SCRIPT, require.resolve('onnxruntime-node')], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    let stderr = '';
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(() => reject(new Error(`the check did not finish within ${CHECK_TIMEOUT_MS / 1000} s`)));
    }, CHECK_TIMEOUT_MS);
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.on('message', (m: CheckReply) => finish(() => resolve(m)));
    child.on('error', (e) => finish(() => reject(e)));
    child.on('exit', (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      finish(() => reject(new Error(`loading the saved graph in a separate process crashed: it ${how}${stderr.trim() ? ` (${stderr.trim().split('\n').pop()})` : ''}`)));
    });
    child.send(req);
  });
}
