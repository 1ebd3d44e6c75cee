import type { IR } from '../ir/types.ts';

/**
 * What a model takes and how it is trained, from its IR: the `config` of the generated model.ts
 * and the `config` metadata of `unetc export`'s weights file.
 */
export function modelConfig(ir: IR) {
  return {
    name: ir.name,
    imageSize: ir.input.size,
    channels: ir.input.channels,
    outChannels: ir.blocks[ir.blocks.length - 1].out.c,
    classes: ir.input.classes,
    augment: ir.input.augment,
    embedDim: ir.embedDim,
    diffusion: ir.diffusion,
    training: ir.training,
  };
}
