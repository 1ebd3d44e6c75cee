/**
 * Training checkpoints as safetensors: `model.<path>` and `ema.<path>` in PyTorch's layout (so
 * PyTorch and other tools read the weights as the reference code names and shapes them),
 * `adam_m.<path>` / `adam_v.<path>` likewise, and the run state in the metadata (step, seed,
 * data position, optimizer step). Files are `checkpoints/step-NNNNNNN.safetensors`, written
 * atomically, with a CRC-32 per tensor in the metadata (verified on every read), and only from
 * finite weights; the newest K are kept. A truncated or damaged newest file is skipped on resume;
 * a file with non-finite weights is refused wherever it is read.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsFile, SafetensorsError, writeSafetensorsAtomic, type SafeTensor } from '../io/safetensors.ts';
import { tfjsShape, type Layout, type ParamSpec } from '../model/params.ts';
import { RunFolderError } from './runFolder.ts';

export const CHECKPOINT_FORMAT = 'unetc-checkpoint-1';

/** Permutation from the tfjs layout to PyTorch's (and back), and the tfjs shape before reshaping. */
function torchPerm(layout: Layout): number[] | undefined {
  if (layout === 'conv' || typeof layout === 'object') return [3, 2, 0, 1];
  if (layout === 'linear') return [1, 0];
  if (layout === 'chw') return [2, 0, 1];
  return undefined;
}

export function toTorch(spec: ParamSpec, t: tf.Tensor): Float32Array {
  return tf
    .tidy(() => {
      const perm = torchPerm(spec.layout);
      const x = perm ? tf.transpose(t, perm) : t;
      return x.dataSync() as Float32Array;
    })
    .slice();
}

export function fromTorch(spec: ParamSpec, data: Float32Array): tf.Tensor {
  const shape = tfjsShape(spec.layout, spec.shape);
  const perm = torchPerm(spec.layout);
  if (!perm) return tf.tensor(data, shape);
  return tf.tidy(() => {
    // The tfjs tensor transposed by `perm` has this shape; invert the permutation to go back.
    const torchShape4 = perm.map((i) => shape[i]);
    const inv = perm.map((_, i) => perm.indexOf(i));
    return tf.transpose(tf.tensor(data, torchShape4), inv);
  });
}

export interface CheckpointState {
  step: number;
  seed: number;
  batch: number;
  /** Samples consumed so far (the position in the epoch-concatenated data order). */
  dataPosition: number;
  adamStep: number;
  spec: string;
}

export interface CheckpointParts {
  specs: readonly ParamSpec[];
  params: Map<string, tf.Variable>;
  ema?: Map<string, tf.Variable>;
  adamM?: Map<string, tf.Variable>;
  adamV?: Map<string, tf.Variable>;
}

/** Weights that hold NaN or Inf: never written, and refused on read (resume, sample, eval, init-from). */
export class NonFiniteWeightsError extends SafetensorsError {
  constructor(
    source: string,
    readonly tensor: string,
    readonly count: number,
  ) {
    super(source, `tensor "${tensor}" holds ${count} non-finite value${count === 1 ? '' : 's'} (NaN or Inf): these weights diverged`);
  }
}

function countNonFinite(d: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) bad++;
  return bad;
}

/** Throws NonFiniteWeightsError for the first tensor with a NaN or Inf. */
export function assertFinite(
  source: string,
  tensors: Iterable<[string, { data: Float32Array | Uint16Array | Int32Array | Uint8Array } | Float32Array]>,
): void {
  for (const [name, t] of tensors) {
    const d = t instanceof Float32Array ? t : t.data;
    if (!(d instanceof Float32Array)) continue;
    const bad = countNonFinite(d);
    if (bad > 0) throw new NonFiniteWeightsError(source, name, bad);
  }
}

export const checkpointName = (step: number) => `step-${String(step).padStart(7, '0')}.safetensors`;

export function saveCheckpoint(dir: string, state: CheckpointState, parts: CheckpointParts, keep = 3): string {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, SafeTensor>();
  const put = (prefix: string, m: Map<string, tf.Variable> | undefined) => {
    if (!m) return;
    for (const spec of parts.specs) {
      const v = m.get(spec.name);
      if (v) tensors.set(`${prefix}.${spec.name}`, { dtype: 'F32', shape: [...spec.shape], data: toTorch(spec, v) });
    }
  };
  put('model', parts.params);
  put('ema', parts.ema);
  put('adam_m', parts.adamM);
  put('adam_v', parts.adamV);
  const metadata: Record<string, string> = { format: CHECKPOINT_FORMAT };
  for (const [k, v] of Object.entries(state)) metadata[k] = String(v);
  const path = join(dir, checkpointName(state.step));
  // A checkpoint is written only from finite weights (model, EMA and optimizer state).
  assertFinite(path, tensors);
  writeSafetensorsAtomic(path, tensors, metadata, { checksums: true });
  // Keep the newest `keep` complete checkpoints up to this one (never a newer file: that would
  // belong to another run, which the run folder checks refuse before training starts).
  const upTo = listCheckpoints(dir).filter((f) => f <= checkpointName(state.step));
  for (const old of upTo.slice(0, Math.max(0, upTo.length - keep))) unlinkSync(join(dir, old));
  return path;
}

