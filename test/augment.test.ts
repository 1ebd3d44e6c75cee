/**
 * The augmentation pipes (src/runtime/train/augment.ts) against hand-derived cases: EDM's
 * AugmentPipe (NVlabs/edm training/augment.py) as train.py configures it, and unetc's x-flip pipe.
 * Images are NHWC; `px(img, W, C, y, x, c)` reads one value. Geometry: output pixel q shows the
 * input at G q (pixel units centred on the image, x right, y down).
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import type { Dataset } from '../src/runtime/data/common.ts';
import { readSafetensorsFile } from '../src/runtime/io/safetensors.ts';
import { batchCond, trainRun, type ModelModule } from '../src/runtime/train/loop.ts';
import { compileAndImport, fixture } from './modelHelpers.ts';
import {
  AUGMENT_LABELS,
  EDM_PIPE,
  SYM6,
  applyAugment,
  augmentBatch,
  augmentLabels,
  augmentPipeOf,
  drawEdmParams,
  noAugment,
  type AugmentParams,
} from '../src/runtime/train/augment.ts';
import { draws, normals, uniforms } from '../src/runtime/train/rng.ts';

const shapeOf = (n: number, size: number, channels = 1) => ({ n, height: size, width: size, channels });
const px = (img: Float32Array, W: number, C: number, y: number, x: number, c = 0) => img[(y * W + x) * C + c];
const label = (L: Float32Array, i: number, slot: number) => L[i * AUGMENT_LABELS + slot];
/** Torch's 'reflect' padding index for the small offsets used here (no edge repeat). */
const reflect = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
/** One image with one transform set. */
const one = (set: (a: AugmentParams) => void): AugmentParams => {
  const a = noAugment(1);
  set(a);
  return a;
};
/** A smooth, asymmetric 16x16 image: a bright blob upper right, a dark one lower left. */
function blobs(S = 16): Float32Array {
  const g = (x: number, y: number, cx: number, cy: number, s: number) => Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s));
  return Float32Array.from(
    { length: S * S },
    (_, i) => g(i % S, Math.floor(i / S), 10, 4, 2.5) - 0.5 * g(i % S, Math.floor(i / S), 5, 9, 2),
  );
}
/** a (x - cx) + b (y - cy) on a 16x16 grid. */
const ramp = (a: number, b: number, S = 16) =>
  Float32Array.from({ length: S * S }, (_, i) => a * ((i % S) - (S - 1) / 2) + b * (Math.floor(i / S) - (S - 1) / 2));

describe('draw source', () => {
  it("draws(seed) continues rng.ts's uniforms and normals, so the x-flip pipe draws what the loop always drew", () => {
    expect(draws(77).uniform(10)).toEqual(uniforms(10, 77));
    expect(draws(77).normal(7)).toEqual(normals(7, 77));
  });
});

describe('sym6 filter (augment.py wavelets table)', () => {
  it('is an orthonormal low-pass: sum sqrt(2), unit energy, orthogonal to its even shifts', () => {
    expect(SYM6).toHaveLength(12);
    expect(SYM6.reduce((s, v) => s + v, 0)).toBeCloseTo(Math.SQRT2, 12);
    for (let m = 0; m < 6; m++) {
      let dot = 0;
      for (let t = 0; t + 2 * m < 12; t++) dot += SYM6[t] * SYM6[t + 2 * m];
      expect(dot).toBeCloseTo(m === 0 ? 1 : 0, 10); // the table's 16 digits
    }
  });
});

describe('p = 0', () => {
  it('is the identity with zero labels, for both pipes', () => {
    const n = 8;
    const imgs = Float32Array.from({ length: n * 8 * 8 * 3 }, (_, i) => Math.sin(i));
    for (const pipe of ['edm', 'xflip'] as const) {
      const r = augmentBatch(imgs, shapeOf(n, 8, 3), { pipe, p: 0, draws: draws(5) });
      expect(r.images).toEqual(imgs);
      expect(r.labels).toEqual(new Float32Array(n * AUGMENT_LABELS));
    }
  });
});

