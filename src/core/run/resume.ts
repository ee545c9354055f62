/**
 * Resume: reopen an interrupted run from its trace and make it ready for executeRun, which then
 * adopts the predictions already created (no second charge), fetches only what is missing,
 * rescores what is not scored and ranks everything again.
 */
import { ContactSheetError, type ErrorCode } from '../../shared/errors';
import { estimateRunCost, type Pricing } from '../replicate/pricing';
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
  // Writes the interrupted run never finished (a kill between writing and renaming).
  await folder.removeStaleTempFiles();
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

/**
 * Refuses a resume that would spend money the run was never meant to: a DEMO run (made on the
 * local fake with tiny models) resumed by a real face, a real run resumed by the demo, and a run
 * resumed through another API than the one that holds its predictions (they would not be found
 * there, and every unfinished image would be paid for again). The API URL is never taken from the
 * trace: a trace is a file anyone could have written, and the token goes where the URL points.
 */
export function checkResumable(trace: GenerationTrace, runDir: string, face: { demo: boolean; apiBaseUrl: string }): void {
  if (trace.demo && !face.demo) {
    throw new ContactSheetError(
      'run-not-resumable',
      `${runDir} is a DEMO run: it was made on a local fake Replicate with tiny random-weight models, so its images and scores mean nothing. Resuming it with your Replicate token would create billed predictions.`,
      { action: 'Start a real run instead: contact-sheet generate <prompt file> (in VS Code: "Generate Images from Prompt").' },
    );
  }
  if (!trace.demo && face.demo) {
    throw new ContactSheetError('run-not-resumable', `${runDir} is a real run; the demo cannot resume it.`, {
      action: `Resume it outside the demo: contact-sheet resume "${runDir}".`,
    });
  }
  const made = comparableUrl(trace.settings.api_base_url);
  if (made !== comparableUrl(face.apiBaseUrl)) {
    throw new ContactSheetError(
      'run-not-resumable',
      `This run's predictions were made through ${made}, not ${face.apiBaseUrl}: resuming there would not find them and would pay for every unfinished image again.`,
      { action: `If you made this run through ${made}, resume with --api-base-url ${made} (or REPLICATE_API_BASE_URL); otherwise start a new run with contact-sheet generate.` },
    );
  }
}

function comparableUrl(value: string): string {
  try {
    return new URL(value).href.replace(/\/+$/, '');
  } catch {
    return String(value).slice(0, 200);
  }
}

/** Images a resume still has to pay a new prediction for (no prediction recorded or adopted). */
export function imagesToCreate(trace: GenerationTrace): number {
  return trace.images.filter((i) => (i.status === 'pending' || i.status === 'created') && !i.prediction_id).length;
}

/**
 * Budget guard of a resume: what the run already cost plus the estimate for the images that need a
 * new prediction must stay within the limit (the face's, else the one the run started with).
 * Throws budget-exceeded; returns a warning when the cost cannot be estimated.
 */
export function checkResumeBudget(trace: GenerationTrace, pricing: Pricing, limitUsd: number | null): string | undefined {
  const remaining = imagesToCreate(trace);
  if (limitUsd === null || remaining === 0) return undefined;
  const estimate = estimateRunCost(trace.settings.models, remaining, pricing);
  if (estimate.usd === null) return `The cost of the ${remaining} images still to make is unknown (${estimate.basis}); the budget limit of ${limitUsd} USD cannot be checked.`;
  const spent = trace.costs.total_usd;
  const total = spent + estimate.usd;
  if (total > limitUsd) {
    throw new ContactSheetError(
      'budget-exceeded',
      `Resuming this run would bring its cost to about ${total.toFixed(4)} USD (${spent.toFixed(4)} USD spent; ${remaining} images still to make: ${estimate.basis}), over the budget limit of ${limitUsd} USD.`,
      {
        action: 'Resume with a higher --budget (or raise the budget setting), or keep the run as it is: its finished images stay in the folder.',
        details: { spent_usd: spent, remaining_images: remaining, estimate_usd: estimate.usd, limit_usd: limitUsd },
      },
    );
  }
  return undefined;
}
