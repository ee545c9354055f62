/**
 * Starts the scoring worker from its TypeScript source through tsx: for tests, benches and the
 * demo script, which run from source where no dist/scoringWorker.js sits beside the code.
 * Bundles never use it (they start dist/scoringWorker.js).
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { StartScoringWorker } from '../core/scoring/scorer';

const WORKER_SOURCE = join(__dirname, '..', 'core', 'scoring', 'worker.ts');

export const startSourceScoringWorker: StartScoringWorker = (data) =>
  new Worker(WORKER_SOURCE, { workerData: data, execArgv: ['--require', require.resolve('tsx/cjs')] });
