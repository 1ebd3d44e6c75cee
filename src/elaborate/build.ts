/**
 * The builder: a shape plan without problems -> IR. Expands each planned block into its layers
 * (modules with parameters and inits) and the typed op that reads them, plus the layers its
 * conditioning adds. It reports nothing: every way a spec can be wrong was reported by a rule
 * over the settings or the plan (src/check/rules/), and the pipeline builds only a clean plan.
 */
import type { Plan, PlannedBlock } from '../check/plan.ts';
import { groupsFor, LORA_KINDS, targetNames } from '../check/plan.ts';
import type { CondSettings, NormSettings, Settings } from '../check/settings.ts';
import type { Block, BlockOp, ConvOp, EmbeddingOp, IR, LinearOp, Module, NormOp, Ref, ResBlockOp, Shape } from '../ir/types.ts';
import { conditioningRef, loraModules } from './conditioning.ts';
import {
  attentionCore,
  conv2d,
  convTranspose2d,
  embeddingTable,
  groupNorm,
  layerNorm,
  linear,
  noiseEmbedding,
  resample,
  type Built,
  type Ctx,
} from './layers.ts';

export function buildModel(s: Settings, plan: Plan): IR {
  return new Builder(s, plan).run();
}

class Builder {
  private readonly modules: Module[] = [];
  private readonly blocks: Block[] = [];

  constructor(
    private readonly s: Settings,
    private readonly plan: Plan,
  ) {}

  run(): IR {
    const s = this.s;
    const elided: string[] = [];
    this.buildEmbedding(this.plan.vUsed, elided);
    for (const p of this.plan.blocks) this.buildBlock(p);
    return {
      irVersion: 2,
      name: s.name,
      input: { size: s.input.size, channels: s.input.channels, classes: s.input.classes, augment: s.input.augment },
      diffusion: { ...s.diffusion },
      training: { ...s.training },
      embedDim: this.plan.vUsed ? this.plan.embedDim : 0,
      blocks: this.blocks,
      modules: this.modules,
      elided,
    };
  }

  private ctx(block: string, role: Module['role'] = 'base', trainable = true): Ctx {
    return { block, role, trainable, init: this.s.unet.init };
  }

  private buildEmbedding(vUsed: boolean, elided: string[]): void {
    const s = this.s;
    const e = s.embedding;
    const ctx = this.ctx('emb');
    const { mods, take } = collector();
    let table: Ref | undefined;
    if (e.noise.kind === 'table') {
      const T = typeof s.diffusion.T === 'number' ? s.diffusion.T : 0;
      table = take(
        embeddingTable({ ...ctx, trainable: !e.noise.frozen }, 'emb.noise', T, e.noise.dim, { fn: 'sinusoidal' }, !e.noise.frozen),
      );
    } else {
      mods.push(noiseEmbedding(ctx, 'emb.noise', e.noise.dim));
    }
    const nd = e.noise.dim;
    const E = this.plan.embedDim;
    let label: EmbeddingOp['label'];
    if (e.label.kind !== 'none' && s.input.classes > 0) {
      const d = e.label.at === 'input' ? nd : E;
      label =
        e.label.kind === 'embedding'
          ? {
              at: e.label.at,
              scale: e.labelScale,
              table: take(embeddingTable(ctx, 'emb.label', s.input.classes, d, { fn: 'normal', std: 1 }, true)),
            }
          : { at: e.label.at, scale: e.labelScale, linear: take(linear(ctx, 'emb.label', s.input.classes, d, { bias: e.label.bias })) };
    }
    const augment =
      e.augment.kind === 'linear' && s.input.augment > 0
        ? take(linear(ctx, 'emb.augment', s.input.augment, nd, { bias: e.augment.bias }))
        : undefined;
    let d = nd;
    const mlp = e.mlp.map((w, i) => {
      const l = take(linear(ctx, `emb.mlp${i}`, d, w));
      d = w;
      return l;
    });
    if (!vUsed) {
      elided.push(...mods.map((m) => m.path));
      return;
    }
    // improved-diffusion feeds the network t * 1000 / T (rescale_timesteps, its default); a table is indexed by t itself.
    const T = typeof s.diffusion.T === 'number' ? s.diffusion.T : 1000;
    const inputScale = s.diffusion.process === 'ddpm' && s.diffusion.rescale_timesteps !== false && e.noise.kind !== 'table' ? 1000 / T : 1;
    const op: EmbeddingOp = {
      op: 'embedding',
      noise: {
        kind: e.noise.kind as EmbeddingOp['noise']['kind'],
        dim: nd,
        maxPositions: e.noise.maxPositions,
        endpoint: e.noise.endpoint,
        flip: e.noise.flip,
        scale: e.noise.scale,
        inputScale,
        ...(table ? { table } : {}),
      },
      ...(label ? { label } : {}),
      ...(augment ? { augment } : {}),
      mlp,
      outAct: e.outAct,
    };
    this.modules.push(...mods);
    this.blocks.push({
      path: 'emb',
      kind: 'embedding',
      part: 'emb',
      in: { c: nd, h: 1, w: 1 },
      out: { c: E, h: 1, w: 1 },
      pushSkip: false,
      attention: false,
      conditioning: { residual: [], attention: [] },
      op,
      origin: { file: e.span.file, line: e.span.line },
    });
  }

