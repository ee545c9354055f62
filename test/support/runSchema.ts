/**
 * The run files' schema lives in core (src/core/run/runFileSchema.ts): resume checks every trace
 * against it, and the tests check every file a run writes against the same specs.
 */
export { checkSchema, METADATA_SPEC, TRACE_SPEC, type Spec } from '../../src/core/run/runFileSchema';
