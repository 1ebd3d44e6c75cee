/**
 * Adam with learning-rate warm-up and global-norm gradient clipping, and an exponential moving
 * average of the weights. Written out (rather than tf.train.adam) so that its state is named by
 * parameter path and can be checkpointed and restored exactly.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  warmup: number;
  gradClip?: number;
  /**
   * Count the images of the step being taken in the warm-up (`after_step`: step k has lr
   * lr min(1, (k + 1) / warmup)) or only those before it (`before_step`, EDM's training_loop.py:
   * lr min(1, k / warmup), so its first step has lr 0).
   */
  ramp?: 'after_step' | 'before_step';
}

export class Adam {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  /** Updates applied so far. */
  step = 0;

  constructor(
    readonly o: AdamOptions,
    params: Map<string, tf.Variable>,
  ) {
    for (const [name, p] of params) {
      if (!p.trainable) continue;
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
    }
  }

  lrAt(step: number): number {
    const seen = this.o.ramp === 'before_step' ? step : step + 1;
    return this.o.warmup > 0 ? this.o.lr * Math.min(1, seen / this.o.warmup) : this.o.lr;
  }

  /** Applies one update; `grads` maps parameter paths to gradients. Returns the gradient norm. */
  apply(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>): number {
    const { beta1, beta2, eps } = this.o;
    const t = this.step + 1;
    const lr = this.lrAt(this.step);
    const norm = tf.tidy(() => Math.sqrt([...grads.values()].reduce((a, g) => a + tf.sum(tf.square(g)).dataSync()[0], 0)));
    const clip = this.o.gradClip && norm > this.o.gradClip ? this.o.gradClip / norm : 1;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    tf.tidy(() => {
      for (const [name, g0] of grads) {
        const p = params.get(name)!;
        const g = clip !== 1 ? tf.mul(g0, clip) : g0;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        p.assign(tf.sub(p, tf.mul(tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps)), lr)));
      }
    });
    this.step = t;
    return norm;
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}

/** EMA of the parameters: ema = beta * ema + (1 - beta) * p. */
export class Ema {
  readonly shadow = new Map<string, tf.Variable>();

  constructor(params: Map<string, tf.Variable>) {
    for (const [name, p] of params) this.shadow.set(name, tf.variable(p.clone(), false));
  }

  update(params: Map<string, tf.Variable>, beta: number): void {
    tf.tidy(() => {
      for (const [name, s] of this.shadow) {
        const p = params.get(name)!;
        if (!p.trainable) continue;
        s.assign(tf.add(tf.mul(s, beta), tf.mul(p, 1 - beta)));
      }
    });
  }

  dispose(): void {
    for (const x of this.shadow.values()) x.dispose();
  }
}

/**
 * EMA decay for (0-based) step `step`, from a decay or an EDM-style half-life in thousands of
 * images. EDM ramps the half-life up over the first images (ema_rampup_ratio 0.05), counting the
 * images before the step with `ramp: before_step` (its first update copies the weights: beta 0).
 * A fixed decay warms up as (1 + step) / (10 + step) unless `warmup` is false (improved-diffusion
 * applies 0.9999 from the first step): with the warm-up a short run's EMA is not mostly the random
 * initial weights (0.999^100 would still be 90% initial after 100 steps).
 */
export function emaBeta(o: {
  ema?: number;
  halflifeKimg?: number;
  batch: number;
  step: number;
  warmupRatio?: number;
  ramp?: 'after_step' | 'before_step';
  warmup?: boolean;
}): number {
  if (o.halflifeKimg !== undefined) {
    let hl = o.halflifeKimg * 1000;
    const seen = o.ramp === 'before_step' ? o.step : o.step + 1;
    if (o.warmupRatio) hl = Math.min(hl, seen * o.batch * o.warmupRatio);
    return 0.5 ** (o.batch / Math.max(hl, 1e-8));
  }
  const ema = o.ema ?? 0.999;
  return o.warmup === false ? ema : Math.min(ema, (1 + o.step) / (10 + o.step));
}

/**
 * EDM's torch.nan_to_num(grad, nan=0, posinf=1e5, neginf=-1e5): non-finite gradient entries
 * replaced, finite ones kept as they are.
 */
export function nanToNum(g: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const clean = tf.where(tf.isNaN(g), tf.zerosLike(g), g);
    return tf.where(tf.isInf(clean), tf.mul(tf.sign(clean), 1e5), clean);
  });
}
