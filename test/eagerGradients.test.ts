/**
 * variableGradsEager (src/runtime/engine/eagerGradients.ts) against tf.variableGrads: the same
 * gradients (it runs the same gradient functions in the same order, so they agree to ~1e-6 relative
 * or better; in practice bit for bit), the same keys (variables without a gradient left out,
 * non-trainable ones null), no leaked tensors, nested use (a gradient of a gradient), and a lower
 * peak of live tensor bytes, which is its point.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { groupNormFused, siluFused } from '../src/runtime/engine/memoryEfficient.ts';
import type { ParamStore } from '../src/runtime/model/params.ts';
import { eagerGradientsSupported, shapeOnlySavedKernels, variableGradsEager } from '../src/runtime/engine/eagerGradients.ts';
import { batchCond, type ModelModule } from '../src/runtime/train/loop.ts';
import { makeProcess, type NetFn } from '../src/runtime/train/process.ts';
import { compileAndImport, fixture } from './modelHelpers.ts';

type VariableGrads = (f: () => tf.Scalar, vars?: tf.Variable[]) => { value: tf.Scalar; grads: tf.NamedTensorMap };

const TOLERANCE = 1e-6;

/** max |a - b| / max |b|, with b (tf.variableGrads) the reference. */
function relativeError(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < y.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(y[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(x[i]! - y[i]!));
  }
  return maxAbs === 0 ? maxDiff : maxDiff / maxAbs;
}

/** Runs f under both, compares value and gradients, disposes everything; returns the worst error. */
function compare(f: () => tf.Scalar, vars: tf.Variable[] | undefined): number {
  const stock = tf.variableGrads(f, vars);
  const eager = variableGradsEager(f, vars);
  try {
    expect(Object.keys(eager.grads).sort()).toEqual(Object.keys(stock.grads).sort());
    let worst = relativeError(eager.value, stock.value);
    for (const [name, g] of Object.entries(stock.grads)) {
      if (g === null) {
        expect(eager.grads[name], name).toBeNull();
        continue;
      }
      const err = relativeError(eager.grads[name]!, g);
      expect(err, name).toBeLessThanOrEqual(TOLERANCE);
      worst = Math.max(worst, err);
    }
    return worst;
  } finally {
    tf.dispose([
      stock.value,
      eager.value,
      ...Object.values(stock.grads).filter((g) => g !== null),
      ...Object.values(eager.grads).filter((g) => g !== null),
    ]);
  }
}

/** Expects `body` to leave no tensor, data buffer or backend buffer behind. */
function expectNoLeak(body: () => void): void {
  const before = tf.memory();
  const ids = tf.backend().numDataIds();
  body();
  const after = tf.memory();
  expect(after.numTensors, 'tensors leaked').toBe(before.numTensors);
  expect(after.numDataBuffers, 'data buffers leaked').toBe(before.numDataBuffers);
  expect(tf.backend().numDataIds(), 'backend buffers leaked').toBe(ids);
}

/** A small conv net with our fused GroupNorm and SiLU, a matmul head and an embedding gather. */
function smallNet(seed: number) {
  const r = (shape: number[], s: number, std = 0.3) =>
    tf.variable(tf.randomNormal(shape, 0, std, 'float32', seed + s), true, `eager_test_${seed}_${s}`);
  const vars = {
    w1: r([3, 3, 3, 8], 1),
    gamma: tf.variable(tf.ones([8]), true, `eager_test_${seed}_gamma`),
    beta: tf.variable(tf.zeros([8]), true, `eager_test_${seed}_beta`),
    w2: r([3, 3, 8, 8], 2),
    table: r([5, 8], 3),
    head: r([8, 4], 4),
  };
  const x = tf.randomNormal([2, 6, 6, 3], 0, 1, 'float32', seed + 10) as tf.Tensor4D;
  const ids = tf.tensor1d([1, 3], 'int32');
  const loss = (): tf.Scalar =>
    tf.tidy(() => {
      let h = tf.conv2d(x, vars.w1 as tf.Tensor4D, 1, 'same');
      h = siluFused(groupNormFused(h, vars.gamma, vars.beta, 2, 1e-5)) as tf.Tensor4D;
      // A fan-out: h feeds two branches that are added back together.
      h = tf.add(tf.conv2d(h, vars.w2 as tf.Tensor4D, 2, 'same'), tf.avgPool(h, 2, 2, 'same'));
      const emb = tf.gather(vars.table, ids); // [2, 8]
      const pooled = tf.mean(h, [1, 2]); // [2, 8]
      const out = tf.matMul(tf.mul(pooled, emb), vars.head);
      return tf.mean(tf.square(out)) as tf.Scalar;
    });
  const dispose = () => {
    tf.dispose([x, ids, ...Object.values(vars)]);
  };
  return { vars, loss, dispose };
}

