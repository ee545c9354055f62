/**
 * Resume: reopen an interrupted run from its trace and make it ready for executeRun, which then
 * adopts the predictions already created (no second charge), fetches only what is missing,
 * rescores what is not scored and ranks everything again.
 */
import type { ErrorCode } from '../../shared/errors';
import { RunFolder } from './output';
import { readTrace, type GenerationTrace } from './trace';

/**
 * Failures that say nothing about the prompt or the model: the image is tried again on resume
 * (adopting its prediction when one exists). Refusals, invalid input and failed predictions stay
 * failed — trying them again would pay for the same failure.
 */
const RETRY_ON_RESUME: readonly ErrorCode[] = [
  'network-error',
  'server-error',
  'rate-limited',
  'prediction-timeout',
  'insufficient-credit',
  'token-invalid',
  'write-failed',
  'disk-full',
];

/**
 * Without a usable prediction any more, the image needs a new one. 'canceled' is our own cancel:
 * the run canceled its in-flight predictions on Replicate, so they will never have an output.
 */
const NEEDS_NEW_PREDICTION: readonly ErrorCode[] = ['canceled', 'output-expired', 'prediction-canceled', 'prediction-aborted'];

export interface ResumableRun {
  folder: RunFolder;
  trace: GenerationTrace;
  /** True when the trace says the run already finished with every image scored. */
  finished: boolean;
}

export async function openRunForResume(runDir: string, now: Date = new Date()): Promise<ResumableRun> {
  const folder = await RunFolder.open(runDir);
  const trace = await readTrace(folder);
  if (trace.status === 'succeeded') return { folder, trace, finished: true };
  for (const img of trace.images) {
    const code = img.error?.code;
    if (img.status !== 'failed' || !code) continue;
    if (RETRY_ON_RESUME.includes(code)) {
      img.status = img.prediction_id ? 'created' : 'pending';
      img.error = null;
    } else if (NEEDS_NEW_PREDICTION.includes(code)) {
      Object.assign(img, { status: 'pending', prediction_id: null, error: null });
    }
  }
  trace.resumed_at.push(now.toISOString());
  // Warnings describe the session that wrote them (e.g. models offline then); this one starts clean.
  trace.warnings = [];
  return { folder, trace, finished: false };
}
