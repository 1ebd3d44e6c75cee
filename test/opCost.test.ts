/**
 * The analyses count FLOPs and activations from the typed ops (src/analysis/opCost.ts); the
 * builder records the same per layer as it creates each module (src/elaborate/layers.ts). Two
 * derivations from different sides: they agree block by block on every spec.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blockCost } from '../src/analysis/opCost.ts';
import { checkSpec } from '../src/pipeline.ts';
import { specFiles, SPECS_DIR } from './helpers.ts';

describe('FLOPs and activations from the ops', () => {
  it.each(specFiles())('%s: every block as the builder counted its layers', (f) => {
    const ir = checkSpec(join(SPECS_DIR, f)).ir!;
    for (const b of ir.blocks) {
      const mods = ir.modules.filter((m) => m.block === b.path);
      const c = blockCost(b);
      expect(c.flops, b.path).toBe(mods.reduce((a, m) => a + m.flops, 0));
      expect(c.kept, b.path).toBe(mods.reduce((a, m) => a + m.outputElems, 0));
      expect(c.largest, b.path).toBe(mods.reduce((a, m) => Math.max(a, m.outputElems), 0));
      expect(c.attentionFlops, b.path).toBe(mods.filter((m) => m.kind === 'attention_core').reduce((a, m) => a + m.flops, 0));
    }
  });

  it('a 3x3 conv of 4 -> 8 channels at 16x16 costs 2 * 9 * 4 * 8 * 256 FLOPs (hand count)', () => {
    const text = `model t {\n  input {\n    size: 16\n    channels: 4\n  }\n  diffusion {\n    process: ddpm\n  }\n  embedding {\n    noise: sinusoidal(dim: 8)\n  }\n  unet {\n    channels: 8\n    mult: [1]\n    blocks: 0\n    decoder_blocks: 0\n    middle: []\n    skips: none\n    head: conv(kernel: 3, norm: false)\n  }\n}\n`;
    const r = checkSpec(join(SPECS_DIR, 't.unet'), { text });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const stem = r.ir!.blocks.find((b) => b.op.op === 'stem')!;
    expect(blockCost(stem).flops).toBe(2 * 9 * 4 * 8 * 256);
    expect(blockCost(stem).kept).toBe(8 * 256);
  });
});