  private norm(ctx: Ctx, path: string, n: NormSettings, s: Shape): Built<NormOp> | undefined {
    if (n.kind === 'none') return undefined;
    if (n.kind === 'layer') return layerNorm(ctx, path, s, n.eps, n.affine);
    return groupNorm(ctx, path, s.c, groupsFor(n, s.c), n.eps, n.affine, s.h * s.w);
  }

  private buildBlock(p: PlannedBlock): void {
    const s = this.s;
    const u = s.unet;
    const base = this.ctx(p.path);
    const condCtx = this.ctx(p.path, 'conditioning');
    const { mods, take } = collector();
    let out: Shape;
    const resCond = p.resCond;
    const attnCond = p.attnCond;
    let op: BlockOp;

    if (p.kind === 'stem') {
      op = { op: 'stem', conv: take(conv2d(base, `${p.path}.conv`, p.in.c, p.widths[0], u.stem.kernel, p.in)) };
      out = { c: p.widths[0], h: p.in.h, w: p.in.w };
    } else if (p.kind === 'down' || p.kind === 'up') {
      const r = p.kind === 'down' ? u.down : u.up;
      const newH = p.kind === 'down' ? p.in.h / 2 : p.in.h * 2;
      out = { c: p.in.c, h: newH, w: newH };
      if (r.kind === 'conv')
        op = { op: 'resample', mode: 'conv', conv: take(conv2d(base, `${p.path}.conv`, p.in.c, p.in.c, r.kernel, p.in, { stride: 2 })) };
      else if (r.kind === 'conv_transpose')
        op = {
          op: 'resample',
          mode: 'conv_transpose',
          conv: take(convTranspose2d(base, `${p.path}.conv`, p.in.c, p.in.c, r.kernel, p.in)),
        };
      else if (r.kind === 'nearest_conv') {
        mods.push(resample(base, `${p.path}.resample`, out, [1]));
        op = { op: 'resample', mode: 'nearest_conv', conv: take(conv2d(base, `${p.path}.conv`, p.in.c, p.in.c, r.kernel, out)) };
      } else {
        mods.push(resample(base, `${p.path}.resample`, out, r.kind === 'avgpool' ? [1, 1] : [1]));
        op = { op: 'resample', mode: r.kind === 'avgpool' ? 'avgpool' : 'nearest' };
      }
    } else if (p.kind === 'head') {
      const n = u.head.norm ? this.norm(base, `${p.path}.norm`, u.block.norm, p.in) : undefined;
      const norm = n ? take(n) : null;
      const conv = take(
        conv2d(base, `${p.path}.conv`, p.in.c, p.widths[0], u.head.kernel, p.in, { role: u.head.zeroInit ? 'zero' : 'plain' }),
      );
      op = { op: 'head', norm, conv };
      out = { c: p.widths[0], h: p.in.h, w: p.in.w };
    } else {
      // A residual (or plain) block.
      const b = u.block;
      const E = this.plan.embedDim;
      const modMlp: LinearOp[] = [];
      const mod = p.modulation;
      const addEmb = (c: CondSettings, target: number, path: string) => {
        let d = E;
        mod!.hidden.forEach((h, i) => {
          modMlp.push(take(linear(condCtx, `${path}${i}`, d, h)));
          d = h;
        });
        modMlp.push(
          take(
            linear(
              condCtx,
              mod!.hidden.length > 0 ? `${path}${mod!.hidden.length}` : path,
              d,
              c.kind === 'scale_shift' ? 2 * target : target,
            ),
          ),
        );
      };
      const at = mod?.at;
      if (mod && at === 'input') addEmb(mod.cond, p.in.c, `${p.path}.emb`);
      let c = p.in.c;
      let cur: Shape = { ...p.in };
      const norms: (NormOp | null)[] = [];
      const convs: ConvOp[] = [];
      p.widths.forEach((w, i) => {
        const n = this.norm(base, `${p.path}.norm${i}`, b.norm, cur);
        norms.push(n ? take(n) : null);
        const resampleHere = i === 0 ? p.resample : undefined;
        if (mod && at === 'norm1' && i === 1) addEmb(mod.cond, c, `${p.path}.emb`);
        const conv = take(
          conv2d(base, `${p.path}.conv${i}`, c, w, b.kernel, cur, {
            up: resampleHere === 'up',
            down: resampleHere === 'down',
            role: i === p.widths.length - 1 && b.residual ? 'zero' : 'plain',
          }),
        );
        convs.push(conv);
        const h = resampleHere === 'up' ? cur.h * 2 : resampleHere === 'down' ? cur.h / 2 : cur.h;
        cur = { c: w, h, w: h };
        if (mod && at === 'conv0' && i === 0) addEmb(mod.cond, w, `${p.path}.emb`);
        c = w;
      });
      const cout = p.widths[p.widths.length - 1];
      let skip: ConvOp | undefined;
      if (b.residual && (p.in.c !== cout || (b.skipProj === 'changed_or_resampled' && p.resample))) {
        skip = take(conv2d(base, `${p.path}.skip`, p.in.c, cout, 1, p.in, { up: p.resample === 'up', down: p.resample === 'down' }));
      }
      out = cur;
      let attention: ResBlockOp['attention'];
      if (p.attention) {
        const C = cout;
        const hw = cur.h * cur.w;
        const a = u.attention;
        const heads = p.heads!;
        const n = this.norm(base, `${p.path}.attn.norm`, a.norm, cur);
        const norm = n ? take(n) : null;
        const adaln = attnCond.some((x) => x.kind === 'adaln') ? take(linear(condCtx, `${p.path}.attn.adaln`, E, 2 * C)) : undefined;
        const qkv = take(conv2d(base, `${p.path}.attn.qkv`, C, 3 * C, 1, cur, { role: 'attn' }));
        mods.push(attentionCore(base, `${p.path}.attn.core`, C, heads, hw));
        const proj = take(conv2d(base, `${p.path}.attn.proj`, C, C, 1, cur, { role: 'zero' }));
        attention = { norm, ...(adaln ? { adaln } : {}), qkv, proj, heads, layout: a.qkvLayout, outputScale: b.scale };
        const ops: Record<string, ConvOp> = { qkv, proj };
        for (const lc of attnCond.filter((x) => LORA_KINDS.includes(x.kind))) {
          const names = targetNames(lc) ?? ['qkv', 'proj'];
          for (const t of p.attnConvs.filter((t) => names.includes(t.name))) this.addLora(condCtx, lc, t, ops[t.name], mods);
        }
      }
      for (const lc of resCond.filter((x) => LORA_KINDS.includes(x.kind))) {
        const names = targetNames(lc) ?? p.convs.map((t) => t.name);
        p.convs.forEach((t, i) => {
          if (names.includes(t.name)) this.addLora(condCtx, lc, t, convs[i], mods);
        });
      }
      op = {
        op: 'res_block',
        order: b.order,
        norms,
        convs,
        dropout: b.dropout,
        ...(p.resample ? { resample: { mode: p.resample, filter: u.resampleFilter } } : {}),
        residual: b.residual,
        ...(skip ? { skip } : {}),
        outputScale: b.scale,
        ...(mod ? { modulation: { kind: mod.cond.kind as 'shift' | 'scale_shift', at: mod.at, mlp: modMlp } } : {}),
        ...(attention ? { attention } : {}),
      };
    }
    this.modules.push(...mods);
    this.blocks.push({
      path: p.path,
      kind: p.kind,
      part: p.part,
      in: p.in,
      out,
      skipIn: p.skipIn,
      pushSkip: p.pushSkip === true,
      attention: p.attention,
      resample: p.resample,
      conditioning: { residual: resCond.map((c) => conditioningRef(c, s)), attention: attnCond.map((c) => conditioningRef(c, s)) },
      op,
      ...(p.attention ? { heads: p.heads } : {}),
      origin: { file: p.origin.file, line: p.origin.line },
    });
  }

  /** One LoRA on a conv: its modules join the block's, its op the conv's. */
  private addLora(ctx: Ctx, c: CondSettings, t: PlannedBlock['convs'][number], conv: ConvOp, mods: Module[]): void {
    const built = loraModules(ctx, c, t, this.s, this.plan.embedDim);
    mods.push(...built.modules);
    conv.lora.push(built.op);
  }
}

/** The modules of a block as they are built, and `take`, which keeps a layer's module and returns its op. */
function collector(): { mods: Module[]; take: <Op>(b: Built<Op>) => Op } {
  const mods: Module[] = [];
  return {
    mods,
    take: <Op>(b: Built<Op>): Op => {
      mods.push(b.module);
      return b.op;
    },
  };
}
