/**
 * The text listing of an elaborated model that `unetc diff` compares: one line per module with its
 * path, kind, shapes, parameter count and the conditioning of its block. Paths are stable across
 * specs (enc.16x16.block0.attn.qkv), so corresponding modules line up.
 */
import type { IR, Module } from '../ir/types.ts';
import { moduleParams } from './params.ts';

export interface ListingLine {
  path: string;
  text: string;
  module: Module;
}

function shapes(m: Module): string {
  return m.params.map((p) => `${p.name}[${p.shape.join('x')}]${p.trainable ? '' : ' frozen'}`).join(' ');
}

export function listing(ir: IR): ListingLine[] {
  // Layers a conditioning adds are tagged, so "which layers condition" reads off the listing.
  return ir.modules.map((m) => ({
    path: m.path,
    module: m,
    text: `${m.path}  ${m.kind}  ${shapes(m) || '-'}  ${moduleParams(m).toLocaleString('en-US')}${m.role === 'conditioning' ? '  [conditioning]' : ''}`,
  }));
}
