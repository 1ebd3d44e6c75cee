/**
 * The semantics the reference networks define, tested from their definitions (each case names
 * the reference function it transcribes in words; the expected values are computed here with
 * plain tfjs ops or by hand, never by the runtime under test):
 * - the order of operations in a residual block, with a fixed dropout seed (EDM's UNetBlock,
 *   improved-diffusion's ResBlock: dropout right before the second conv);
 * - the timestep fed to the network (improved-diffusion's _scale_timesteps: t * 1000 / T);
 * - the class-label scale (EDM's SongUNet.forward: one_hot * sqrt(label_dim));
 * - the qkv channel layout per head (EDM: reshape(N heads, C / heads, 3, HW); improved
 *   diffusion: reshape(N heads, 3 C / heads, HW) then split into q, k, v);
 * - the loss reduction (EDM: loss.sum() / batch).
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkSpec } from '../src/pipeline.ts';
import type { EmbeddingOp, IR, NormOp, ResBlockOp } from '../src/ir/types.ts';
import { resBlock } from '../src/runtime/model/blocks.ts';
import { embedding, noiseEmbedding } from '../src/runtime/model/embedding.ts';
import { attentionCore, Weights } from '../src/runtime/model/layers.ts';
import { nameSeed, ParamStore, type ParamSpec } from '../src/runtime/model/params.ts';
import { Edm } from '../src/runtime/diffusion/edm.ts';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { SPECS_DIR } from './helpers.ts';

beforeAll(async () => {
  await selectBackend({ name: 'cpu', log: () => {} });
});

const irOf = (spec: string, text?: string): IR => {
  const r = checkSpec(join(SPECS_DIR, spec), text === undefined ? {} : { text });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.ir!;
};
const maxRel = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
const normal = (name: string, shape: number[], layout: ParamSpec['layout'] = 'plain', std = 0.3): ParamSpec => ({
  name,
  shape,
  init: { fn: 'normal', std },
  trainable: true,
  layout,
});

/** GroupNorm from its definition: per sample and group, over H, W and the group's channels. */
function gnRef(x: tf.Tensor4D, groups: number, eps: number, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const g = tf.reshape(x, [n, h, w, groups, c / groups]);
  const mean = tf.mean(g, [1, 2, 4], true);
  const variance = tf.mean(tf.square(tf.sub(g, mean)), [1, 2, 4], true);
  return tf.add(tf.mul(tf.reshape(tf.div(tf.sub(g, mean), tf.sqrt(tf.add(variance, eps))), [n, h, w, c]), gamma), beta) as tf.Tensor4D;
}
const siluRef = (x: tf.Tensor) => tf.mul(x, tf.sigmoid(x));
const conv3 = (x: tf.Tensor4D, w: tf.Tensor, b: tf.Tensor) => tf.add(tf.conv2d(x, w as tf.Tensor4D, 1, 'same'), b) as tf.Tensor4D;