describe('flips', () => {
  // 1  2  3  4
  // 5  6  7  8
  // 9 10 11 12
  // 13 14 15 16
  const img = Float32Array.from({ length: 16 }, (_, i) => i + 1);
  it('an x-flip mirrors each row and writes 1 in label slot 0', () => {
    const r = applyAugment(
      img,
      shapeOf(1, 4),
      one((a) => (a.xflip[0] = 1)),
    );
    expect([...r]).toEqual([4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13]);
    expect([...augmentLabels(one((a) => (a.xflip[0] = 1)))]).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
  it('a y-flip reverses the rows and writes slot 1; channels stay together', () => {
    const two = Float32Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? i / 2 + 1 : -(i - 1) / 2 - 1)); // channel 1 = -channel 0
    const r = applyAugment(
      two,
      shapeOf(1, 4, 2),
      one((a) => (a.yflip[0] = 1)),
    );
    const c0 = [...r].filter((_, i) => i % 2 === 0);
    expect(c0).toEqual([13, 14, 15, 16, 9, 10, 11, 12, 5, 6, 7, 8, 1, 2, 3, 4]);
    expect([...r].filter((_, i) => i % 2 === 1)).toEqual(c0.map((v) => -v));
    expect(label(augmentLabels(one((a) => (a.yflip[0] = 1))), 0, 1)).toBe(1);
  });
  it('the x-flip pipe mirrors image i when its uniform is below p, and says so in slot 0 only', () => {
    const n = 64;
    const imgs = Float32Array.from({ length: n * 16 }, (_, i) => (i % 16) + 1);
    const r = augmentBatch(imgs, shapeOf(n, 4), { pipe: 'xflip', p: 0.3, draws: draws(11) });
    const u = uniforms(n, 11);
    for (let i = 0; i < n; i++) {
      const flipped = u[i] < 0.3;
      expect(r.images[i * 16]).toBe(flipped ? 4 : 1);
      expect(label(r.labels, i, 0)).toBe(flipped ? 1 : 0);
      for (let s = 1; s < AUGMENT_LABELS; s++) expect(label(r.labels, i, s)).toBe(0);
    }
  });
});

describe('translation (EDM translate_frac: resampled, reflect-padded)', () => {
  it('an integer offset moves the content exactly, with mirrored edges', () => {
    // tx = w * W * translate_frac_std = 0.5 * 16 * 0.125 = 1 pixel right; ty = -1 * 16 * 0.125 = 2 up.
    // Output pixel (y, x) shows input (y + 2, x - 1); outside the image EDM pads by reflection:
    // column -1 reads column 1, rows 16 and 17 read rows 14 and 13.
    const S = 16;
    const img = Float32Array.from({ length: S * S }, (_, i) => i / 128 - 1);
    const a = one((p) => ((p.tx[0] = 0.5), (p.ty[0] = -1)));
    const r = applyAugment(img, shapeOf(1, S), a);
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) expect(px(r, S, 1, y, x)).toBeCloseTo(px(img, S, 1, reflect(y + 2, S), reflect(x - 1, S)), 5);
    expect(px(r, S, 1, 0, 0)).toBeCloseTo(px(img, S, 1, 2, 1), 5);
    expect(px(r, S, 1, 15, 3)).toBeCloseTo(px(img, S, 1, 13, 2), 5);
    expect([...augmentLabels(a)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0.5, -1]);
  });
  it("does not depend on the rest of the batch (the padding margin is the batch's)", () => {
    const S = 16;
    const img = blobs(S);
    const alone = applyAugment(
      img,
      shapeOf(1, S),
      one((p) => (p.tx[0] = 0.3)),
    );
    const pair = noAugment(2);
    pair.tx[0] = 0.3;
    pair.rotate[1] = 2.5; // a large margin for the whole batch
    const both = applyAugment(new Float32Array([...img, ...img]), shapeOf(2, S), pair);
    expect(maxDiff(both.subarray(0, S * S), alone)).toBeLessThan(1e-6);
  });
});

