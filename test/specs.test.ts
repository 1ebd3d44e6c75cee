/** Every spec in specs/ checks clean, elaborates to IR that satisfies the IR JSON Schema, and says what DESIGN.md asks. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../src/pipeline.ts';
import { irErrors } from '../src/ir/validate.ts';
import { SPECS_DIR, specFiles } from './helpers.ts';

const REQUIRED = [
  'nano-mnist.unet',
  'nano-mnist-scale-shift.unet',
  'nano-mnist-time-lora.unet',
  'nano-mnist-uc-lora.unet',
  'iddpm-cifar10.unet',
  'iddpm-cifar10-only-lora.unet',
  'iddpm-cifar10-with-lora.unet',
  'iddpm-imagenet64.unet',
  'iddpm-imagenet64-only-lora.unet',
  'iddpm-imagenet64-with-lora.unet',
  'edm-cifar10.unet',
  'edm-cifar10-only-lora.unet',
  'edm-cifar10-with-lora.unet',
  'edm-ffhq64.unet',
  'edm-ffhq64-only-lora.unet',
  'edm-ffhq64-with-lora.unet',
  'edm-cifar10-adaln.unet',
  'attn-unet-mnist.unet',
  'attn-unet-mnist-uc-lora.unet',
];

describe('specs/', () => {
  it('has every required spec, and class-conditional families for IDDPM and EDM CIFAR-10', () => {
    const have = specFiles();
    for (const f of REQUIRED) expect(have).toContain(f);
    expect(have.filter((f) => f.startsWith('iddpm-cifar10-cond')).length).toBeGreaterThanOrEqual(3);
    expect(have.filter((f) => f.startsWith('edm-cifar10-cond')).length).toBeGreaterThanOrEqual(3);
  });

  for (const f of specFiles()) {
    it(`${f} checks clean and its IR is schema-valid`, () => {
      const r = checkSpec(join(SPECS_DIR, f));
      expect(r.diagnostics).toEqual([]);
      expect(r.ir).toBeDefined();
      expect(irErrors(r.ir)).toEqual([]);
      expect(irErrors(JSON.parse(JSON.stringify(r.ir)))).toEqual([]);
    });
  }
});

describe('IR', () => {
  const ir = checkSpec(join(SPECS_DIR, 'edm-cifar10-with-lora.unet')).ir!;
  it('names modules by path like EDM does', () => {
    const paths = ir.modules.map((m) => m.path);
    expect(paths).toContain('enc.16x16.block0.attn.qkv');
    expect(paths).toContain('enc.16x16.block0.attn.qkv.uc_lora');
    expect(new Set(paths).size).toBe(paths.length);
  });
  it('EDM CIFAR-10 has 33 residual blocks and 6 attention blocks (architectures.md)', () => {
    expect(ir.blocks.filter((b) => b.kind === 'res').length).toBe(33);
    expect(ir.blocks.filter((b) => b.attention).length).toBe(6);
    // 12 LoRA layers: qkv and proj of each attention block.
    expect(ir.modules.filter((m) => m.kind === 'uc_lora').length).toBe(12);
  });
  it('the schema rejects a broken IR', () => {
    const copy = () => JSON.parse(JSON.stringify(ir));
    const negative = copy();
    negative.modules.find((m: { params: unknown[] }) => m.params.length > 0).params[0].shape = [-1];
    expect(irErrors(negative).join()).toMatch(/shape/);
    const missing = copy();
    delete missing.blocks[0].out;
    expect(irErrors(missing).join()).toMatch(/out/);
    const extra = copy();
    extra.modules[0].typo = 1;
    expect(irErrors(extra).join()).toMatch(/additional/);
  });
  it('IDDPM only-LoRA leaves out the time MLP nothing reads', () => {
    const only = checkSpec(join(SPECS_DIR, 'iddpm-cifar10-only-lora.unet')).ir!;
    expect(only.elided).toEqual(expect.arrayContaining(['emb.mlp0', 'emb.mlp1']));
    expect(only.modules.some((m) => m.path.startsWith('emb.'))).toBe(false);
  });
});
