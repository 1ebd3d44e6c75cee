/**
 * Initialisation per tensor, against the reference definitions: EDM's networks.py weight_init
 * (xavier_uniform sqrt(6 / (fan_in + fan_out)) U(-1, 1) times init_weight; init_zero 1e-5,
 * init_attn sqrt(0.2); biases times init_bias = 0), PyTorch's default for IDDPM (U(+-1/sqrt(fan_in))
 * for weights and biases, zero_module exact zeros), and the LoRA paper's training/nn.py and
 * training/lora.py for UC-LoRA (kaiming_normal MLP weights, zero biases, GroupNorm eps 1e-5;
 * A ~ N(0, 1/r), B = 0, Bias = 0). Then the statistics of tensors drawn from those inits, and
 * the learning-rate and EMA ramps at steps 0 and 1 (EDM's training_loop.py, improved
 * diffusion's train_util.py).
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkSpec } from '../src/pipeline.ts';
import type { Init, IR, Param, ResBlockOp, UcLoraOp } from '../src/ir/types.ts';
import { ParamStore } from '../src/runtime/model/params.ts';
import { Adam, emaBeta } from '../src/runtime/train/optimizer.ts';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { SPECS_DIR } from './helpers.ts';

beforeAll(async () => {
  await selectBackend({ name: 'cpu', log: () => {} });
});

const irOf = (spec: string): IR => checkSpec(join(SPECS_DIR, spec)).ir!;
function paramOf(ir: IR, name: string): Param {
  for (const m of ir.modules) for (const p of m.params) if (`${m.path}.${p.name}` === name) return p;
  throw new Error(`no ${name}`);
}
const initOf = (ir: IR, name: string): Init => paramOf(ir, name).init;

/** Mean, standard deviation and largest magnitude of a parameter drawn from its init. */
function drawn(ir: IR, name: string): { mean: number; std: number; max: number } {
  const p = paramOf(ir, name);
  const store = new ParamStore([{ name, shape: p.shape, init: p.init, trainable: true, layout: p.layout }], 3);
  const v = store.get(name).dataSync();
  store.dispose();
  let s = 0;
  let s2 = 0;
  let max = 0;
  for (const x of v) {
    s += x;
    s2 += x * x;
    max = Math.max(max, Math.abs(x));
  }
  const mean = s / v.length;
  return { mean, std: Math.sqrt(s2 / v.length - mean * mean), max };
}

describe('EDM (init: edm)', () => {
  const ir = irOf('edm-cifar10.unet');
  it('names every tensor as networks.py initialises it', () => {
    // conv0 of the first 128 -> 256 block: fan_in 128 * 9, fan_out 256 * 9.
    expect(initOf(ir, 'enc.32x32.block0.conv0.weight')).toEqual({ fn: 'xavier_uniform', fanIn: 1152, fanOut: 2304, gain: 1 });
    expect(initOf(ir, 'enc.32x32.block0.conv1.weight')).toEqual({ fn: 'xavier_uniform', fanIn: 2304, fanOut: 2304, gain: 1e-5 });
    expect(initOf(ir, 'enc.32x32.block0.skip.weight')).toEqual({ fn: 'xavier_uniform', fanIn: 128, fanOut: 256, gain: 1 });
    expect(initOf(ir, 'enc.16x16.block0.attn.qkv.weight')).toEqual({ fn: 'xavier_uniform', fanIn: 256, fanOut: 768, gain: Math.sqrt(0.2) });
    expect(initOf(ir, 'enc.16x16.block0.attn.proj.weight')).toEqual({ fn: 'xavier_uniform', fanIn: 256, fanOut: 256, gain: 1e-5 });
    expect(initOf(ir, 'out.conv.weight')).toEqual({ fn: 'xavier_uniform', fanIn: 2304, fanOut: 27, gain: 1e-5 });
    expect(initOf(ir, 'emb.mlp0.weight')).toEqual({ fn: 'xavier_uniform', fanIn: 128, fanOut: 512, gain: 1 });
    expect(initOf(ir, 'enc.32x32.block0.emb.weight')).toEqual({ fn: 'xavier_uniform', fanIn: 512, fanOut: 256, gain: 1 });
    for (const name of [
      'enc.32x32.block0.conv0.bias',
      'enc.32x32.block0.conv1.bias',
      'enc.16x16.block0.attn.qkv.bias',
      'emb.mlp0.bias',
      'out.conv.bias',
    ]) {
      expect(initOf(ir, name), name).toEqual({ fn: 'zeros' });
    }
    expect(initOf(ir, 'enc.32x32.block0.norm0.weight')).toEqual({ fn: 'ones' });
  });
  it('draws xavier_uniform tensors with std gain sqrt(2 / (fan_in + fan_out)) and bound gain sqrt(6 / (fan_in + fan_out))', () => {
    for (const [name, fi, fo, gain] of [
      ['enc.32x32.block0.conv0.weight', 1152, 2304, 1],
      ['enc.16x16.block0.attn.qkv.weight', 256, 768, Math.sqrt(0.2)],
      ['enc.16x16.block0.attn.proj.weight', 256, 256, 1e-5],
    ] as const) {
      const d = drawn(ir, name);
      expect(d.std / (gain * Math.sqrt(2 / (fi + fo))), name).toBeGreaterThan(0.98);
      expect(d.std / (gain * Math.sqrt(2 / (fi + fo))), name).toBeLessThan(1.02);
      expect(d.max, name).toBeLessThanOrEqual(gain * Math.sqrt(6 / (fi + fo)));
    }
    expect(drawn(ir, 'enc.32x32.block0.conv1.bias').max).toBe(0);
  });
});

