/**
 * Will it fit? A memory estimate from the model's own analysis (src/analysis/stats.ts), checked
 * before any work so that an impossible size is one clear line, not a wasm abort minutes later.
 *
 * Training holds the parameters with their gradients, Adam's two moments and the EMA (5 copies,
 * plus one for the update's temporaries) and, per sample, the activations kept for the backward
 * pass; sampling holds the parameters and the inference peak per image. Measured peaks run above
 * the analysis (tfjs temporaries, allocator slack: attn-unet-mnist-uc-lora at batch 64 is 1.69 GiB
 * against 0.95 GiB of kept activations and parameters), hence the factor on the per-sample terms.
 */
import { totalmem } from 'node:os';
import type { Stats } from '../analysis/stats.ts';

/** wasm32 caps the heap at 4 GiB (/work/shared/reference/tfjs-wasm-notes.md). */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;
/** Measured peak / analysed bytes, rounded up. */
const SLACK = 2;

export interface MemoryBudget {
  limit: number;
  /** What the limit is, for messages. */
  what: string;
}

/** The memory the backend can use: the wasm heap, else (cpu, tensorflow) the machine's memory. */
export function memoryBudget(backend: string | undefined): MemoryBudget {
  if (backend === 'wasm') return { limit: WASM_HEAP_BYTES, what: 'the 4 GiB wasm heap' };
  return { limit: totalmem(), what: `this machine's ${gib(totalmem())} of memory` };
}

export const gib = (b: number) => `${(b / 2 ** 30).toFixed(b < 2 ** 30 ? 2 : 1)} GiB`;

const fixedTrain = (s: Stats) => 4 * (6 * s.trainableParams + 2 * s.frozenParams);
const perTrainSample = (s: Stats) => SLACK * s.trainingActivationBytes;
const fixedSample = (s: Stats) => 4 * 2 * s.totalParams;
const perImage = (s: Stats) => SLACK * s.inferencePeakBytes;

export const trainingBytes = (s: Stats, batch: number) => fixedTrain(s) + batch * perTrainSample(s);
export const samplingBytes = (s: Stats, n: number) => fixedSample(s) + n * perImage(s);

/** The largest training batch that fits (0 when not even the parameters do). */
export const maxTrainBatch = (s: Stats, b: MemoryBudget) =>
  Math.max(0, Math.floor((b.limit - fixedTrain(s)) / Math.max(1, perTrainSample(s))));
/** The largest number of images sampled in one pass. */
export const maxSampleBatch = (s: Stats, b: MemoryBudget) => Math.max(0, Math.floor((b.limit - fixedSample(s)) / Math.max(1, perImage(s))));

/** Undefined when a training batch fits, else the reason, with the largest batch that does. */
export function trainingMemoryProblem(s: Stats, batch: number, b: MemoryBudget): string | undefined {
  const need = trainingBytes(s, batch);
  if (need <= b.limit) return undefined;
  const max = maxTrainBatch(s, b);
  const params = s.totalParams.toLocaleString('en-US');
  if (max === 0)
    return `${s.name} has ${params} parameters: with gradients, Adam's moments and the EMA they need ${gib(fixedTrain(s))}, more than ${b.what}`;
  return `training ${s.name} at batch ${batch} needs about ${gib(need)} (${params} parameters with optimizer state, ${gib(perTrainSample(s))} of activations per sample), more than ${b.what}; the largest batch that fits is ${max}`;
}