describe('residual block: order of operations (dropout before the second conv)', () => {
  // A block of 4 -> 4 channels, 2 GroupNorm groups, two 3x3 convs, dropout 0.5.
  const [n, hw, c, groups, eps, d] = [2, 4, 4, 2, 1e-6, 3];
  const specs = (mod: number): ParamSpec[] => [
    normal('b.norm0.weight', [c], 'plain', 1),
    normal('b.norm0.bias', [c]),
    normal('b.conv0.weight', [c, c, 3, 3], 'conv'),
    normal('b.conv0.bias', [c]),
    normal('b.emb.weight', [mod, d], 'linear'),
    normal('b.emb.bias', [mod]),
    normal('b.norm1.weight', [c], 'plain', 1),
    normal('b.norm1.bias', [c]),
    normal('b.conv1.weight', [c, c, 3, 3], 'conv'),
    normal('b.conv1.bias', [c]),
  ];
  const gn = (i: number): NormOp => ({ kind: 'group', groups, eps, weight: `norm${i}.weight`, bias: `norm${i}.bias` });
  const cv = (i: number) => ({ weight: `conv${i}.weight`, bias: `conv${i}.bias`, cin: c, cout: c, kernel: 3, stride: 1, pad: 1, lora: [] });
  const op = (kind: 'shift' | 'scale_shift'): ResBlockOp => ({
    op: 'res_block',
    order: 'pre',
    norms: [gn(0), gn(1)],
    convs: [cv(0), cv(1)],
    dropout: 0.5,
    residual: true,
    outputScale: Math.SQRT1_2,
    modulation: {
      kind,
      at: kind === 'shift' ? 'conv0' : 'norm1',
      mlp: [{ weight: 'emb.weight', bias: 'emb.bias', din: d, dout: kind === 'shift' ? c : 2 * c }],
    },
  });
  const seed = 42;
  // The mask tf.dropout draws for a tensor of this shape and seed (the block seeds it by name).
  const dropWith = (x: tf.Tensor) => tf.dropout(x, 0.5, undefined, nameSeed(seed, 'b.dropout1'));

  it('EDM UNetBlock (adaptive_scale off): conv1(dropout(silu(norm1(conv0(silu(norm0(x))) + affine(emb))))) + x, times skip_scale', () => {
    const p = new ParamStore(specs(c), 5);
    const x = tf.randomNormal([n, hw, hw, c], 0, 1, 'float32', 1) as tf.Tensor4D;
    const v = tf.randomNormal([n, d], 0, 1, 'float32', 2) as tf.Tensor2D;
    const got = resBlock(p, 'b', x, v, op('shift'), { training: true, seed, lora: {} });
    const g = (k: string) => p.get(`b.${k}`);
    const params = tf.reshape(tf.add(tf.matMul(v, g('emb.weight')), g('emb.bias')), [n, 1, 1, c]);
    const h0 = conv3(siluRef(gnRef(x, groups, eps, g('norm0.weight'), g('norm0.bias'))) as tf.Tensor4D, g('conv0.weight'), g('conv0.bias'));
    const h1 = siluRef(gnRef(tf.add(h0, params) as tf.Tensor4D, groups, eps, g('norm1.weight'), g('norm1.bias')));
    const want = tf.mul(tf.add(conv3(dropWith(h1) as tf.Tensor4D, g('conv1.weight'), g('conv1.bias')), x), Math.SQRT1_2);
    expect(maxRel(got, want)).toBeLessThan(1e-5);
    // The order unetc used before (dropout before norm1, so GroupNorm renormalised dropped
    // activations) computes something else: this test tells them apart.
    const old = tf.mul(
      tf.add(
        conv3(
          siluRef(gnRef(dropWith(tf.add(h0, params)) as tf.Tensor4D, groups, eps, g('norm1.weight'), g('norm1.bias'))) as tf.Tensor4D,
          g('conv1.weight'),
          g('conv1.bias'),
        ),
        x,
      ),
      Math.SQRT1_2,
    );
    expect(maxRel(old, want)).toBeGreaterThan(1e-2);
    // In eval mode there is no dropout at all.
    const evalWant = tf.mul(tf.add(conv3(h1 as tf.Tensor4D, g('conv1.weight'), g('conv1.bias')), x), Math.SQRT1_2);
    expect(maxRel(resBlock(p, 'b', x, v, op('shift'), { training: false, seed, lora: {} }), evalWant)).toBeLessThan(1e-5);
    p.dispose();
  });

  it('improved-diffusion ResBlock (use_scale_shift_norm): conv1(dropout(silu(norm1(h) (1 + scale) + shift))) + x', () => {
    const p = new ParamStore(specs(2 * c), 6);
    const x = tf.randomNormal([n, hw, hw, c], 0, 1, 'float32', 3) as tf.Tensor4D;
    const v = tf.randomNormal([n, d], 0, 1, 'float32', 4) as tf.Tensor2D;
    const o = { ...op('scale_shift'), outputScale: 1 };
    const got = resBlock(p, 'b', x, v, o, { training: true, seed, lora: {} });
    const g = (k: string) => p.get(`b.${k}`);
    const e = tf.add(tf.matMul(v, g('emb.weight')), g('emb.bias'));
    const [scale, shift] = tf.split(e, 2, 1).map((t) => tf.reshape(t, [n, 1, 1, c]));
    const h0 = conv3(siluRef(gnRef(x, groups, eps, g('norm0.weight'), g('norm0.bias'))) as tf.Tensor4D, g('conv0.weight'), g('conv0.bias'));
    const h1 = siluRef(tf.add(tf.mul(gnRef(h0, groups, eps, g('norm1.weight'), g('norm1.bias')), tf.add(scale, 1)), shift));
    const want = tf.add(conv3(dropWith(h1) as tf.Tensor4D, g('conv1.weight'), g('conv1.bias')), x);
    expect(maxRel(got, want)).toBeLessThan(1e-5);
    p.dispose();
  });
});

