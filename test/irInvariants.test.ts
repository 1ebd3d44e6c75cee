/**
 * The IR invariants (src/ir/invariants.ts): every parameter is read by exactly one op and every
 * tensor an op names exists. Every spec's IR satisfies them; IRs broken by hand in each way are
 * caught, on build and on read (irErrors).
 */
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../src/pipeline.ts';
import { invariantErrors } from '../src/ir/invariants.ts';
import type { IR, ResBlockOp } from '../src/ir/types.ts';
import { irErrors } from '../src/ir/validate.ts';
import { specFiles, SPECS_DIR } from './helpers.ts';
import { join } from 'node:path';

const irOf = (spec: string): IR => {
  const r = checkSpec(join(SPECS_DIR, spec));
  expect(r.ir, spec).toBeDefined();
  return structuredClone(r.ir!);
};

describe('IR invariants', () => {
  it.each(specFiles())('%s: every parameter is read by exactly one op, and the IR is schema-valid', (f) => {
    const ir = irOf(f);
    expect(invariantErrors(ir)).toEqual([]);
    expect(irErrors(ir)).toEqual([]);
  });

  it('catch a conditioning allocated but never applied (a LoRA removed from its conv op)', () => {
    const ir = irOf('attn-unet-mnist-uc-lora.unet');
    const b = ir.blocks.find((x) => x.op.op === 'res_block' && x.op.attention?.qkv.lora.length)!;
    (b.op as ResBlockOp).attention!.qkv.lora = [];
    const errs = invariantErrors(ir);
    expect(errs).toContain(`no op reads ${b.path}.attn.qkv.uc_lora.down`);
    expect(errs.some((e) => e.includes('uc_lora.mlp0.weight'))).toBe(true);
    expect(irErrors(ir).length).toBeGreaterThan(0);
  });

  it('catch a tensor read twice and a tensor that does not exist', () => {
    const ir = irOf('nano-mnist.unet');
    const b = ir.blocks.find((x) => x.op.op === 'res_block')!;
    const op = b.op as ResBlockOp;
    op.convs[1].weight = op.convs[0].weight;
    const errs = invariantErrors(ir);
    expect(errs).toContain(`${b.path}.conv0.weight is read by 2 ops`);
    expect(errs).toContain(`no op reads ${b.path}.conv1.weight`);
    op.convs[1].bias = 'conv9.bias';
    expect(invariantErrors(ir)).toContain(`${b.path} reads ${b.path}.conv9.bias, which is no parameter`);
  });

  it('catch a modulation at norm1 on a block with one conv', () => {
    const ir = irOf('iddpm-cifar10.unet');
    const b = ir.blocks.find((x) => x.op.op === 'res_block' && x.op.modulation?.at === 'norm1')!;
    const op = b.op as ResBlockOp;
    op.convs = op.convs.slice(0, 1);
    op.norms = op.norms.slice(0, 1);
    expect(invariantErrors(ir)).toContain(`${b.path} modulates norm1 but has 1 conv`);
  });
});
