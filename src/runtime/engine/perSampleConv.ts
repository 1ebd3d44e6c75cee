/**
 * A stride-1 convolution with one weight set per sample, y_n = conv(x_n, W_n): what LoRA layers
 * compute with per-sample weights W_n = W + A diag(omega_n) B (model/lora.ts).
 *
 * With the native kernels on wasm it is one oneDNN convolution per sample on offsets of the
 * heap (a cached batch-1 primitive; its backward-data and backward-weights likewise: dW_n is the
 * plain conv's weight gradient before the sum over the batch), so no im2col patches are
 * materialised or kept for backward. Elsewhere it is {@link perSampleConv2dReference}: the
 * k x k patches of x (patches.ts) times W_n as one batched matmul, the same arithmetic.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { nativeAddon, isNativeKernel, PER_SAMPLE_KERNEL } from './native.ts';
import { patches } from './patches.ts';

type Arg = tf.Tensor | tf.GradSaveFunc;

function check(x: tf.Tensor4D, w: tf.Tensor5D, pad: number): { k: number; ho: number; wo: number; cout: number } {
  const [n, h, wd, cin] = x.shape;
  const [nw, kh, kw, ci, cout] = w.shape;
  if (nw !== n || ci !== cin || kh !== kw) {
    throw new Error(`perSampleConv2d: weights [${w.shape}] do not fit an input [${x.shape}] (want [${n}, k, k, ${cin}, C_out])`);
  }
  const ho = h + 2 * pad - kh + 1;
  const wo = wd + 2 * pad - kw + 1;
  if (ho <= 0 || wo <= 0 || pad < 0)
    throw new Error(`perSampleConv2d: pad ${pad} and a ${kh}x${kw} filter leave no output for a ${h}x${wd} input`);
  return { k: kh, ho, wo, cout };
}

/** y[n] = conv(x[n], w[n]) (stride 1, `pad` zeros on every side); x [N, H, W, C_in], w [N, k, k, C_in, C_out]. */
export function perSampleConv2d(x: tf.Tensor4D, w: tf.Tensor5D, pad: number): tf.Tensor4D {
  const { k, ho, wo, cout } = check(x, w, pad);
  if (tf.getBackend() !== 'wasm' || nativeAddon() === undefined || !isNativeKernel(PER_SAMPLE_KERNEL))
    return perSampleConv2dReference(x, w, pad);
  const [n, h, wd, cin] = x.shape;
  const geo = [n, h, wd, cin, ho, wo, cout, k, k, 1, 1, 1, 1, pad, pad, pad, pad, 1, 0];
  const run = (kind: 0 | 1 | 2, a: tf.Tensor, b: tf.Tensor, outShape: number[]) =>
    tf.engine().runKernel(PER_SAMPLE_KERNEL, { a, b }, { kind, geo, outShape } as unknown as NamedAttrMap) as tf.Tensor;
  const f = tf.customGrad((...args: Arg[]) => {
    const [xi, wi, save] = args as [tf.Tensor4D, tf.Tensor5D, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: run(0, xi, wi, [n, ho, wo, cout]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor5D];
        return [run(1, dy, ws, xs.shape), run(2, xs, dy, ws.shape)];
      },
    };
  });
  return f(x, w) as tf.Tensor4D;
}

/** The same through im2col: patches(x) [N, HoWo, k^2 C_in] x w [N, k^2 C_in, C_out], one batched matmul. */
export function perSampleConv2dReference(x: tf.Tensor4D, w: tf.Tensor5D, pad: number): tf.Tensor4D {
  const { k, ho, wo, cout } = check(x, w, pad);
  const n = x.shape[0];
  const kc = k * k * x.shape[3];
  const cols = tf.reshape(patches(x, k, pad), [n, ho * wo, kc]);
  return tf.reshape(tf.matMul(cols, tf.reshape(w, [n, kc, cout])), [n, ho, wo, cout]) as tf.Tensor4D;
}