/** Checkpoint file names in a folder, oldest first. */
export function listCheckpoints(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^step-\d+\.safetensors$/.test(f))
    .sort();
}

export interface LoadedCheckpoint {
  path: string;
  state: CheckpointState;
  tensors: Map<string, Float32Array>;
  shapes: Map<string, number[]>;
  /** Newer files that could not be read, with why. */
  skipped: string[];
}

function parseState(meta: Record<string, string>, path: string): CheckpointState {
  if (meta.format !== CHECKPOINT_FORMAT) throw new SafetensorsError(path, `not a unetc checkpoint (format ${JSON.stringify(meta.format)})`);
  const num = (k: string) => {
    const v = Number(meta[k]);
    if (!Number.isFinite(v)) throw new SafetensorsError(path, `metadata '${k}' is missing or not a number`);
    return v;
  };
  return {
    step: num('step'),
    seed: num('seed'),
    batch: num('batch'),
    dataPosition: num('dataPosition'),
    adamStep: num('adamStep'),
    spec: meta.spec ?? '',
  };
}

export function readCheckpoint(path: string): LoadedCheckpoint {
  const d = readSafetensorsFile(path);
  const tensors = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  for (const [k, t] of d.tensors) {
    tensors.set(k, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));
    shapes.set(k, t.shape);
  }
  const state = parseState(d.metadata, path);
  assertFinite(path, tensors);
  return { path, state, tensors, shapes, skipped: [] };
}

/** The newest readable checkpoint of a folder; unreadable newer ones are reported in `skipped`. */
export function latestCheckpoint(dir: string): LoadedCheckpoint | undefined {
  const skipped: string[] = [];
  for (const f of listCheckpoints(dir).reverse()) {
    try {
      const c = readCheckpoint(join(dir, f));
      c.skipped = skipped;
      return c;
    } catch (e) {
      // Diverged weights are refused, not skipped: the run went wrong, the file is not damaged.
      if (e instanceof NonFiniteWeightsError) throw e;
      skipped.push(`${f}: ${e instanceof SafetensorsError ? e.problem : (e as Error).message}`);
    }
  }
  if (skipped.length) throw new SafetensorsError(dir, `no readable checkpoint:\n  ${skipped.join('\n  ')}`);
  return undefined;
}

/**
 * Assigns `prefix.*` tensors of a checkpoint to variables by path. Missing tensors are returned in
 * `missing`; a shape mismatch is an error naming the variable.
 */
export function restoreInto(
  ck: LoadedCheckpoint,
  prefix: string,
  specs: readonly ParamSpec[],
  target: Map<string, tf.Variable>,
): { restored: number; missing: string[] } {
  let restored = 0;
  const missing: string[] = [];
  for (const spec of specs) {
    const v = target.get(spec.name);
    if (!v) continue;
    const key = `${prefix}.${spec.name}`;
    const data = ck.tensors.get(key);
    if (!data) {
      missing.push(spec.name);
      continue;
    }
    const shape = ck.shapes.get(key)!;
    if (shape.length !== spec.shape.length || shape.some((s, i) => s !== spec.shape[i])) {
      throw new SafetensorsError(ck.path, `${key} has shape [${shape}] in the checkpoint but [${spec.shape}] in this model`);
    }
    const t = fromTorch(spec, data);
    v.assign(t);
    t.dispose();
    restored++;
  }
  return { restored, missing };
}

// ---------------------------------------------------------------------------------------------
// Resume (a read-only check, run before anything in the run folder is written)

/**
 * The checkpoint a `--resume` continues from, checked against the model and the options: the
 * newest readable one (damaged newer files are reported in `skipped`), or undefined when there is
 * none. Reads only, so it can run before anything in the run folder is written.
 */
export function resumableCheckpoint(
  ckDir: string,
  specs: readonly ParamSpec[],
  o: { batch: number; seed: number; name: string },
): LoadedCheckpoint | undefined {
  const ck = latestCheckpoint(ckDir);
  if (!ck) return undefined;
  if (ck.state.batch !== o.batch || ck.state.seed !== o.seed)
    throw new RunFolderError(
      `${ck.path} was written with batch ${ck.state.batch} and seed ${ck.state.seed}; resume with the same (--batch ${ck.state.batch} --seed ${ck.state.seed})`,
    );
  const known = new Set(specs.map((s) => `model.${s.name}`));
  const extra = [...ck.tensors.keys()].filter((k) => k.startsWith('model.') && !known.has(k)).map((k) => k.slice(6));
  if (extra.length)
    throw new RunFolderError(
      `${ck.path} is a checkpoint of another model (${ck.state.spec}): ${o.name} has no ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`,
    );
  const missing = specs.filter((s) => !ck.tensors.has(`model.${s.name}`)).map((s) => s.name);
  if (missing.length)
    throw new RunFolderError(
      `${ck.path} is a checkpoint of another model (${ck.state.spec}): it lacks ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`,
    );
  for (const s of specs) {
    const shape = ck.shapes.get(`model.${s.name}`)!;
    if (shape.length !== s.shape.length || shape.some((d, i) => d !== s.shape[i])) {
      throw new RunFolderError(
        `${ck.path} is a checkpoint of another model (${ck.state.spec}): model.${s.name} has shape [${shape}] there but [${s.shape}] in ${o.name}`,
      );
    }
  }
  return ck;
}
