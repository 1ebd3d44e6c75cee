/**
 * The conditioning layers against their definitions (DESIGN.md section 3, the paper's sections 3-4):
 * UC-LoRA computed through down/up projections equals the materialised W + s * sum_i omega_i B_i A_i
 * (plus the bias term); TimeLoRA's initial table interpolates between the two nearest knots;
 * ClassLoRA is linear in the class vector.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import {
  compositionWeights,
  convWithLoraWeights,
  loraDelta,
  perSampleWeightsCheaper,
  repeatBases,
  ucLoraMlp,
  type UcLoraSite,
} from '../src/runtime/model/lora.ts';
import { conv, Weights } from '../src/runtime/model/layers.ts';
import { interpolationTable, ParamStore, type ParamSpec } from '../src/runtime/model/params.ts';
import type { ClassLoraOp, ConvOp, Init, TimeLoraOp, UcLoraOp } from '../src/ir/types.ts';

beforeAll(async () => {
  await selectBackend({ name: 'wasm', log: () => {} });
});

const initOf = (s: string): Init => ({ fn: 'normal', std: Number(/^normal\(([^)]+)\)$/.exec(s)![1]) });
const spec = (name: string, shape: number[], init: string, layout: ParamSpec['layout'] = 'plain'): ParamSpec => ({
  name,
  shape,
  init: initOf(init),
  trainable: true,
  layout,
});

/** The op of a UC-LoRA layer at `site` (refs relative to its block), MLP widths and GroupNorm groups as given. */
function ucOp(
  site: string,
  r: number,
  m: number,
  mlp: number[],
  groups: number[],
  o: { bias: boolean; scale: 'trainable' | 'fixed'; eps?: number; din?: number },
): UcLoraOp {
  const widths = [o.din ?? 5, ...mlp];
  return {
    kind: 'uc_lora',
    site,
    rank: r,
    bases: m,
    down: `${site}.down`,
    up: `${site}.up`,
    hidden: mlp.map((w, i) => ({
      linear: { weight: `${site}.mlp${i}.weight`, bias: `${site}.mlp${i}.bias`, din: widths[i], dout: w },
      norm: {
        kind: 'group',
        groups: groups[i],
        eps: o.eps ?? 1e-6,
        weight: `${site}.mlp${i}_norm.weight`,
        bias: `${site}.mlp${i}_norm.bias`,
      },
    })),
    out: { weight: `${site}.mlp${mlp.length}.weight`, bias: `${site}.mlp${mlp.length}.bias`, din: widths[widths.length - 1], dout: m },
    ...(o.bias ? { bias: `${site}.bias` } : {}),
    scale: o.scale === 'trainable' ? `${site}.scale` : 1,
  };
}
const convOp = (cin: number, cout: number, k: number, lora: ConvOp['lora'] = []): ConvOp => ({
  weight: 'weight',
  bias: 'bias',
  cin,
  cout,
  kernel: k,
  stride: 1,
  pad: (k - 1) / 2,
  lora,
});
const maxAbs = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe('UC-LoRA', () => {
  it('equals the per-sample materialised weight W + s sum_i omega_i B_i A_i, plus omega_rep @ Bias (max abs error < 1e-5)', () => {
    const [n, h, w, cin, cout, m, r, k] = [3, 5, 5, 6, 7, 4, 2, 3];
    const path = 'layer.uc_lora';
    // Random (not zero) B and Bias, so the check is not trivially 0 = 0.
    const p = new ParamStore(
      [
        spec(`${path}.down`, [m * r, cin * k * k], 'normal(0.5)', { loraDown: k }),
        spec(`${path}.up`, [cout, m * r], 'normal(0.5)', 'linear'),
        spec(`${path}.bias`, [m * r, cout], 'normal(0.5)'),
        spec(`${path}.scale`, [1], 'normal(1)'),
        spec(`${path}.mlp0.weight`, [8, 5], 'normal(0.5)', 'linear'),
        spec(`${path}.mlp0.bias`, [8], 'normal(0.5)'),
        spec(`${path}.mlp0_norm.weight`, [8], 'normal(1)'),
        spec(`${path}.mlp0_norm.bias`, [8], 'normal(1)'),
        spec(`${path}.mlp1.weight`, [m, 8], 'normal(0.5)', 'linear'),
        spec(`${path}.mlp1.bias`, [m], 'normal(0.5)'),
      ],
      7,
    );
    const o = ucOp('uc_lora', r, m, [8], [2], { bias: true, scale: 'trainable' });
    const x = tf.randomNormal([n, h, w, cin], 0, 1, 'float32', 1) as tf.Tensor4D;
    const v = tf.randomNormal([n, 5], 0, 1, 'float32', 2) as tf.Tensor2D;
    const fast = loraDelta(new Weights(p, 'layer'), x, convOp(cin, cout, k, [o]), o, { v });

    // Reference: omega from the same MLP written out by hand, then per sample a materialised kernel.
    const down = p.get(`${path}.down`) as tf.Tensor4D; // [k, k, cin, m r]
    const up = p.get(`${path}.up`) as tf.Tensor2D; // [m r, cout]
    const bias = p.get(`${path}.bias`) as tf.Tensor2D;
    const s = p.get(`${path}.scale`).dataSync()[0];
    const h1 = tf.add(tf.matMul(v, p.get(`${path}.mlp0.weight`) as tf.Tensor2D), p.get(`${path}.mlp0.bias`));
    const g = tf.reshape(h1, [n, 2, 4]);
    const { mean, variance } = tf.moments(g, [2], true);
    const gn = tf.add(
      tf.mul(tf.reshape(tf.div(tf.sub(g, mean), tf.sqrt(tf.add(variance, 1e-6))), [n, 8]), p.get(`${path}.mlp0_norm.weight`)),
      p.get(`${path}.mlp0_norm.bias`),
    );
    const act = tf.mul(gn, tf.sigmoid(gn));
    const omega = tf.add(tf.matMul(act, p.get(`${path}.mlp1.weight`) as tf.Tensor2D), p.get(`${path}.mlp1.bias`)).arraySync() as number[][];
    const refs: tf.Tensor[] = [];
    for (let b = 0; b < n; b++) {
      // delta W = s * sum_i omega_i * (B_i A_i): B_i = up rows i*r..i*r+r-1, A_i = down channels likewise.
      let wEff = tf.zeros([k, k, cin, cout]);
      let bEff = tf.zeros([cout]);
      for (let i = 0; i < m; i++) {
        const Ai = tf.slice(down, [0, 0, 0, i * r], [k, k, cin, r]); // [k,k,cin,r]
        const Bi = tf.slice(up, [i * r, 0], [r, cout]); // [r, cout]
        const BA = tf.reshape(tf.matMul(tf.reshape(Ai, [k * k * cin, r]), Bi), [k, k, cin, cout]);
        wEff = tf.add(wEff, tf.mul(BA, s * omega[b][i]));
        const biasI = tf.sum(tf.slice(bias, [i * r, 0], [r, cout]), 0);
        bEff = tf.add(bEff, tf.mul(biasI, s * omega[b][i]));
      }
      const xb = tf.slice(x, [b, 0, 0, 0], [1, h, w, cin]) as tf.Tensor4D;
      const pad: [[number, number], [number, number], [number, number], [number, number]] = [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ];
      refs.push(tf.add(tf.conv2d(xb, wEff as tf.Tensor4D, 1, pad), bEff));
    }
    const ref = tf.concat(refs, 0);
    expect(fast.shape).toEqual([n, h, w, cout]);
    expect(maxAbs(fast, ref)).toBeLessThan(1e-5);
    p.dispose();
  });
});

