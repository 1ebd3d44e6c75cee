/**
 * The composition weights omega of a trained (or freshly initialised) model over the whole noise
 * axis, and their cosine similarities (the paper's Figures 4 and 7). TimeLoRA: the rows of the
 * `omega` table. UC-LoRA: the layer's composition MLP evaluated on the condition vector v of each
 * timestep (ddpm) or noise level (edm, on a log grid of sigma), computed by the runtime's own
 * `embedding` and `ucLoraMlp` on the checkpoint's weights (EMA unless raw).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { IR } from '../ir/types.ts';
import { embeddingOptions, noiseAxis, omegaSites, type NoiseAxis, type OmegaSite } from '../draw/model.ts';
import type { UcLoraOp } from '../ir/types.ts';

type Runtime = typeof import('../runtime/index.ts');
type ParamRow = import('../runtime/index.ts').ParamRow;
/** The checkpoint restore of the runtime (src/runtime/train/checkpoint.ts), which runtime/index.ts does not re-export. */
export type RestoreInto = typeof import('../runtime/train/checkpoint.ts').restoreInto;

export class OmegaError extends Error {}

/** Where the weights come from: a run folder (its newest checkpoint) or one checkpoint file. */
export interface OmegaRun {
  runDir: string;
  checkpoint: string;
  ir: IR;
  /** The parameter table of the run's model code (model/model.ts). */
  params: readonly ParamRow[];
}

export function resolveOmegaRun(
  arg: string,
  rt: Runtime,
  importParams: (modelTs: string) => Promise<readonly ParamRow[]>,
): Promise<OmegaRun> {
  const target = resolve(arg);
  if (!existsSync(target)) throw new OmegaError(`no such run folder or checkpoint: ${arg}`);
  let runDir = target;
  let checkpoint = target;
  if (statSync(target).isDirectory()) {
    const ck = rt.latestCheckpoint(join(target, 'checkpoints'));
    if (!ck) throw new OmegaError(`${arg} has no checkpoints/`);
    checkpoint = ck.path;
  } else runDir = dirname(dirname(target));
  const irPath = join(runDir, 'ir.json');
  const modelTs = join(runDir, 'model', 'model.ts');
  if (!existsSync(irPath) || !existsSync(modelTs))
    throw new OmegaError(`${runDir} has no ir.json and model/model.ts (was it written by unetc train?)`);
  const ir = JSON.parse(readFileSync(irPath, 'utf8')) as IR;
  return importParams(modelTs).then((params) => ({ runDir, checkpoint, ir, params }));
}

/** The points of the noise axis omega is evaluated at. */
export interface NoiseGrid {
  axis: NoiseAxis;
  /** ddpm: timestep indices 0..T-1 as the network reads them; edm: sigma. */
  values: number[];
  /** What the network's noise input gets for each value (ddpm: t; edm: c_noise(sigma)). */
  inputs: Float32Array;
  label: string;
}

export const SIGMA_MIN = 0.002;
export const SIGMA_MAX = 80;

/**
 * ddpm: every timestep (or every `stride`-th); edm: `points` sigmas evenly spaced in log sigma on
 * [0.002, 80], with c_noise from the runtime's EDM preconditioning.
 */
export function noiseGrid(
  ir: IR,
  edmCoefficients: ((sigma: Float64Array) => Float32Array) | undefined,
  o: { points?: number } = {},
): NoiseGrid {
  const axis = noiseAxis(ir);
  if (axis.process === 'ddpm') {
    const values = Array.from({ length: axis.T }, (_, t) => t);
    return { axis, values, inputs: Float32Array.from(values), label: 'timestep t' };
  }
  const n = o.points ?? 200;
  const values = Array.from({ length: n }, (_, i) =>
    Math.exp(Math.log(SIGMA_MIN) + (i / (n - 1)) * (Math.log(SIGMA_MAX) - Math.log(SIGMA_MIN))),
  );
  if (!edmCoefficients) throw new OmegaError('an EDM model needs the runtime preconditioning to evaluate omega');
  return { axis, values, inputs: edmCoefficients(Float64Array.from(values)), label: 'noise level σ' };
}

export interface OmegaLayer {
  site: OmegaSite;
  /** omega at every grid point, row-major [grid points, bases]. */
  values: Float32Array;
}

/**
 * omega of every TimeLoRA / UC-LoRA layer on the grid, from the checkpoint (`init`: from the
 * untrained model the run started from, the same seed).
 */