describe('rotation (EDM rotate_frac)', () => {
  it('+90 degrees turns the content counter-clockwise on screen and writes cos - 1 = -1, sin = 1', () => {
    // G = rotate2d(theta): output q shows input R(90) q = (-q_y, q_x), so out[y][x] = in[x][W-1-y]
    // (row, column). The wavelet resampling is not an exact pixel permutation (sym6 is not
    // symmetric, and EDM's half-pixel correction approximates its delay): close for smooth images.
    const S = 16;
    const img = blobs(S);
    const a = one((p) => (p.rotate[0] = Math.PI / 2));
    const r = applyAugment(img, shapeOf(1, S), a);
    const ccw = Float32Array.from({ length: S * S }, (_, i) => px(img, S, 1, i % S, S - 1 - Math.floor(i / S)));
    const cw = Float32Array.from({ length: S * S }, (_, i) => px(img, S, 1, S - 1 - (i % S), Math.floor(i / S)));
    expect(maxDiff(r, ccw)).toBeLessThan(0.03);
    expect(maxDiff(r, cw)).toBeGreaterThan(0.5);
    const L = augmentLabels(a);
    expect(label(L, 0, 3)).toBeCloseTo(-1, 7);
    expect(label(L, 0, 4)).toBeCloseTo(1, 7);
    for (const s of [0, 1, 2, 5, 6, 7, 8]) expect(label(L, 0, s)).toBe(0);
  });
  it('180 degrees is close to the point reflection, labels (-2, 0)', () => {
    const S = 16;
    const img = blobs(S);
    const a = one((p) => (p.rotate[0] = Math.PI));
    const r = applyAugment(img, shapeOf(1, S), a);
    const flipped = Float32Array.from({ length: S * S }, (_, i) => img[S * S - 1 - i]);
    expect(maxDiff(r, flipped)).toBeLessThan(0.03);
    expect(label(augmentLabels(a), 0, 3)).toBeCloseTo(-2, 7);
    expect(label(augmentLabels(a), 0, 4)).toBeCloseTo(0, 7);
  });
});

describe('scaling', () => {
  it('isotropic: label slot 2 is w, where the scale is 2^(0.2 w): log2(scale) / scale_std, not log2(scale)', () => {
    const a = one((p) => (p.scale[0] = 1));
    expect(label(augmentLabels(a), 0, 2)).toBe(1); // a scale of 2^0.2 = 1.1487
  });
  it('isotropic by 2 (w = 5) magnifies about the centre: a ramp of slope a becomes slope a / 2', () => {
    // G = scale2d(1/2): out(q) = in(q / 2). In the middle of a 16x16 image the samples and the
    // filters read inside the image, and linear images pass the sym6 filters unchanged.
    const S = 16;
    const img = ramp(0.1, 0.05, S);
    const r = applyAugment(
      img,
      shapeOf(1, S),
      one((p) => (p.scale[0] = 5)),
    );
    for (let y = 4; y < 12; y++)
      for (let x = 4; x < 12; x++) expect(Math.abs(px(r, S, 1, y, x) - px(img, S, 1, y, x) / 2)).toBeLessThan(0.006);
  });
  it('anisotropic along x (r = 0, w = 5): x is stretched by 2 and y squeezed by 2; labels w cos r, w sin r', () => {
    // G = rotate2d(-r) scale2d(1/s, s) rotate2d(r) with s = 2 and r = 0: out(q) = in(q_x / 2, 2 q_y).
    const S = 16;
    const rx = applyAugment(
      ramp(0.1, 0),
      shapeOf(1, S),
      one((p) => (p.aniso[0] = 5)),
    );
    const ry = applyAugment(
      ramp(0, 0.05),
      shapeOf(1, S),
      one((p) => (p.aniso[0] = 5)),
    );
    for (let y = 6; y < 10; y++) {
      for (let x = 4; x < 12; x++) {
        expect(Math.abs(px(rx, S, 1, y, x) - 0.05 * (x - 7.5))).toBeLessThan(0.006);
        expect(Math.abs(px(ry, S, 1, y, x) - 0.1 * (y - 7.5))).toBeLessThan(0.006);
      }
    }
    const L = augmentLabels(one((p) => ((p.aniso[0] = 2), (p.anisoAngle[0] = Math.PI / 3))));
    expect(label(L, 0, 5)).toBeCloseTo(2 * 0.5, 6);
    expect(label(L, 0, 6)).toBeCloseTo((2 * Math.sqrt(3)) / 2, 6);
  });
});

