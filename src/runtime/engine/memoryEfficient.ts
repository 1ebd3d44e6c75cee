/**
 * SiLU and GroupNorm with hand-written gradients (tf.customGrad). tfjs keeps every intermediate of
 * an op-level formulation alive until the backward pass; these keep only what the gradient needs
 * (x for SiLU; x, the group means and 1/std for GroupNorm), which is what lets batch 64 fit in
 * wasm's 4 GiB heap (tfjs-wasm-notes.md). Both save their input rather than anything new: the
 * input is alive until the forward pass ends anyway (tfjs disposes a forward pass's intermediates
 * only then), and saving shares its buffer (the wasm Identity of wasmKernels.ts).
 * Checked against the op-level versions in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { groupNormBackward, groupNormForward } from './groupNormKernels.ts';
import { GROUP_NORM_GRAD_KERNEL, GROUP_NORM_KERNEL, isNativeKernel } from './native.ts';

/** x * sigmoid(x); d/dx = s (1 + x (1 - s)) with s = sigmoid(x). */
type Arg = tf.Tensor | tf.GradSaveFunc;

export const siluFused: (x: tf.Tensor) => tf.Tensor = tf.customGrad((...args: Arg[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.mul(x, tf.sigmoid(x)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs] = saved;
      const s = tf.sigmoid(xs);
      return [tf.mul(dy, tf.mul(s, tf.add(1, tf.mul(xs, tf.sub(1, s)))))];
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * GroupNorm over NHWC with affine gamma, beta ([C]). With xhat = (x - mean) * rstd per sample and
 * group: dbeta = sum dy, dgamma = sum dy * xhat, and
 * dx = rstd * (g - mean_group(g) - xhat * mean_group(g * xhat)) with g = dy * gamma.
 * The backward pass recomputes xhat from the saved x, mean and rstd with the forward's own ops
 * (so exactly the forward's values): saving xhat would keep one more activation-sized tensor per
 * GroupNorm alive from the forward pass to the backward one.
 */
export function groupNormFused(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number, eps: number): tf.Tensor4D {
  const backend = tf.getBackend();
  if (backend === 'wasm' && isNativeKernel(GROUP_NORM_KERNEL) && x.dtype === 'float32') return groupNormNative(x, gamma, beta, groups, eps);
  if (backend === 'wasm' || backend === 'cpu') return groupNormLoops(x, gamma, beta, groups, eps);
  return groupNormOps(x, gamma, beta, groups, eps);
}

/**
 * The same GroupNorm computed by loops over the data (groupNormKernels.ts), for the CPU backends:
 * saves x and the per-(sample, group) mean and rstd, like groupNormOps.
 */
function groupNormLoops(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number, eps: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const geometry = { n, pixels: h * w, c, groups };
  const f = tf.customGrad((...args: Arg[]) => {
    const [xi, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const r = groupNormForward(xi.dataSync() as Float32Array, g.dataSync() as Float32Array, b.dataSync() as Float32Array, geometry, eps);
    const mean = tf.tensor1d(r.mean);
    const rstd = tf.tensor1d(r.rstd);
    save([xi, mean, rstd, g]);
    return {
      value: tf.tensor4d(r.y, [n, h, w, c]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, mu, rs, gm] = saved.map((t) => t.dataSync() as Float32Array);
        const d = groupNormBackward(dy.dataSync() as Float32Array, xs, mu, rs, gm, geometry);
        return [tf.tensor4d(d.dx, [n, h, w, c]), tf.tensor1d(d.dgamma), tf.tensor1d(d.dbeta)];
      },
    };
  });
  return f(x, gamma, beta) as tf.Tensor4D;
}

/**
 * The same loops in C++ on the wasm heap (native.ts; no copies out to JS and back), with the same
 * saved tensors.
 */
function groupNormNative(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number, eps: number): tf.Tensor4D {
  const f = tf.customGrad((...args: Arg[]) => {
    const [xi, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, mean, rstd] = tf
      .engine()
      .runKernel(GROUP_NORM_KERNEL, { x: xi, gamma: g, beta: b }, { groups, eps } as unknown as NamedAttrMap) as tf.Tensor[];
    save([xi, mean!, rstd!, g]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, mu, rs, gm] = saved;
        return tf.engine().runKernel(GROUP_NORM_GRAD_KERNEL, { dy, x: xs!, mean: mu!, rstd: rs!, gamma: gm! }, {
          groups,
        } as unknown as NamedAttrMap) as tf.Tensor[];
      },
    };
  });
  return f(x, gamma, beta) as tf.Tensor4D;
}

/** GroupNorm from tfjs ops (any backend; on GPUs the data never leave the device). */
export function groupNormOps(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number, eps: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const gshape = [n, h, w, groups, c / groups];
  const f = tf.customGrad((...args: Arg[]) => {
    const [xi, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const normalise = (x: tf.Tensor, mean: tf.Tensor, rstd: tf.Tensor) =>
      tf.reshape(tf.mul(tf.sub(tf.reshape(x, gshape), mean), rstd), [n, h, w, c]);
    const { mean, variance } = tf.moments(tf.reshape(xi, gshape), [1, 2, 4], true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    save([xi, mean, rstd, g]);
    return {
      value: tf.add(tf.mul(normalise(xi, mean, rstd), g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, mu, rs, gm] = saved;
        // (The tidies free activation-sized temporaries as soon as they are used.)
        const xh = normalise(xs, mu, rs);
        const dbeta = tf.sum(dy, [0, 1, 2]);
        const dgamma = tf.tidy(() => tf.sum(tf.mul(dy, xh), [0, 1, 2]));
        const gg = tf.reshape(tf.mul(dy, gm), gshape);
        const xhg = tf.reshape(xh, gshape);
        const m1 = tf.mean(gg, [1, 2, 4], true);
        const m2 = tf.tidy(() => tf.mean(tf.mul(gg, xhg), [1, 2, 4], true));
        const dx = tf.tidy(() => tf.reshape(tf.mul(rs, tf.sub(tf.sub(gg, m1), tf.mul(xhg, m2))), [n, h, w, c]));
        return [dx, dgamma, dbeta];
      },
    };
  });
  return f(x, gamma, beta) as tf.Tensor4D;
}