export function evaluateOmegas(
  rt: Runtime,
  restoreInto: RestoreInto,
  run: OmegaRun,
  grid: NoiseGrid,
  o: { init?: boolean; raw?: boolean } = {},
): { layers: OmegaLayer[]; step: number; seed: number } {
  const { tf } = rt;
  const sites = omegaSites(run.ir);
  if (sites.length === 0)
    throw new OmegaError(`${run.ir.name} has no TimeLoRA or UC-LoRA layers (nothing depends on the noise level through omega)`);
  const ck = rt.readCheckpoint(run.checkpoint);
  const specs = rt.paramSpecsFromRows(run.params);
  // Only what omega reads: the embedding network and the LoRA layers' own parameters.
  const needed = specs.filter((s) => s.name.startsWith('emb.') || sites.some((x) => s.name.startsWith(`${x.path}.`)));
  const store = new rt.ParamStore(needed, ck.state.seed);
  try {
    if (!o.init) {
      const prefix = !o.raw && ck.tensors.has(`ema.${needed[0]?.name}`) ? 'ema' : 'model';
      const { missing } = restoreInto(ck, prefix, needed, store.vars);
      if (missing.length) throw new OmegaError(`${run.checkpoint} does not fit ${run.ir.name}: it lacks ${missing.slice(0, 5).join(', ')}`);
    }
    const n = grid.values.length;
    type T2 = import('@tensorflow/tfjs-core').Tensor2D;
    const omegas = tf.tidy(() => {
      const ucl = sites.filter((s) => s.kind === 'uc_lora');
      const emb = embeddingOptions(run.ir);
      const v = ucl.length && emb ? rt.embedding(store, { noise: tf.tensor1d(grid.inputs) }, emb) : undefined;
      return sites.map((site): T2 => {
        if (site.kind === 'time_lora') {
          if (grid.axis.process !== 'ddpm') throw new OmegaError(`${site.path}: TimeLoRA on a continuous-noise model`);
          return tf.gather(store.get(`${site.path}.omega`), tf.tensor1d(Int32Array.from(grid.values), 'int32')) as T2;
        }
        return rt.ucLoraMlp(new rt.Weights(store, site.block), site.op as UcLoraOp, v!);
      });
    });
    const layers = sites.map((site, k) => {
      const values = Float32Array.from(omegas[k]!.dataSync() as Float32Array);
      if (values.length !== n * site.bases)
        throw new OmegaError(`${site.path}: omega has ${values.length} values for ${n} points x ${site.bases} bases`);
      return { site, values };
    });
    tf.dispose(omegas);
    return { layers, step: o.init ? 0 : ck.state.step, seed: ck.state.seed };
  } finally {
    store.dispose();
  }
}

/** Cosine similarity of rows i and j of an [n, m] matrix for all i, j: [n, n], row-major. */
export function cosineMatrix(values: Float32Array, n: number, m: number): Float64Array {
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += values[i * m + k]! ** 2;
    norms[i] = Math.sqrt(s);
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < m; k++) s += values[i * m + k]! * values[j * m + k]!;
      const d = norms[i]! * norms[j]!;
      const c = d > 0 ? s / d : 0;
      out[i * n + j] = c;
      out[j * n + i] = c;
    }
  }
  return out;
}

/** Cosine similarity of every row to row `ref`. */
export function similarityTo(values: Float32Array, n: number, m: number, ref: number): Float64Array {
  const row = (i: number) => values.subarray(i * m, (i + 1) * m);
  const r = row(ref);
  const rn = Math.hypot(...r);
  return Float64Array.from({ length: n }, (_, i) => {
    const x = row(i);
    let s = 0;
    for (let k = 0; k < m; k++) s += x[k]! * r[k]!;
    const d = Math.hypot(...x) * rn;
    return d > 0 ? s / d : 0;
  });
}

export interface SimilaritySummary {
  /** Mean similarity over pairs 0 < |i - j| <= n/20 (nearby timesteps). */
  near: number;
  /** Mean over pairs |i - j| >= n/2 (distant timesteps). */
  far: number;
  /** Mean over all pairs i != j. */
  all: number;
}

export function summarize(S: Float64Array, n: number): SimilaritySummary {
  const nearMax = Math.max(1, Math.floor(n / 20));
  const farMin = Math.ceil(n / 2);
  let near = 0;
  let nn = 0;
  let far = 0;
  let nf = 0;
  let all = 0;
  let na = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = S[i * n + j]!;
      const d = j - i;
      all += v;
      na++;
      if (d <= nearMax) {
        near += v;
        nn++;
      }
      if (d >= farMin) {
        far += v;
        nf++;
      }
    }
  }
  return { near: nn ? near / nn : NaN, far: nf ? far / nf : NaN, all: na ? all / na : NaN };
}

/** The grid index nearest to a value of the axis (a timestep, or a sigma on the log grid). */
export function nearestIndex(grid: NoiseGrid, value: number): number {
  let best = 0;
  const key = (v: number) => (grid.axis.process === 'edm' ? Math.log(v) : v);
  for (let i = 1; i < grid.values.length; i++)
    if (Math.abs(key(grid.values[i]!) - key(value)) < Math.abs(key(grid.values[best]!) - key(value))) best = i;
  return best;
}