describe('resampling of untransformed images', () => {
  it('is the identity (sym6 is orthogonal), so copying them instead, as augment.ts does, matches EDM', () => {
    const S = 16;
    const img = blobs(S);
    const r = applyAugment(
      img,
      shapeOf(1, S),
      one((p) => (p.tx[0] = 1e-9)),
    );
    expect(maxDiff(r, img)).toBeLessThan(1e-6);
    const pair = noAugment(2);
    pair.rotate[0] = 1;
    const both = applyAugment(new Float32Array([...img, ...img]), shapeOf(2, S), pair);
    expect(both.subarray(S * S)).toEqual(img);
  });
});

describe("EDM's draws (train.py: p = 0.12, xflip multiplier 1e8, the rest 1)", () => {
  const n = 20000;
  const L = augmentLabels(drawEdmParams(n, EDM_PIPE, 0.12, draws(2024)));
  const slot = (s: number) => Float64Array.from({ length: n }, (_, i) => label(L, i, s));
  const frac = (v: Float64Array) => v.filter((x) => x !== 0).length / n;
  const nonzero = (v: Float64Array) => v.filter((x) => x !== 0);
  const mean = (v: Float64Array) => v.reduce((s, x) => s + x, 0) / v.length;
  const std = (v: Float64Array) => Math.sqrt(mean(v.map((x) => x * x)) - mean(v) ** 2);
  // Binomial standard error at n = 20000 is at most 0.0036; 0.012 is over 3 of them.
  it('x-flips half of all images (1e8 * p saturates the gate); y-flips p / 2', () => {
    expect(frac(slot(0))).toBeCloseTo(0.5, 1);
    expect(Math.abs(frac(slot(0)) - 0.5)).toBeLessThan(0.012);
    expect(Math.abs(frac(slot(1)) - 0.06)).toBeLessThan(0.012);
    expect(new Set(slot(0))).toEqual(new Set([0, 1]));
  });
  it('scale, rotation, anisotropy and translation each act on a fraction p, with standard-normal / uniform values', () => {
    for (const s of [2, 3, 4, 5, 7]) expect(Math.abs(frac(slot(s)) - 0.12)).toBeLessThan(0.012);
    expect(Math.abs(frac(slot(6)) - 0.06)).toBeLessThan(0.012); // the direction is kept with probability 0.5
    for (let i = 0; i < n; i++) expect(label(L, i, 7) !== 0).toBe(label(L, i, 8) !== 0); // one gate for x and y
    for (const s of [2, 7, 8]) {
      expect(Math.abs(mean(nonzero(slot(s))))).toBeLessThan(0.1);
      expect(Math.abs(std(nonzero(slot(s))) - 1)).toBeLessThan(0.06);
    }
    // Angles uniform on [-pi, pi): E[cos] = 0, so cos - 1 averages -1 and lies in [-2, 0].
    const c = nonzero(slot(3));
    expect(Math.abs(mean(c) + 1)).toBeLessThan(0.06);
    expect(Math.min(...c)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...c)).toBeLessThanOrEqual(0);
  });
  it('p = 1 keeps every draw of the p-gated transforms', () => {
    const L1 = augmentLabels(drawEdmParams(2000, EDM_PIPE, 1, draws(1)));
    for (const s of [2, 3, 5, 7]) expect(Array.from({ length: 2000 }, (_, i) => label(L1, i, s)).every((v) => v !== 0)).toBe(true);
  });
});