describe('TimeLoRA initial composition table', () => {
  it('knots t_i = 1 + (i-1)(T-1)/(m-1); between knots the two nearest mix linearly', () => {
    const T = 4001;
    const m = 11; // knots every 400 steps: 1, 401, 801, ..., 4001 (paper A.4 with the (m-1) fix)
    const tab = interpolationTable(T, m);
    const row = (t: number) => Array.from(tab.slice((t - 1) * m, t * m));
    expect(row(1)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(row(401)).toEqual([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(row(4001)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    const mid = row(201); // halfway between knots 1 and 401
    expect(mid[0]).toBeCloseTo(0.5, 6);
    expect(mid[1]).toBeCloseTo(0.5, 6);
    const q = row(901); // a quarter of the way from knot 801 (index 2) to 1201 (index 3)
    expect(q[2]).toBeCloseTo(0.75, 6);
    expect(q[3]).toBeCloseTo(0.25, 6);
    for (let t = 1; t <= T; t += 97) {
      const r = row(t);
      expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect(r.filter((x) => x !== 0).length).toBeLessThanOrEqual(2);
    }
  });
});

describe('ClassLoRA', () => {
  it('is linear in the class vector: delta(a c_i + (1-a) c_j) = a delta(c_i) + (1-a) delta(c_j)', () => {
    const [n, cls, cin, cout, r] = [1, 4, 5, 6, 2];
    const path = 'layer.class_lora';
    const p = new ParamStore(
      [spec(`${path}.down`, [cls * r, cin], 'normal(0.5)', { loraDown: 1 }), spec(`${path}.up`, [cout, cls * r], 'normal(0.5)', 'linear')],
      3,
    );
    const o: ClassLoraOp = { kind: 'class_lora', site: 'class_lora', rank: r, classes: cls, down: 'class_lora.down', up: 'class_lora.up' };
    const x = tf.randomNormal([n, 3, 3, cin], 0, 1, 'float32', 5) as tf.Tensor4D;
    const d = (c: number[]) => loraDelta(new Weights(p, 'layer'), x, convOp(cin, cout, 1, [o]), o, { classes: tf.tensor2d([c]) });
    const ci = [0, 1, 0, 0];
    const cj = [0, 0, 0, 1];
    for (const a of [0.3, -1, 2.5]) {
      const mixed = d(ci.map((v, k) => a * v + (1 - a) * cj[k]));
      const combo = tf.add(tf.mul(d(ci), a), tf.mul(d(cj), 1 - a));
      expect(maxAbs(mixed, combo)).toBeLessThan(1e-5);
    }
    // And a label's delta is exactly that class's own pair B'_c A'_c.
    expect(maxAbs(d([0, 0, 0, 0]), tf.zeros([n, 3, 3, cout]))).toBe(0);
    p.dispose();
  });
});

describe.each([1, 3])('LoRA on a conv of kernel %i through per-sample weights', (k) => {
  // Two LoRA layers on one conv (UC-LoRA with bias and trainable scale, and TimeLoRA), random
  // weights everywhere so no term is trivially zero.
  const [n, h, w, cin, cout, r] = [3, 4, 4, 6, 5, 2];
  const uc = ucOp('uc_lora', r, 3, [4], [2], { bias: true, scale: 'trainable' });
  const time: TimeLoraOp = {
    kind: 'time_lora',
    site: 'time_lora',
    rank: r,
    bases: 2,
    steps: 10,
    down: 'time_lora.down',
    up: 'time_lora.up',
    omega: 'time_lora.omega',
  };
  const c = convOp(cin, cout, k, [uc, time]);
  const build = () =>
    new ParamStore(
      [
        spec('c.weight', [cout, cin, k, k], 'normal(0.5)', 'conv'),
        spec('c.bias', [cout], 'normal(0.5)'),
        spec('c.uc_lora.down', [3 * r, cin * k * k], 'normal(0.5)', { loraDown: k }),
        spec('c.uc_lora.up', [cout, 3 * r], 'normal(0.5)', 'linear'),
        spec('c.uc_lora.bias', [3 * r, cout], 'normal(0.5)'),
        spec('c.uc_lora.scale', [1], 'normal(1)'),
        spec('c.uc_lora.mlp0.weight', [4, 5], 'normal(0.5)', 'linear'),
        spec('c.uc_lora.mlp0.bias', [4], 'normal(0.5)'),
        spec('c.uc_lora.mlp0_norm.weight', [4], 'normal(1)'),
        spec('c.uc_lora.mlp0_norm.bias', [4], 'normal(1)'),
        spec('c.uc_lora.mlp1.weight', [3, 4], 'normal(0.5)', 'linear'),
        spec('c.uc_lora.mlp1.bias', [3], 'normal(0.5)'),
        spec('c.time_lora.down', [2 * r, cin * k * k], 'normal(0.5)', { loraDown: k }),
        spec('c.time_lora.up', [cout, 2 * r], 'normal(0.5)', 'linear'),
        spec('c.time_lora.omega', [10, 2], 'normal(1)'),
      ],
      11,
    );

  it('gives the same output and the same gradients (x and every parameter) as conv + the down/up deltas (rel. error < 1e-5)', () => {
    const p = build();
    const x = tf.randomNormal([n, h, w, cin], 0, 1, 'float32', 3) as tf.Tensor4D;
    const inp = { v: tf.randomNormal([n, 5], 0, 1, 'float32', 4) as tf.Tensor2D, t: tf.tensor1d([0, 7, 9], 'int32') as tf.Tensor1D };
    const wc = new Weights(p, 'c');
    const viaPath = (xi: tf.Tensor4D) => {
      let y = conv(wc, xi, c);
      for (const o of [uc, time]) y = tf.add(y, loraDelta(wc, xi, c, o, inp));
      return y;
    };
    const viaWeights = (xi: tf.Tensor4D) => convWithLoraWeights(wc, xi, c, inp);
    // A fixed random cotangent makes the scalar loss sensitive to every output element.
    const dy = tf.randomNormal([n, h, w, cout], 0, 1, 'float32', 5);
    const vars = p.trainable();
    for (const [a, b] of [[viaPath, viaWeights]] as const) {
      expect(maxAbs(a(x), b(x)) / tf.max(tf.abs(a(x))).dataSync()[0]).toBeLessThan(1e-5);
      const ga = tf.variableGrads(() => tf.sum(tf.mul(a(x), dy)) as tf.Scalar, vars);
      const gb = tf.variableGrads(() => tf.sum(tf.mul(b(x), dy)) as tf.Scalar, vars);
      expect(Object.keys(gb.grads).sort()).toEqual(vars.map((v) => v.name).sort());
      // float32 rounding in each gradient scales with the largest terms summed into it; the MLP's
      // gradients come through omega from terms as large as the largest gradient here (GroupNorm
      // then cancels most of them), so errors are measured against the largest gradient of all.
      const scale = Math.max(...Object.values(ga.grads).map((g) => tf.max(tf.abs(g)).dataSync()[0]));
      for (const name of Object.keys(ga.grads)) expect(maxAbs(ga.grads[name], gb.grads[name]) / scale, name).toBeLessThan(1e-6);
      const [dxa] = tf.grads((xi: tf.Tensor) => tf.sum(tf.mul(a(xi as tf.Tensor4D), dy)))([x]);
      const [dxb] = tf.grads((xi: tf.Tensor) => tf.sum(tf.mul(b(xi as tf.Tensor4D), dy)))([x]);
      expect(maxAbs(dxa, dxb)).toBeLessThan(1e-4);
    }
    p.dispose();
  });

  it('is chosen exactly when k^2 C_in C_out < H W (k^2 C_in + C_out), and for k > 1 only while the patches stay under 64 MiB', () => {
    if (k === 1) {
      expect(perSampleWeightsCheaper(64, 192, 16 * 16)).toBe(true); // 12,288 < 65,536
      expect(perSampleWeightsCheaper(128, 384, 8 * 8)).toBe(false); // 49,152 > 32,768
      expect(perSampleWeightsCheaper(128, 128, 8 * 8)).toBe(false); // 16,384 = 16,384: a tie keeps the path
      expect(perSampleWeightsCheaper(128, 128, 9 * 9)).toBe(true); // 16,384 < 20,736
      expect(perSampleWeightsCheaper(64, 192, 16 * 16, 1, 100_000)).toBe(true); // no patches for 1x1
    } else {
      expect(perSampleWeightsCheaper(10, 10, 32 * 32, 3, 64)).toBe(true); // 900 < 1024 * 100; patches 23.6 MB
      expect(perSampleWeightsCheaper(512, 512, 2 * 2, 3, 1)).toBe(false); // 2,359,296 > 4 * 5,120
      expect(perSampleWeightsCheaper(40, 40, 32 * 32, 3, 64)).toBe(false); // cheaper, but patches 94 MB > 64 MiB
      expect(perSampleWeightsCheaper(40, 40, 32 * 32, 3, 16)).toBe(true); // 23.6 MB
    }
  });

  it('repeats each composition weight r times, basis-major', () => {
    const rep = repeatBases(
      tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      2,
    );
    expect(rep.arraySync()).toEqual([
      [1, 1, 2, 2, 3, 3],
      [4, 4, 5, 5, 6, 6],
    ]);
  });
});

describe('UC-LoRA composition MLPs batched across layers', () => {
  it('give each layer the omegas (and gradients) of its own MLP, for layers of two different shapes (rel. error < 1e-5)', () => {
    const a = ucOp('uc_lora', 2, 3, [16, 8], [2, 2], { bias: false, scale: 'fixed' });
    const b = ucOp('uc_lora', 2, 5, [12], [3], { bias: false, scale: 'fixed' });
    const mlpSpecs = (block: string, o: UcLoraOp) =>
      [...o.hidden.map((h) => h.linear), o.out].flatMap((l, i) => [
        spec(`${block}.${l.weight}`, [l.dout, l.din], 'normal(0.5)', 'linear'),
        spec(`${block}.${l.bias}`, [l.dout], 'normal(0.5)'),
        ...(i < o.hidden.length
          ? [
              spec(`${block}.${o.hidden[i].norm.weight}`, [l.dout], 'normal(1)'),
              spec(`${block}.${o.hidden[i].norm.bias}`, [l.dout], 'normal(1)'),
            ]
          : []),
      ]);
    const layers: UcLoraSite[] = [
      ['x', a],
      ['y', b],
      ['z', a],
    ];
    const p = new ParamStore(
      layers.flatMap(([block, o]) => mlpSpecs(block, o)),
      13,
    );
    const v = tf.randomNormal([4, 5], 0, 1, 'float32', 9) as tf.Tensor2D;
    const inp = { v, ucLora: layers };
    // Different random weights per layer, so a mix-up of layers would show.
    for (const [path, o] of layers) {
      const one = ucLoraMlp(new Weights(p, path), o, v);
      const batched = compositionWeights(new Weights(p, path), o, inp);
      expect(batched.shape).toEqual([4, o.bases]);
      expect(maxAbs(one, batched) / tf.max(tf.abs(one)).dataSync()[0], path).toBeLessThan(1e-5);
    }
    // Gradients of a loss reading every layer's omegas, including through v (in a model v comes
    // from the trainable embedding network).
    const vVar = tf.variable(v, true, 'v');
    const vars = [...p.trainable(), vVar];
    const loss = (batched: boolean) => () =>
      tf.addN(
        layers.map(([path, o], i) =>
          tf.sum(
            tf.mul(
              batched
                ? compositionWeights(new Weights(p, path), o, { v: vVar as tf.Tensor2D, ucLora: layers })
                : ucLoraMlp(new Weights(p, path), o, vVar as tf.Tensor2D),
              i + 1,
            ),
          ),
        ),
      ) as tf.Scalar;
    const ga = tf.variableGrads(loss(false), vars).grads;
    const gb = tf.variableGrads(loss(true), vars).grads;
    expect(Object.keys(gb).sort()).toEqual(Object.keys(ga).sort());
    expect(Object.keys(ga)).toContain('v');
    // GroupNorm groups of 4 to 8 values: with groups of 2 values, float32 roundings were amplified
    // ~1e4 times through the variance and the two formulations' gradients differed by up to 7e-3 on
    // the native matmuls. Here they agree to 0 (measured, wasm with and without oneDNN); a mix-up of
    // layers gives errors of order 1.
    for (const name of Object.keys(ga))
      expect(maxAbs(ga[name], gb[name]) / Math.max(1e-3, tf.max(tf.abs(ga[name])).dataSync()[0]), name).toBeLessThan(1e-5);
    vVar.dispose();
    p.dispose();
  });
});
