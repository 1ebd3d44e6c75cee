/**
 * The programmatic API of unetc: each stage of the pipeline as a function.
 *
 *   parseSpec(text, file)        -> AST + syntax diagnostics
 *   printSpec(ast)               -> canonical .unet text
 *   checkSpec(path, { text })    -> diagnostics, and (when clean) settings and the IR
 *   computeStats(ir)             -> parameters, FLOPs, activation memory
 *   diffModels(irA, irB)         -> the module-by-module difference
 *   buildVariants(base, combos)  -> ablation variants from typed edits (grid, zip)
 *   compileSpec(path, outDir)    -> the TypeScript modules of a model
 */
export { parseSpec, printSpec, printExpr, stripSpans } from './syntax/index.ts';
export type * from './syntax/ast.ts';
export { checkSpec, type CheckResult, type CheckOptions } from './pipeline.ts';
export { fsHost, type SourceHost } from './check/load.ts';
export { computeStats, formatStats, type Stats } from './analysis/stats.ts';
export { diffModels, formatModelDiff, type ModelDiff } from './analysis/diff.ts';
export { buildVariants, combine, grid, zip, variantName, type Variant } from './ablate/variants.ts';
export { parseAxis, parseEdit, parseValue, EditError, type Edit } from './ablate/edits.ts';
export { compileSpec, writeCompiled, type CompiledSpec } from './emit/compile.ts';
export { emitModel } from './emit/emitModel.ts';
export { assertValidIr, irErrors } from './ir/validate.ts';
export { irSchema } from './ir/schema.ts';
export type { IR, Module, Block, Param, Init, Layout } from './ir/types.ts';
export type {
  BlockOp,
  EmbeddingOp,
  StemOp,
  ResBlockOp,
  ResampleOp,
  HeadOp,
  AttentionOp,
  ConvOp,
  ConvTransposeOp,
  LinearOp,
  NormOp,
  ModulationOp,
  LoraOp,
  TimeLoraOp,
  ClassLoraOp,
  UcLoraOp,
} from './ir/ops.ts';
export { invariantErrors } from './ir/invariants.ts';
export { Diag, formatDiagnostic, formatDiagnostics, type Diagnostic } from './diagnostics/index.ts';
