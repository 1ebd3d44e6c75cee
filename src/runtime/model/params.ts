/**
 * Model parameters as named tfjs variables. Shapes are declared in PyTorch's layout (as the IR and
 * the paper count them) and stored in tfjs's NHWC-friendly layout; `layout` says how to convert, so
 * checkpoints can be written in PyTorch's layout later. Initialisation is seeded per variable name,
 * so a model's weights do not depend on the order variables are created in.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Init, Layout } from '../../ir/types.ts';

export type { Init, Layout };

export interface ParamSpec {
  name: string;
  shape: readonly number[];
  init: Init;
  trainable: boolean;
  layout: Layout;
}

/** A parameter as one table row in generated code: [name, shape, init, trainable, layout]. */
export type ParamRow = readonly [name: string, shape: readonly number[], init: Init, trainable: boolean, layout: Layout];

export function paramSpecsFromRows(rows: readonly ParamRow[]): ParamSpec[] {
  return rows.map(([name, shape, init, trainable, layout]) => ({ name, shape, init, trainable, layout }));
}

export function tfjsShape(layout: Layout, s: readonly number[]): number[] {
  if (layout === 'plain') return [...s];
  if (layout === 'conv') return [s[2], s[3], s[1], s[0]];
  if (layout === 'linear') return [s[1], s[0]];
  if (layout === 'chw') return [s[1], s[2], s[0]];
  const k = layout.loraDown;
  return [k, k, s[1] / (k * k), s[0]];
}

/** 32-bit FNV-1a of a string, mixed with the model seed: a stable per-variable seed. */
export function nameSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % 2147483647;
}

/** The sinusoidal table [rows, dim]: row t is [cos(t f_0..), sin(t f_0..)] with f_i = 10000^(-i/half). */
export function sinusoidalTable(rows: number, dim: number): Float32Array {
  const half = Math.floor(dim / 2);
  const out = new Float32Array(rows * dim);
  for (let t = 0; t < rows; t++) {
    for (let i = 0; i < half; i++) {
      const a = t * Math.exp((-Math.log(10000) * i) / half);
      out[t * dim + i] = Math.cos(a);
      out[t * dim + half + i] = Math.sin(a);
    }
  }
  return out;
}

/**
 * TimeLoRA's initial composition table [T, m]: knots t_i = 1 + (i - 1)(T - 1)/(m - 1) (evenly
 * spaced from 1 to T; the paper's A.4 writes /m, a typo), and timestep t (row t - 1) mixes the two
 * nearest knots linearly, so omega_t sums to 1 and uses at most two bases.
 */
export function interpolationTable(T: number, m: number): Float32Array {
  const out = new Float32Array(T * m);
  if (m === 1) {
    out.fill(1);
    return out;
  }
  const step = (T - 1) / (m - 1);
  for (let t = 1; t <= T; t++) {
    const pos = (t - 1) / step;
    const i = Math.min(Math.floor(pos), m - 2);
    const frac = pos - i;
    out[(t - 1) * m + i] = 1 - frac;
    out[(t - 1) * m + i + 1] += frac;
  }
  return out;
}

/** A tensor as its Init says (src/ir/types.ts), seeded by the parameter's name. */
function initTensor(spec: ParamSpec, seed: number): tf.Tensor {
  const shape = tfjsShape(spec.layout, spec.shape);
  const s = nameSeed(seed, spec.name);
  const i = spec.init;
  switch (i.fn) {
    case 'zeros':
      return tf.zeros(shape);
    case 'ones':
      return tf.ones(shape);
    case 'normal':
      return tf.randomNormal(shape, 0, i.std, 'float32', s);
    case 'sinusoidal':
      return tf.tensor(sinusoidalTable(spec.shape[0], spec.shape[1]), shape);
    case 'interp':
      return tf.tensor(interpolationTable(spec.shape[0], spec.shape[1]), shape);
    case 'xavier_uniform':
    case 'kaiming_uniform': {
      const bound = i.gain * Math.sqrt(i.fn === 'xavier_uniform' ? 6 / (i.fanIn + i.fanOut) : 3 / Math.max(1, i.fanIn));
      return tf.randomUniform(shape, -bound, bound, 'float32', s);
    }
    case 'xavier_normal':
    case 'kaiming_normal': {
      const std = i.gain * Math.sqrt(i.fn === 'xavier_normal' ? 2 / (i.fanIn + i.fanOut) : 1 / Math.max(1, i.fanIn));
      return tf.randomNormal(shape, 0, std, 'float32', s);
    }
  }
}

export class ParamStore {
  readonly vars = new Map<string, tf.Variable>();

  /** Creates every parameter, or (with `existing`) wraps variables made elsewhere, e.g. EMA weights. */
  constructor(
    readonly specs: readonly ParamSpec[],
    seed = 0,
    existing?: Map<string, tf.Variable>,
  ) {
    if (existing) {
      for (const [k, v] of existing) this.vars.set(k, v);
      return;
    }
    for (const spec of specs) {
      const init = initTensor(spec, seed);
      this.vars.set(
        spec.name,
        tf.variable(
          init,
          spec.trainable,
          spec.name.replace(/[^A-Za-z0-9_.\-/]/g, '_') + `_${seed}_${Math.random().toString(36).slice(2, 8)}`,
        ),
      );
      init.dispose();
    }
  }

  /** The variable of a parameter; a missing name is a bug in generated code, so it throws. */
  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`no parameter named ${name}`);
    return v;
  }

  has(name: string): boolean {
    return this.vars.has(name);
  }

  trainable(): tf.Variable[] {
    return [...this.vars.values()].filter((v) => v.trainable);
  }

  count(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