describe('IDDPM (PyTorch defaults, zero_module)', () => {
  const ir = irOf('iddpm-cifar10.unet');
  it('draws conv weights and biases from U(+-1/sqrt(fan_in)); zero_module layers are exactly zero', () => {
    const fanIn = 128 * 9; // enc.32x32.block0.conv0: 128 -> 128, 3x3
    const d = drawn(ir, 'enc.32x32.block0.conv0.weight');
    expect(d.max).toBeLessThanOrEqual(1 / Math.sqrt(fanIn));
    expect(d.std * Math.sqrt(3) * Math.sqrt(fanIn)).toBeGreaterThan(0.98); // uniform: std = bound / sqrt(3)
    expect(d.std * Math.sqrt(3) * Math.sqrt(fanIn)).toBeLessThan(1.02);
    const b = drawn(ir, 'enc.32x32.block0.conv0.bias');
    expect(b.max).toBeLessThanOrEqual(1 / Math.sqrt(fanIn));
    expect(b.max).toBeGreaterThan(0);
    for (const name of [
      'enc.32x32.block0.conv1.weight',
      'enc.32x32.block0.conv1.bias',
      'enc.16x16.block0.attn.proj.weight',
      'out.conv.weight',
      'out.conv.bias',
    ]) {
      expect(initOf(ir, name), name).toEqual({ fn: 'zeros' });
    }
  });
});

describe("UC-LoRA (the LoRA paper's training/lora.py and training/nn.py)", () => {
  const ir = irOf('edm-cifar10-with-lora.unet');
  const site = 'enc.16x16.block0.attn.qkv.uc_lora';
  it('MLP: kaiming_normal weights (std sqrt(1/fan_in)), zero biases, GroupNorm eps 1e-5 with min(32, C/4) groups', () => {
    expect(initOf(ir, `${site}.mlp0.weight`)).toEqual({ fn: 'kaiming_normal', fanIn: 512, fanOut: 128, gain: 1 });
    expect(initOf(ir, `${site}.mlp0.bias`)).toEqual({ fn: 'zeros' });
    expect(initOf(ir, `${site}.mlp2.weight`)).toEqual({ fn: 'kaiming_normal', fanIn: 64, fanOut: 18, gain: 1 });
    const d = drawn(ir, `${site}.mlp0.weight`);
    expect(d.std * Math.sqrt(512)).toBeGreaterThan(0.97);
    expect(d.std * Math.sqrt(512)).toBeLessThan(1.03);
    const op = ir.blocks.find((b) => b.path === 'enc.16x16.block0')!.op as ResBlockOp;
    const uc = op.attention!.qkv.lora[0] as UcLoraOp;
    expect(uc.hidden.map((h) => [h.norm.groups, h.norm.eps])).toEqual([
      [32, 1e-5],
      [16, 1e-5],
    ]);
    expect(uc.scale).toBe(1);
  });
  it('A ~ N(0, std 1/r), B = 0, Bias = 0: a fresh LoRA model computes the base model', () => {
    expect(initOf(ir, `${site}.down`)).toEqual({ fn: 'normal', std: 0.25 });
    expect(initOf(ir, `${site}.up`)).toEqual({ fn: 'zeros' });
    expect(initOf(ir, `${site}.bias`)).toEqual({ fn: 'zeros' });
    const d = drawn(ir, `${site}.down`);
    expect(d.std / 0.25).toBeGreaterThan(0.97);
    expect(d.std / 0.25).toBeLessThan(1.03);
  });
});

describe('learning-rate and EMA ramps at steps 0 and 1', () => {
  const adam = (ramp: 'before_step' | 'after_step') =>
    new Adam({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, warmup: 10, ramp }, new Map());
  it('EDM (before_step): lr lr0 min(images before the step / ramp images, 1): 0 at the first step', () => {
    expect(adam('before_step').lrAt(0)).toBe(0);
    expect(adam('before_step').lrAt(1)).toBeCloseTo(1e-4, 15);
    expect(adam('after_step').lrAt(0)).toBeCloseTo(1e-4, 15);
    expect(adam('after_step').lrAt(1)).toBeCloseTo(2e-4, 15);
  });
  it('EDM EMA: half-life min(500 kimg, 0.05 x images before the step); beta 0 at the first step', () => {
    const o = { halflifeKimg: 500, batch: 512, warmupRatio: 0.05, ramp: 'before_step' as const };
    expect(emaBeta({ ...o, step: 0 })).toBe(0);
    expect(emaBeta({ ...o, step: 1 })).toBeCloseTo(0.5 ** (512 / 25.6), 15); // 0.5^20
    expect(emaBeta({ ...o, step: 1, ramp: 'after_step' })).toBeCloseTo(0.5 ** 10, 15); // 2 x 512 x 0.05 = 51.2
  });
  it('improved-diffusion EMA: 0.9999 from the first step (ema_warmup false); the warm-up keeps (1 + k) / (10 + k)', () => {
    expect(emaBeta({ ema: 0.9999, batch: 128, step: 0, warmup: false })).toBe(0.9999);
    expect(emaBeta({ ema: 0.9999, batch: 128, step: 1, warmup: false })).toBe(0.9999);
    expect(emaBeta({ ema: 0.9999, batch: 128, step: 0 })).toBeCloseTo(0.1, 15);
    expect(emaBeta({ ema: 0.9999, batch: 128, step: 1 })).toBeCloseTo(2 / 11, 15);
    expect(irOf('iddpm-cifar10.unet').training.ema_warmup).toBe(false);
  });
});