describe('determinism', () => {
  it('the same seed gives the same images and labels; another seed does not', () => {
    const n = 32;
    const imgs = Float32Array.from({ length: n * 12 * 12 * 3 }, (_, i) => Math.cos(i * 0.3));
    const run = (seed: number) => augmentBatch(imgs, shapeOf(n, 12, 3), { pipe: 'edm', p: 0.5, draws: draws(seed) });
    const a = run(9);
    expect(run(9)).toEqual(a);
    expect(run(10).labels).not.toEqual(a.labels);
    expect(a.images).not.toEqual(imgs);
  });
});

describe('augment_pipe setting', () => {
  it('defaults to xflip and refuses unknown names', () => {
    expect(augmentPipeOf({})).toBe('xflip');
    expect(augmentPipeOf({ augment_pipe: 'edm' })).toBe('edm');
    expect(() => augmentPipeOf({ augment_pipe: 'ada' })).toThrow(/unknown augment_pipe/);
  });
});

describe('in the training loop', () => {
  beforeAll(async () => {
    await selectBackend({ name: 'wasm', log: () => {} });
  });

  it("batchCond passes the label rows to the network's augment input (zeros after 9, the first entries before)", () => {
    const rows = Float32Array.from({ length: 2 * AUGMENT_LABELS }, (_, i) => i + 1);
    const cond = (k: number) => {
      const mod = { config: { classes: 0, augment: k } } as unknown as ModelModule;
      const c = batchCond(mod, undefined, tf.zeros([2]) as tf.Tensor1D, rows);
      return Array.from(c.augment!.dataSync());
    };
    expect(cond(9)).toEqual(Array.from(rows));
    expect(cond(10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 10, 11, 12, 13, 14, 15, 16, 17, 18, 0]);
    expect(cond(1)).toEqual([1, 10]);
  });

  it('a run with the EDM pipe resumes exactly: 2 + 2 steps give the tensors of 4', async () => {
    const mod = (await compileAndImport(fixture('edm-tiny-augment.unet'))) as unknown as ModelModule;
    expect(mod.config.training).toMatchObject({ augment_p: 1, augment_pipe: 'edm' });
    const S = mod.config.imageSize;
    const images = Float32Array.from({ length: 16 * S * S * 3 }, (_, i) => Math.sin(i * 0.37) * 0.9);
    const data: Dataset = {
      images,
      labels: Int32Array.from({ length: 16 }, (_, i) => i % 10),
      n: 16,
      height: S,
      width: S,
      channels: 3,
      classes: 10,
      source: 'synthetic',
    };
    const common = { data, batch: 4, seed: 3, sampleEvery: 1000, sampleCount: 1, sampleSteps: 1, log: () => {}, progress: false };
    const a = mkdtempSync(join(tmpdir(), 'unetc-augment-'));
    const b = mkdtempSync(join(tmpdir(), 'unetc-augment-'));
    await trainRun(mod, { ...common, outDir: a, steps: 4 });
    await trainRun(mod, { ...common, outDir: b, steps: 2 });
    const r = await trainRun(mod, { ...common, outDir: b, steps: 4, resume: true });
    expect(r.resumedFrom).toBe(2);
    const ta = readSafetensorsFile(join(a, 'checkpoints', 'step-0000004.safetensors'));
    const tb = readSafetensorsFile(join(b, 'checkpoints', 'step-0000004.safetensors'));
    for (const [k, t] of ta.tensors) expect(Buffer.from(tb.tensors.get(k)!.data.buffer).equals(Buffer.from(t.data.buffer)), k).toBe(true);
    expect(readFileSync(join(b, 'loss.jsonl'), 'utf8')).toBe(readFileSync(join(a, 'loss.jsonl'), 'utf8'));
  }, 300_000);
});
