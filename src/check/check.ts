/**
 * Deprecated path of the pipeline's entry point, kept only so that callers not yet moved to
 * src/pipeline.ts (src/cli/, being rewritten on another branch) keep working. It is the one file of
 * check/ allowed to reach a later stage (test/pipelineLayering.test.ts); delete it once nothing
 * imports it.
 */
export { checkSpec, type CheckOptions, type CheckResult } from '../pipeline.ts';