describe('the timestep fed to the network', () => {
  /** improved-diffusion's timestep_embedding(t, dim): [cos(t f), sin(t f)], f_i = exp(-ln(10000) i / half). */
  const sinusoid = (t: number, dim: number) => {
    const half = dim / 2;
    const f = Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
    return [...f.map((x) => Math.cos(t * x)), ...f.map((x) => Math.sin(t * x))];
  };

  it('IDDPM (T = 4000, rescale_timesteps): the embedding of t is that of t * 1000 / 4000', () => {
    const op = irOf('iddpm-cifar10.unet').blocks[0].op as EmbeddingOp;
    expect(op.noise.inputScale).toBe(0.25);
    const p = new ParamStore([], 0);
    const e = noiseEmbedding(new Weights(p, 'emb'), tf.tensor1d([100, 3999], 'int32'), op.noise).arraySync();
    const want = [sinusoid(25, 128), sinusoid(999.75, 128)];
    for (let r = 0; r < 2; r++) for (let i = 0; i < 128; i++) expect(e[r][i]).toBeCloseTo(want[r][i], 4);
  });

  it('rescale_timesteps: false feeds t as is; T = 1000 makes the two the same', () => {
    const text = `model x extends "./iddpm-cifar10.unet" {\n  diffusion {\n    rescale_timesteps: false\n  }\n}\n`;
    const r = checkSpec(join(SPECS_DIR, 'x.unet'), { text });
    expect((r.ir!.blocks[0].op as EmbeddingOp).noise.inputScale).toBe(1);
    expect((irOf('attn-unet-mnist.unet').blocks[0].op as EmbeddingOp).noise.inputScale).toBe(1);
  });
});

describe('class labels', () => {
  it("EDM: map_label reads one_hot * sqrt(label_dim); IDDPM's label embedding reads the label as is", () => {
    const edm = irOf('edm-cifar10-cond.unet').blocks[0].op as EmbeddingOp;
    expect(edm.label?.scale).toBeCloseTo(Math.sqrt(10), 12);
    expect(edm.label?.linear).toBeDefined();
    const iddpm = irOf('iddpm-cifar10-cond.unet').blocks[0].op as EmbeddingOp;
    expect(iddpm.label?.scale).toBe(1);
  });

  it('v = posemb(c_noise) + W (sqrt(3) one_hot) + b for a 3-class model, written out by hand', () => {
    // positional(dim 4, endpoint, flip): f = (1/10000)^(i / (2 - 1)), i = 0, 1 -> [1, 1e-4]; [sin, cos] after the flip.
    const op: EmbeddingOp = {
      op: 'embedding',
      noise: { kind: 'positional', dim: 4, maxPositions: 10000, endpoint: true, flip: true, scale: 16, inputScale: 1 },
      label: { at: 'input', scale: Math.sqrt(3), linear: { weight: 'label.weight', bias: 'label.bias', din: 3, dout: 4 } },
      mlp: [],
      outAct: false,
    };
    const p = new ParamStore([normal('emb.label.weight', [4, 3], 'linear'), normal('emb.label.bias', [4])], 9);
    const W = p.get('emb.label.weight').arraySync() as number[][]; // [in 3, out 4] in the runtime layout
    const b = p.get('emb.label.bias').arraySync() as number[];
    const cn = 0.7;
    const v = embedding(p, { noise: tf.tensor1d([cn]), classes: tf.tensor2d([[0, 1, 0]]) }, op).arraySync()[0];
    const pos = [Math.sin(cn), Math.sin(cn * 1e-4), Math.cos(cn), Math.cos(cn * 1e-4)];
    for (let j = 0; j < 4; j++) expect(v[j]).toBeCloseTo(pos[j] + Math.sqrt(3) * W[1][j] + b[j], 5);
    p.dispose();
  });
});

