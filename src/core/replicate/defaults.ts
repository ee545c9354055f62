/** Default models: fast and cheap first, a widely available community model as fallback. */
export const DEFAULT_MODEL = 'black-forest-labs/flux-schnell';
export const FALLBACK_MODEL = 'stability-ai/sdxl';
