/**
 * Forward FLOPs (multiply-adds x 2) and the activations one forward pass keeps, per block at
 * batch 1, read from the block's typed op and its input shape: what the runtime computes, counted
 * as it runs it (LoRA in the cheaper of its two exact formulations, src/runtime/model/lora.ts).
 */
import type { Block, ConvOp, LinearOp, LoraOp, NormOp, Shape } from '../ir/types.ts';

export interface OpCost {
  flops: number;
  attentionFlops: number;
  /** Floats of every intermediate output (kept for the backward pass). */
  kept: number;
  /** The largest single intermediate output. */
  largest: number;
}

class Tally implements OpCost {
  flops = 0;
  attentionFlops = 0;
  kept = 0;
  largest = 0;
  add(flops: number, outputs: number): void {
    this.flops += flops;
    this.kept += outputs;
    this.largest = Math.max(this.largest, outputs);
  }
  linear(l: LinearOp): void {
    this.add(2 * l.din * l.dout, l.dout);
  }
  norm(n: NormOp | null, s: Shape): void {
    if (n) this.add(8 * s.c * s.h * s.w, s.c * s.h * s.w);
  }
  /** A conv producing `out` (its LoRA layers included). */
  conv(c: ConvOp, out: Shape): void {
    const hw = out.h * out.w;
    this.add(2 * c.kernel * c.kernel * c.cin * c.cout * hw, c.cout * hw);
    for (const l of c.lora) this.lora(l, c, hw);
  }
  /**
   * Per unit of bases x rank, the down/up path costs H W (k^2 C_in + C_out) multiply-adds and
   * per-sample weights k^2 C_in C_out (their conv is the target conv, counted there): the cheaper.
   */
  lora(l: LoraOp, c: ConvOp, hw: number): void {
    const fanIn = c.cin * c.kernel * c.kernel;
    const width = l.rank * (l.kind === 'class_lora' ? l.classes : l.bases);
    let flops = 2 * width * Math.min(hw * (fanIn + c.cout), fanIn * c.cout);
    if (l.kind === 'uc_lora') {
      if (l.bias) flops += 2 * width * c.cout; // omega_rep Bias: once per sample
      for (const h of l.hidden) {
        this.linear(h.linear);
        this.norm(h.norm, { c: h.linear.dout, h: 1, w: 1 });
      }
      this.linear(l.out);
    }
    this.add(flops, c.cout * hw);
  }
}

const half = (s: Shape): Shape => ({ c: s.c, h: Math.floor(s.h / 2), w: Math.floor(s.w / 2) });
const twice = (s: Shape): Shape => ({ c: s.c, h: s.h * 2, w: s.w * 2 });

export function blockCost(b: Block): OpCost {
  const t = new Tally();
  const op = b.op;
  switch (op.op) {
    case 'embedding': {
      t.add(op.noise.table ? 0 : 4 * op.noise.dim, op.noise.dim);
      if (op.label?.table) t.add(0, op.label.at === 'input' ? op.noise.dim : b.out.c);
      if (op.label?.linear) t.linear(op.label.linear);
      if (op.augment) t.linear(op.augment);
      op.mlp.forEach((l) => t.linear(l));
      break;
    }
    case 'stem':
      t.conv(op.conv, { ...b.in, c: op.conv.cout });
      break;
    case 'head':
      t.norm(op.norm, b.in);
      t.conv(op.conv, { ...b.in, c: op.conv.cout });
      break;
    case 'resample': {
      const out = b.out;
      const elems = out.c * out.h * out.w;
      if (op.mode === 'conv') t.conv(op.conv, out);
      else if (op.mode === 'conv_transpose')
        t.add(2 * op.conv.kernel ** 2 * op.conv.cin * op.conv.cout * b.in.h * b.in.w, op.conv.cout * out.h * out.w);
      else if (op.mode === 'nearest_conv') {
        t.add(2 * elems, elems);
        t.conv(op.conv, out);
      } else t.add(2 * (op.mode === 'avgpool' ? 4 : 1) * elems, elems);
      break;
    }
    case 'res_block': {
      op.modulation?.mlp.forEach((l) => t.linear(l));
      let cur: Shape = { ...b.in };
      op.convs.forEach((c, i) => {
        t.norm(op.norms[i], cur);
        const resampled = i === 0 && op.resample ? (op.resample.mode === 'down' ? half(cur) : twice(cur)) : cur;
        cur = { ...resampled, c: c.cout };
        t.conv(c, cur);
      });
      if (op.skip) t.conv(op.skip, { ...(op.resample ? (op.resample.mode === 'down' ? half(b.in) : twice(b.in)) : b.in), c: op.skip.cout });
      const a = op.attention;
      if (a) {
        const hw = cur.h * cur.w;
        const C = cur.c;
        t.norm(a.norm, cur);
        if (a.adaln) t.linear(a.adaln);
        t.conv(a.qkv, { ...cur, c: a.qkv.cout });
        const core = 4 * hw * hw * C + 5 * a.heads * hw * hw;
        t.add(core, C * hw + a.heads * hw * hw);
        t.attentionFlops += core;
        t.conv(a.proj, cur);
      }
      break;
    }
  }
  return t;
}