describe('qkv layout per head', () => {
  /** Attention from its definition for one sample, q/k/v of head hd read at channel `at(s, hd, i)`. */
  function attnRef(qkv: number[][], heads: number, at: (s: number, hd: number, i: number) => number): number[][] {
    const T = qkv.length;
    const C = qkv[0].length / 3;
    const d = C / heads;
    const out = Array.from({ length: T }, () => new Array<number>(C).fill(0));
    for (let hd = 0; hd < heads; hd++) {
      for (let a = 0; a < T; a++) {
        const logits = Array.from({ length: T }, (_, bb) => {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += qkv[a][at(0, hd, i)] * qkv[bb][at(1, hd, i)];
          return dot / Math.sqrt(d);
        });
        const mx = Math.max(...logits);
        const e = logits.map((l) => Math.exp(l - mx));
        const z = e.reduce((x, y) => x + y, 0);
        for (let i = 0; i < d; i++) out[a][hd * d + i] = e.reduce((acc, w, bb) => acc + (w / z) * qkv[bb][at(2, hd, i)], 0);
      }
    }
    return out;
  }

  it.each([
    ['interleaved', (s: number, hd: number, i: number, d: number) => hd * 3 * d + 3 * i + s],
    ['per_head', (s: number, hd: number, i: number, d: number) => hd * 3 * d + s * d + i],
  ] as const)('%s: the core reads q, k, v of each head where the reference does', (layout, chan) => {
    const [H, W, C, heads] = [1, 3, 4, 2];
    const qkv = tf.randomNormal([1, H, W, 3 * C], 0, 1, 'float32', 11) as tf.Tensor4D;
    const got = (attentionCore(qkv, heads, layout).arraySync() as number[][][][])[0][0];
    const rows = (qkv.arraySync() as number[][][][])[0][0];
    const want = attnRef(rows, heads, (s, hd, i) => chan(s, hd, i, C / heads));
    for (let t = 0; t < W; t++) for (let c = 0; c < C; c++) expect(got[t][c]).toBeCloseTo(want[t][c], 5);
    // And the other layout gives another answer on the same tensor (the test can fail).
    const other = (attentionCore(qkv, heads, layout === 'per_head' ? 'interleaved' : 'per_head').arraySync() as number[][][][])[0][0];
    expect(Math.max(...other.flatMap((r, t) => r.map((x, c) => Math.abs(x - want[t][c]))))).toBeGreaterThan(1e-3);
  });

  it('the IDDPM specs use the per-head layout and EDM the interleaved one', () => {
    const attn = (ir: IR) => ir.blocks.map((b) => b.op).find((o): o is ResBlockOp => o.op === 'res_block' && !!o.attention)!.attention!;
    expect(attn(irOf('iddpm-cifar10.unet')).layout).toBe('per_head');
    expect(attn(irOf('iddpm-cifar10.unet')).heads).toBe(4);
    expect(attn(irOf('edm-cifar10.unet')).layout).toBe('interleaved');
  });
});

describe('loss reduction', () => {
  it('EDM: sum over pixels, mean over the batch; the mean reduction is that over the pixel count', () => {
    // precond edm with sigma_data 0.5; a network that outputs zeros makes D(x) = c_skip x.
    const edm = new Edm({ precond: 'edm', sigmaData: 0.5, pMean: -1.2, pStd: 1.2, sigmaMin: 0.002, sigmaMax: 80, rho: 7 });
    const y = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 1]);
    const noise = tf.zeros([2, 2, 2, 1]) as tf.Tensor4D;
    const u = Float64Array.from([0, 0]); // normals 0: ln sigma = P_mean, sigma = e^-1.2
    const net = (x: tf.Tensor4D) => tf.zerosLike(x) as tf.Tensor4D;
    const sigma = Math.exp(-1.2);
    const sd = 0.5;
    const cSkip = sd ** 2 / (sigma ** 2 + sd ** 2);
    const weight = (sigma ** 2 + sd ** 2) / (sigma * sd) ** 2;
    // Per pixel: weight (c_skip y - y)^2; sample sums 1+4+9+16 = 30 and 25+36+49+64 = 174.
    const perPixelSq = (1 - cSkip) ** 2;
    const sumLoss = edm.loss(net, y, u, noise, 'sum_pixels').dataSync()[0];
    expect(sumLoss).toBeCloseTo((weight * perPixelSq * (30 + 174)) / 2, 3);
    expect(edm.loss(net, y, u, noise, 'mean').dataSync()[0]).toBeCloseTo((weight * perPixelSq * (30 + 174)) / 8, 4);
  });

  it('the EDM specs sum over pixels and zero non-finite gradients; the others keep the mean', () => {
    expect(irOf('edm-cifar10.unet').training).toMatchObject({ loss_reduction: 'sum_pixels', nonfinite_grads: 'zero', ramp: 'before_step' });
    expect(irOf('iddpm-cifar10.unet').training.loss_reduction).toBeUndefined();
  });
});