beforeAll(async () => {
  // (Not IS_TEST: its per-kernel leak check counts the new tensors a tf.customGrad saves as leaks.)
  await selectBackend({ name: 'wasm', log: () => {} });
});

describe('variableGradsEager', () => {
  it('uses the eager walk on this tfjs (the engine internals it reads are there)', () => {
    expect(eagerGradientsSupported()).toBe(true);
    // tfjs 4.22's gradients of these read only the shapes of what they save.
    expect(shapeOnlySavedKernels().sort()).toEqual(
      [tf.Add, tf.AddN, tf.Concat, tf.Mean, tf.PadV2, tf.Reshape, tf.Slice, tf.Sub, tf.Sum].sort(),
    );
  });

  it('lets a scope inside f free what is saved only for its shape (a conv output the bias Add saves)', () => {
    const w = tf.variable(tf.randomNormal([3, 3, 4, 4], 0, 0.2, 'float32', 50), true, 'eager_scope_w');
    const bias = tf.variable(tf.tensor1d([0.1, -0.2, 0.3, 0]), true, 'eager_scope_b');
    const x = tf.randomNormal([2, 5, 5, 4], 0, 1, 'float32', 51) as tf.Tensor4D;
    const added: Record<string, number> = {};
    const f = (label: string) => () =>
      tf.tidy(() => {
        const before = tf.memory().numDataBuffers;
        // A "block" in its own scope: conv (saves x and w), then the bias Add (saves both inputs).
        const h = tf.tidy(() => tf.add(tf.conv2d(x, w as tf.Tensor4D, 1, 'same'), bias));
        added[label] = tf.memory().numDataBuffers - before;
        return tf.sum(tf.square(h)) as tf.Scalar;
      });
    expectNoLeak(() => {
      expect(compare(f('compared'), [w, bias])).toBeLessThanOrEqual(TOLERANCE);
    });
    for (const [label, vg] of [
      ['stock', tf.variableGrads],
      ['eager', variableGradsEager],
    ] as const) {
      const r = vg(f(label), [w, bias]);
      tf.dispose([r.value, ...Object.values(r.grads)]);
    }
    // Under tf.variableGrads the conv output outlives the scope (Add saved it); here only h does.
    expect(added.stock).toBe(2);
    expect(added.eager).toBe(1);
    tf.dispose([w, bias, x]);
  });

  for (const [backend, seed] of [
    ['wasm', 7],
    ['cpu', 8],
  ] as const) {
    it(`${backend}: equals tf.variableGrads on a small conv net, and leaks nothing`, async () => {
      await tf.setBackend(backend);
      try {
        const net = smallNet(seed);
        expectNoLeak(() => {
          expect(compare(net.loss, Object.values(net.vars))).toBeLessThanOrEqual(TOLERANCE);
        });
        net.dispose();
      } finally {
        await tf.setBackend('wasm');
      }
    });
  }

  it('equals tf.variableGrads on a generated model (training loss of iddpm-tiny-with-lora), and leaks nothing', async () => {
    // (It has dropout 0.3: the forward pass is given a seed, as the training loop gives it.)
    const mod = (await compileAndImport(fixture('iddpm-tiny-with-lora.unet'))) as unknown as ModelModule & {
      createModel: (seed?: number) => { params: ParamStore };
    };
    const m = mod.createModel(3);
    // Zero-initialised layers (output conv, last conv of each block, attention projection) and
    // LoRA's B given small random values, so that every gradient is non-trivial.
    for (const [name, v] of m.params.vars) {
      if (v.trainable && tf.tidy(() => tf.max(tf.abs(v)).dataSync()[0]) === 0 && !name.endsWith('.bias'))
        v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 21));
    }
    const S = mod.config.imageSize;
    const n = 4;
    const x0 = tf.tidy(() => tf.sub(tf.mul(tf.randomUniform([n, S, S, mod.config.channels], 0, 1, 'float32', 5), 2), 1)) as tf.Tensor4D;
    const labels = Int32Array.from({ length: n }, (_, i) => (i * 3) % mod.config.classes);
    const process_ = makeProcess(mod.config.diffusion);
    const loss = () => {
      const net: NetFn = (xt, noise) => mod.forward(m.params, xt, batchCond(mod, labels, noise), true, 17);
      return process_.loss(net, x0, 1, 2);
    };
    const vars = m.params.trainable();
    expectNoLeak(() => {
      const worst = compare(loss, vars);
      expect(worst).toBeLessThanOrEqual(TOLERANCE);
      console.log(`generated model: worst relative difference to tf.variableGrads over ${vars.length} gradients: ${worst}`);
    });
    x0.dispose();
    m.params.dispose();
  }, 300_000);

  it('leaves out variables without a gradient and maps non-trainable ones to null, as tf.variableGrads does', () => {
    const used = tf.variable(tf.tensor1d([1, 2, 3]), true, 'eager_used');
    const unused = tf.variable(tf.tensor1d([4, 5]), true, 'eager_unused');
    const frozen = tf.variable(tf.tensor1d([6]), false, 'eager_frozen');
    const f = () => tf.sum(tf.mul(tf.mul(used, used), frozen)) as tf.Scalar;
    expectNoLeak(() => {
      compare(f, [used, unused, frozen]);
      const { value, grads } = variableGradsEager(f, [used, unused, frozen]);
      expect(Object.keys(grads).sort()).toEqual(['eager_frozen', 'eager_used']);
      expect(grads.eager_frozen).toBeNull();
      expect(Array.from(grads.eager_used!.dataSync())).toEqual([12, 24, 36]);
      tf.dispose([value, grads.eager_used!]);
    });
    expectNoLeak(() => {
      expect(() => variableGradsEager(() => tf.sum(tf.mul(frozen, 2)) as tf.Scalar, [used, unused])).toThrow(/Cannot find a connection/);
    });
    tf.dispose([used, unused, frozen]);
  });

  it('leaves nothing behind when f or a gradient function throws', () => {
    const v = tf.variable(tf.tensor1d([1, 2]), true, 'eager_throws');
    const broken = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([x]);
      return {
        value: tf.mul(x, 3),
        gradFunc: () => {
          throw new Error('broken gradient');
        },
      };
    }) as (x: tf.Tensor) => tf.Tensor;
    expectNoLeak(() => {
      expect(() => variableGradsEager(() => tf.sum(tf.square(broken(tf.exp(v)))) as tf.Scalar, [v])).toThrow(/broken gradient/);
      expect(() =>
        variableGradsEager(() => {
          tf.square(v);
          throw new Error('broken forward');
        }, [v]),
      ).toThrow(/broken forward/);
    });
    v.dispose();
  });

  it('handles gradient functions that pass their dy through unchanged (one tensor, several gradients)', () => {
    const v = tf.variable(tf.tensor1d([0.5, -1, 2]), true, 'eager_passthrough');
    const passthrough = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor;
      return { value: tf.mul(x, 1), gradFunc: (dy: tf.Tensor) => [dy] };
    }) as (x: tf.Tensor) => tf.Tensor;
    const f = () =>
      tf.tidy(() => {
        const a = passthrough(v);
        const b = passthrough(a);
        return tf.sum(tf.add(tf.mul(b, b), a)) as tf.Scalar;
      });
    expectNoLeak(() => {
      expect(compare(f, [v])).toBeLessThanOrEqual(TOLERANCE);
    });
    v.dispose();
  });

  it('works nested: inside tf.tidy, inside tf.grad, and inside itself (a gradient penalty)', () => {
    const v = tf.variable(tf.tensor2d([0.3, -0.2, 0.5, 0.1, 0.7, -0.4], [3, 2]), true, 'eager_nested_v');
    const x = tf.tensor2d([1, 2, 3, -1, 0.5, 0.25], [2, 3]);
    const inner = (vg: VariableGrads, xx: tf.Tensor) => vg(() => tf.sum(tf.square(tf.tanh(tf.matMul(xx, v)))) as tf.Scalar, [v]);
    // A gradient penalty: the outer loss contains the inner gradient, so the outer backward pass
    // goes through the operations of the inner backward pass and the inner forward pass.
    const penalty = (vg: VariableGrads) => () =>
      tf.tidy(() => {
        const { value, grads } = inner(vg, x);
        return tf.add(tf.sum(tf.square(grads.eager_nested_v!)), tf.mul(value, 0.5)) as tf.Scalar;
      });
    expectNoLeak(() => {
      expect(compare(penalty(tf.variableGrads), [v])).toBeLessThanOrEqual(TOLERANCE);
      expect(compare(penalty(variableGradsEager), [v])).toBeLessThanOrEqual(TOLERANCE);
      // The penalty under variableGradsEager inside variableGradsEager equals it under tf.variableGrads twice.
      const stock = tf.variableGrads(penalty(tf.variableGrads), [v]);
      const eager = variableGradsEager(penalty(variableGradsEager), [v]);
      expect(relativeError(eager.grads.eager_nested_v!, stock.grads.eager_nested_v!)).toBeLessThanOrEqual(TOLERANCE);
      tf.dispose([stock.value, eager.value, stock.grads.eager_nested_v!, eager.grads.eager_nested_v!]);
    });
    // d/dx of the sum of the inner gradient, under tf.grad.
    const dx = (vg: VariableGrads) => tf.grad((xx: tf.Tensor) => tf.sum(inner(vg, xx).grads.eager_nested_v!))(x);
    expectNoLeak(() => {
      const a = dx(variableGradsEager);
      const b = dx(tf.variableGrads);
      expect(relativeError(a, b)).toBeLessThanOrEqual(TOLERANCE);
      expect(tf.tidy(() => tf.max(tf.abs(b)).dataSync()[0])).toBeGreaterThan(0);
      tf.dispose([a, b]);
    });
    // Inside tf.tidy: the results survive as the tidy's result; nothing else does.
    expectNoLeak(() => {
      const g = tf.tidy(() => inner(variableGradsEager, x).grads.eager_nested_v!);
      expect(g.isDisposed).toBe(false);
      g.dispose();
    });
    tf.dispose([v, x]);
  });

  it('keeps fewer tensor bytes alive at its peak than tf.variableGrads', async () => {
    // A deep stack: tf.variableGrads holds every layer's saved tensors and gradients to the end.
    const layers = Array.from({ length: 12 }, (_, i) =>
      tf.variable(tf.randomNormal([3, 3, 16, 16], 0, 0.1, 'float32', 40 + i), true, `eager_deep_${i}`),
    );
    const x = tf.randomNormal([4, 16, 16, 16], 0, 1, 'float32', 39) as tf.Tensor4D;
    const f = () =>
      tf.tidy(() => {
        let h = x;
        for (const w of layers) h = siluFused(tf.conv2d(h, w as tf.Tensor4D, 1, 'same')) as tf.Tensor4D;
        return tf.mean(tf.square(h)) as tf.Scalar;
      });
    const peak = async (vg: VariableGrads) => {
      let out: ReturnType<VariableGrads> | undefined;
      const info = await tf.profile(() => {
        out = vg(f, layers);
      });
      tf.dispose([out!.value, ...Object.values(out!.grads)]);
      return info.peakBytes;
    };
    const stock = await peak(tf.variableGrads);
    const eager = await peak(variableGradsEager);
    expect(eager).toBeLessThan(0.75 * stock);
    tf.dispose([x, ...layers]);
  });
});
