/**
 * Types of models/manifest.json: where each scoring model's published files come from,
 * with sizes and sha256 where known. Revisions are 40-hex commits where known; "main" is resolved
 * at download time and the resolved commit is recorded in the cache.
 */
export interface ManifestFile {
  /** Path inside the source repository (and inside the model's cache folder). */
  path: string;
  /** Overrides the model's repo (e.g. PickScore's tokenizer lives in the laion repo). */
  repo?: string;
  revision?: string;
  /** A direct URL instead of a hub repo. */
  url?: string;
  size?: number;
  /** Lowercase hex; when absent, the hub's LFS sha256 (X-Linked-Etag) is checked and recorded. */
  sha256?: string;
  /** Optional files are skipped when the source does not have them. */
  optional?: boolean;
}

export type ModelKind = 'clip' | 'aesthetic-mlp' | 'vqa-smolvlm';

export interface ManifestModel {
  id: string;
  kind: ModelKind;
  /** Human name shown in outputs. */
  name: string;
  source: { type: 'huggingface'; repo: string; revision: string } | { type: 'url' };
  files: ManifestFile[];
  license: string;
  /** Approximate total download size in bytes (for the progress UI and `models list`). */
  totalBytes?: number;
  notes?: string;
  /** Other models this one needs at run time (the aesthetic head runs on `clip` embeddings); `models pull` fetches them too. */
  depends_on?: string[];
  /** Model-kind specific settings (e.g. VQA question template, image size). */
  options?: Record<string, unknown>;
}

export interface Manifest {
  schema_version: 1;
  /** Default hub endpoint. */
  hub_endpoint: string;
  models: Record<string, ManifestModel>;
}
