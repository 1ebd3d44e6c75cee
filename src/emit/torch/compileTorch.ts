/**
 * The torch target's files for one spec: model.py (emitModelPy.ts) and train.py (emitTrainPy.ts),
 * written beside the TypeScript modules (compile.ts, `--target torch|all`).
 */
import type { IR } from '../../ir/types.ts';
import { emitModelPy, type PyEmitOptions } from './emitModelPy.ts';
import { emitTrainPy } from './emitTrainPy.ts';

export function torchFiles(ir: IR, o: PyEmitOptions): Map<string, string> {
  return new Map([
    ['model.py', emitModelPy(ir, o)],
    ['train.py', emitTrainPy(ir, o)],
  ]);
}
