/** Public surface of the Replicate layer (the run, the CLI and tests import from here). */
export type * from './types';
export type { Account, CreatePredictionRequest, Prediction, PredictionsPage, ReplicateModel, ModelVersion } from './apiTypes';
export { ReplicateClient, type ReplicateClientOptions, type CallContext, type ModelInfo, type Sleep } from './client';
export { parseModelRef, formatModelRef, modelName } from './modelRef';
export { generateImages, DEFAULT_CONCURRENCY, type GenerationResult } from './generator';
export { loadPricing, costOf, estimateRunCost, checkBudget, type Pricing, type RunCostEstimate } from './pricing';
export { adaptInput, inputSchemaOf, type AdaptedInput } from './inputAdapter';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retryPolicy';
export { MODEL_FAILURES_BEFORE_SKIP } from './failurePolicy';
export { DEFAULT_MODEL, FALLBACK_MODEL } from './defaults';
