/**
 * Settings -> IR. Walks the U-Net level by level (encoder, bottleneck, decoder), tracking channels,
 * resolution and the skip stack through every block, and expands each block into its layers and
 * the layers its conditioning adds. Shape problems are reported here, with the span of the spec
 * option that caused them.
 */
import type { DiagnosticSink } from '../diagnostics/diagnostic.ts';
import type { Span } from '../diagnostics/span.ts';
import { evaluate } from '../check/evaluate.ts';
import type { Scope } from '../check/evaluate.ts';
import type { Block, BlockKind, BlockOp, ConvOp, EmbeddingOp, IR, LinearOp, Module, NormOp, Ref, ResBlockOp, Shape } from '../ir/types.ts';
import { invariantErrors } from '../ir/invariants.ts';
import { LIMITS } from '../check/schema.ts';
import { conditioningRef, LORA_KINDS, loraModules, readsEmbedding, type LoraTarget } from './conditioning.ts';
import { attentionCore, conv2d, convTranspose2d, embeddingTable, groupNorm, layerNorm, linear, noiseEmbedding, resample, type Built, type Ctx } from './layers.ts';
import { matchesPath } from './selectors.ts';
import { widthsOf, type CondSettings, type NormSettings, type Settings, type Width } from './settings.ts';

interface BlockPlan {
  path: string;
  kind: BlockKind;
  part: Block['part'];
  in: Shape;
  widths: number[];
  skipIn?: number;
  attention: boolean;
  resample?: 'down' | 'up';
  pushSkip?: boolean;
  origin: Span;
}

export class Elaborator {
  private readonly modules: Module[] = [];
  private readonly blocks: Block[] = [];
  private readonly reported = new Set<string>();
  private embedDim = 0;
  private readonly usedSelectors = new Set<number>();

  constructor(
    private readonly s: Settings,
    private readonly scope: Scope,
    private readonly sink: DiagnosticSink,
  ) {}

  private once(key: string, f: () => void): void {
    if (!this.reported.has(key)) {
      this.reported.add(key);
      f();
    }
  }

  run(): IR | undefined {
    const s = this.s;
    const u = s.unet;
    const L = u.mult.length;
    const errorsBefore = this.sink.errorCount();
    this.checkLists();
    if (this.sink.errorCount() > errorsBefore) return undefined;

    const steps = L - 1 + (u.bottleneck === 'below' ? 1 : 0);
    if (s.input.size >> steps < 1 || s.input.size / 2 ** steps < 1) {
      this.sink.report('ResolutionTooSmall', `a ${s.input.size}x${s.input.size} image cannot be halved ${steps} times`, u.multSpan);
      return undefined;
    }
    if (s.input.size % 2 ** steps !== 0) {
      this.sink.report('ImageNotDivisible', `image size ${s.input.size} is not divisible by 2^${steps} = ${2 ** steps}, which ${L} levels${u.bottleneck === 'below' ? ' and a bottleneck below them' : ''} need`, u.multSpan);
      return undefined;
    }
    const resolutions = u.mult.map((_, l) => s.input.size >> l);
    u.attention.at.forEach((r, i) => {
      if (!resolutions.includes(r)) {
        this.sink.report('AttentionResolutionMissing', `attention at ${r}x${r}, but the model's levels are ${resolutions.map((x) => `${x}x${x}`).join(', ')}`, u.attention.atSpans[i] ?? u.attention.span);
      }
    });

    this.embedDim = this.embeddingWidth();
    const plans = this.plan(resolutions);
    if (!plans) return undefined;
    // Bound the module count before building anything, so a huge spec costs no memory.
    const loras = Math.max(1, s.conditioning.residual.length + s.conditioning.attention.length + s.conditioning.selectors.reduce((a, x) => a + x.conds.length, 0));
    const estimate = plans.reduce((a, p) => a + p.widths.length * 3 + 12 + loras * (p.widths.length + 2) * 20, 0);
    if (estimate > LIMITS.maxModules * 4) {
      this.sink.report('TooManyModules', `the model would have about ${estimate} modules; the limit is ${LIMITS.maxModules}`, u.span);
      return undefined;
    }
    const vUsed = this.checkConditioningKinds(plans);
    const elided: string[] = [];
    this.buildEmbedding(vUsed, elided);
    for (const p of plans) this.buildBlock(p);
    s.conditioning.selectors.forEach((sel, i) => {
      if (!this.usedSelectors.has(i)) this.sink.report('SelectorMatchesNothing', `selector "${sel.pattern}" matches no block of this model`, sel.span);
    });
    if (this.modules.length > LIMITS.maxModules) {
      this.sink.report('TooManyModules', `the model has ${this.modules.length} modules; the limit is ${LIMITS.maxModules}`, u.span);
      return undefined;
    }
    const total = this.modules.reduce((a, m) => a + m.params.reduce((b, p) => b + p.shape.reduce((x, y) => x * y, 1), 0), 0);
    if (total > LIMITS.maxParams) {
      this.sink.report('ModelTooLarge', `the model would have ${total.toExponential(2)} parameters; the limit is ${LIMITS.maxParams.toExponential(0)}`, u.span);
      return undefined;
    }
    if (this.sink.errorCount() > errorsBefore) return undefined;
    const ir: IR = {
      irVersion: 2,
      name: s.name,
      input: { size: s.input.size, channels: s.input.channels, classes: s.input.classes, augment: s.input.augment },
      diffusion: { ...s.diffusion },
      training: { ...s.training },
      embedDim: vUsed ? this.embedDim : 0,
      blocks: this.blocks,
      modules: this.modules,
      elided,
    };
    // The builder's own consistency: every parameter read by exactly one op, every op's inputs present.
    const broken = invariantErrors(ir);
    if (broken.length > 0) {
      this.sink.report('IrInvariantBroken', `internal error: the elaborated model is inconsistent (${broken.slice(0, 3).join('; ')}); please report this spec`, u.span);
      return undefined;
    }
    return ir;
  }

  private checkLists(): void {
    const u = this.s.unet;
    const L = u.mult.length;
    if (u.blocks.length !== L) this.sink.report('WrongListLength', `blocks lists ${u.blocks.length} levels but mult has ${L}`, u.blocksSpan);
    if (u.decoderBlocks.length !== L) this.sink.report('WrongListLength', `decoder_blocks lists ${u.decoderBlocks.length} levels but mult has ${L}`, u.decoderBlocksSpan);
    if (u.decoderWidths && Array.isArray(u.decoderWidths[0]) && u.decoderWidths.length !== L) {
      this.sink.report('WrongListLength', `decoder_widths lists ${u.decoderWidths.length} levels but mult has ${L}`, (u.decoderWidths as Width[][])[0][0]?.span ?? u.span);
    }
    const w = u.block.widths;
    if (w && w.length !== u.block.convs) {
      this.sink.report('WrongListLength', `widths lists ${w.length} convs but the block has convs: ${u.block.convs}`, u.block.widthsSpan);
    }
  }

  /** Width of v: the last MLP layer, or the noise embedding when there is no MLP. */
  private embeddingWidth(): number {
    const e = this.s.embedding;
    return e.mlp.length > 0 ? e.mlp[e.mlp.length - 1] : e.noise.dim;
  }

  private evalWidths(ws: Width[] | undefined, count: number, cin: number, cout: number): number[] | undefined {
    if (!ws) return Array.from({ length: count }, () => cout);
    const out: number[] = [];
    for (const w of ws) {
      if ('fixed' in w) {
        out.push(w.fixed);
        continue;
      }
      const v = evaluate(w.expr, this.scope, this.sink, new Map([['in', cin], ['out', cout]]));
      if (!v) return undefined;
      if (v.kind !== 'num') {
        this.once(`widthtype@${w.span.offset}`, () => this.sink.report('TypeMismatch', `a width must be a whole number, got ${v.kind === 'sym' ? `the name '${v.name}'` : 'a ' + v.kind}`, w.span));
        return undefined;
      }
      if (!Number.isInteger(v.v) || v.v < 1 || v.v > LIMITS.channels) {
        this.once(`width@${w.span.offset}:${cin}:${cout}`, () =>
          this.sink.report('BadWidth', `this width is ${v.v} for a block with in = ${cin}, out = ${cout}; widths must be whole numbers from 1 to ${LIMITS.channels}`, w.span),
        );
        return undefined;
      }
      out.push(v.v);
    }
    return out;
  }

  /** The block sequence with shapes and skip bookkeeping; null after reporting a shape error. */
  private plan(resolutions: number[]): BlockPlan[] | null {
    const s = this.s;
    const u = s.unet;
    const L = u.mult.length;
    const plans: BlockPlan[] = [];
    const stack: { c: number; res: number }[] = [];
    let ch = s.input.channels;
    let res = s.input.size;
    const convs = u.block.convs;
    const push = (c: number) => {
      stack.push({ c, res });
      plans[plans.length - 1].pushSkip = true;
    };
    const tag = (r: number) => `${r}x${r}`;
    const attnAt = (r: number) => u.attention.at.includes(r);

    if (u.stem.kind === 'conv') {
      plans.push({ path: `enc.${tag(res)}.stem`, kind: 'stem', part: 'enc', in: { c: ch, h: res, w: res }, widths: [u.channels], attention: false, origin: u.span });
      ch = u.channels;
      if (u.skips === 'all') push(ch);
    }
    const downOp = (lvlRes: number) => {
      const newRes = lvlRes / 2;
      const path = `enc.${tag(newRes)}.down`;
      plans.push({ path, kind: u.down.kind === 'block' ? 'res' : 'down', part: 'enc', in: { c: ch, h: lvlRes, w: lvlRes }, widths: u.down.kind === 'block' ? Array(convs).fill(ch) : [ch], attention: false, resample: 'down', origin: u.down.span });
      res = newRes;
    };
    for (let l = 0; l < L; l++) {
      const cout = u.channels * u.mult[l];
      if (l > 0) {
        downOp(res);
        if (u.skips === 'all') push(ch);
      }
      for (let b = 0; b < u.blocks[l]; b++) {
        const widths = this.evalWidths(u.block.widths, convs, ch, cout);
        if (!widths) return null;
        plans.push({ path: `enc.${tag(res)}.block${b}`, kind: 'res', part: 'enc', in: { c: ch, h: res, w: res }, widths, attention: u.attention.encoder === 'all' && attnAt(res), origin: u.blocksSpan });
        ch = widths[widths.length - 1];
        if (u.skips === 'all') push(ch);
      }
      if (u.skips === 'levels') push(ch);
    }
    if (u.bottleneck === 'below') downOp(res);
    for (const [i, m] of u.middle.entries()) {
      const widths = this.evalWidths(m.widths, m.widths?.length ?? convs, ch, ch);
      if (!widths) return null;
      plans.push({ path: `mid.block${i}`, kind: 'res', part: 'mid', in: { c: ch, h: res, w: res }, widths, attention: m.attention, origin: m.span });
      ch = widths[widths.length - 1];
    }
    const upOp = (lvlRes: number) => {
      const newRes = lvlRes * 2;
      plans.push({ path: `dec.${tag(newRes)}.up`, kind: u.up.kind === 'block' ? 'res' : 'up', part: 'dec', in: { c: ch, h: lvlRes, w: lvlRes }, widths: u.up.kind === 'block' ? Array(convs).fill(ch) : [ch], attention: false, resample: 'up', origin: u.up.span });
      res = newRes;
    };
    if (u.bottleneck === 'below') upOp(res);
    for (let l = L - 1; l >= 0; l--) {
      if (l < L - 1) upOp(res);
      const cout = u.channels * u.mult[l];
      const nb = u.decoderBlocks[l];
      for (let b = 0; b < nb; b++) {
        let skipIn: number | undefined;
        if (u.skips === 'all' || (u.skips === 'levels' && b === 0)) {
          const top = stack.pop();
          if (!top) {
            this.sink.report('SkipCountMismatch', `decoder block ${tag(res)}.block${b} needs a skip connection, but the encoder pushed fewer (decoder_blocks do not match the encoder)`, u.decoderBlocksSpan);
            return null;
          }
          if (top.res !== res) {
            this.sink.report('SkipsUnbalancedPerLevel', `decoder block at ${tag(res)} would concatenate a ${tag(top.res)} skip; the decoder's blocks per level do not mirror the encoder's`, u.decoderBlocksSpan);
            return null;
          }
          skipIn = top.c;
        }
        const cin = ch + (skipIn ?? 0);
        const dw = u.decoderWidths && Array.isArray(u.decoderWidths[0]) ? (u.decoderWidths as Width[][])[l] : (u.decoderWidths as Width[] | undefined);
        const widths = this.evalWidths(dw ?? u.block.widths, (dw ?? u.block.widths)?.length ?? convs, cin, cout);
        if (!widths) return null;
        const attention = attnAt(res) && (u.attention.decoder === 'all' || (u.attention.decoder === 'last' && b === nb - 1));
        plans.push({ path: `dec.${tag(res)}.block${b}`, kind: 'res', part: 'dec', in: { c: cin, h: res, w: res }, widths, skipIn, attention, origin: u.decoderBlocksSpan });
        ch = widths[widths.length - 1];
      }
    }
    if (stack.length > 0) {
      this.sink.report('SkipCountMismatch', `the encoder pushes ${stack.length} more skip connection${stack.length === 1 ? '' : 's'} than the decoder's blocks consume`, u.decoderBlocksSpan);
      return null;
    }
    const outC = s.input.channels * (s.diffusion.learn_sigma === true ? 2 : 1);
    plans.push({ path: 'out', kind: 'head', part: 'out', in: { c: ch, h: res, w: res }, widths: [outC], attention: false, origin: u.head.span });
    void resolutions;
    return plans;
  }

  private condFor(p: BlockPlan, which: 'residual' | 'attention'): CondSettings[] {
    const s = this.s;
    const path = which === 'attention' ? `${p.path}.attn` : p.path;
    let result = which === 'residual' ? s.conditioning.residual : s.conditioning.attention;
    s.conditioning.selectors.forEach((sel, i) => {
      if (matchesPath(sel.pattern, path)) {
        this.usedSelectors.add(i);
        for (const c of sel.conds) this.checkPlacement(c, which, `selector "${sel.pattern}" matches ${path}, a${which === 'attention' ? 'n attention' : ' residual'} block`);
        result = sel.conds;
      }
    });
    return result;
  }

  /** Modulations belong to one block kind: shift/scale_shift to residual blocks, adaln to attention. */
  private checkPlacement(c: CondSettings, where: 'residual' | 'attention', context?: string): void {
    const bad = (where === 'attention' && (c.kind === 'shift' || c.kind === 'scale_shift')) || (where === 'residual' && c.kind === 'adaln');
    if (!bad) return;
    const hint = c.kind === 'adaln' ? "'adaln' conditions attention blocks; use scale_shift for residual blocks" : `'${c.kind}' conditions residual blocks; use adaln for attention`;
    this.once(`placement@${c.span.offset}:${where}`, () => this.sink.report('ConditioningNotAllowedHere', context ? `${hint} (${context})` : hint, c.span));
  }

  /** Checks the conditioning against the model; returns whether any of it reads v. */
  private checkConditioningKinds(plans: BlockPlan[]): boolean {
    const s = this.s;
    const hasAttn = plans.some((p) => p.attention);
    if (!hasAttn && s.conditioning.attention.length > 0) {
      this.sink.report('ConditioningTargetMissing', 'attention conditioning is set, but the model has no attention blocks', s.conditioning.attentionSpan);
    }
    // Selectors are checked for placement where they match (condFor), since a pattern can match both kinds.
    const lists: { conds: CondSettings[]; where?: 'residual' | 'attention' }[] = [
      { conds: s.conditioning.residual, where: 'residual' },
      { conds: s.conditioning.attention, where: 'attention' },
      ...s.conditioning.selectors.map((x) => ({ conds: x.conds })),
    ];
    for (const { conds, where } of lists) {
      const seen = new Map<string, CondSettings>();
      for (const c of conds) {
        const family = ['shift', 'scale_shift', 'adaln'].includes(c.kind) ? 'modulation' : c.kind;
        if (seen.has(family)) this.sink.report('ConflictingConditioning', `'${c.kind}' conflicts with '${seen.get(family)!.kind}' on the same layers: give each kind once`, c.span);
        seen.set(family, c);
        if (where) this.checkPlacement(c, where);
        if (c.kind === 'time_lora') {
          if (s.diffusion.process === 'edm') this.sink.report('TimeLoraContinuous', 'time_lora needs discrete timesteps, but this model uses continuous noise levels (edm); use uc_lora', c.span);
          else if (!c.args.has('T') && typeof s.diffusion.T !== 'number') this.sink.report('TimeLoraWithoutT', 'time_lora needs the number of timesteps: set T here or in diffusion', c.span);
        }
        if (c.kind === 'class_lora' && s.input.classes < 1) this.sink.report('ClassLoraWithoutClasses', 'class_lora needs class labels: set input.classes', c.span);
        if (LORA_KINDS.includes(c.kind)) {
          const targets = c.args.get('targets');
          // Residual targets are checked per block (blocks may have different conv counts).
          if (targets && targets.kind === 'list' && where === 'attention') {
            for (const t of targets.items) {
              if (t.kind === 'sym' && t.name !== 'qkv' && t.name !== 'proj') this.sink.report('ConditioningTargetMissing', `attention blocks have no layer '${t.name}' (they have qkv and proj)`, t.span);
            }
          }
        }
      }
    }
    const classLora = [s.conditioning.residual, s.conditioning.attention, ...s.conditioning.selectors.map((x) => x.conds)].some((l) => l.some((c) => c.kind === 'class_lora'));
    const vRead = this.conditioningReadsEmbedding(plans);
    if (s.input.classes > 0 && !classLora && (s.embedding.label.kind === 'none' || !vRead)) {
      const why = s.embedding.label.kind === 'none' ? 'embedding.label is none' : 'no conditioning reads the embedding v that carries it';
      this.sink.report('LabelsUnused', `the model takes ${s.input.classes} classes, but nothing reads the label (${why}): add class_lora or a conditioning that reads v`, s.input.classesSpan);
    }
    if (s.embedding.noise.kind === 'table' && typeof s.diffusion.T !== 'number') {
      this.sink.report('TableNeedsSteps', 'a table noise embedding needs diffusion.T rows', s.embedding.noise.span);
    }
    return vRead;
  }

  private conditioningReadsEmbedding(plans: BlockPlan[]): boolean {
    return plans.some(
      (p) => p.kind === 'res' && (this.condFor(p, 'residual').some(readsEmbedding) || (p.attention && this.condFor(p, 'attention').some(readsEmbedding))),
    );
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
      table = take(embeddingTable({ ...ctx, trainable: !e.noise.frozen }, 'emb.noise', T, e.noise.dim, { fn: 'sinusoidal' }, !e.noise.frozen));
    } else {
      mods.push(noiseEmbedding(ctx, 'emb.noise', e.noise.dim));
    }
    const nd = e.noise.dim;
    const E = this.embedDim;
    let label: EmbeddingOp['label'];
    if (e.label.kind !== 'none' && s.input.classes > 0) {
      const d = e.label.at === 'input' ? nd : E;
      label =
        e.label.kind === 'embedding'
          ? { at: e.label.at, scale: e.labelScale, table: take(embeddingTable(ctx, 'emb.label', s.input.classes, d, { fn: 'normal', std: 1 }, true)) }
          : { at: e.label.at, scale: e.labelScale, linear: take(linear(ctx, 'emb.label', s.input.classes, d, { bias: e.label.bias })) };
    }
    const augment = e.augment.kind === 'linear' && s.input.augment > 0 ? take(linear(ctx, 'emb.augment', s.input.augment, nd, { bias: e.augment.bias })) : undefined;
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
      noise: { kind: e.noise.kind as EmbeddingOp['noise']['kind'], dim: nd, maxPositions: e.noise.maxPositions, endpoint: e.noise.endpoint, flip: e.noise.flip, scale: e.noise.scale, inputScale, ...(table ? { table } : {}) },
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
    const groups = n.minGroupChannels ? Math.max(1, Math.min(n.groups, Math.floor(s.c / n.minGroupChannels))) : n.groups;
    if (s.c % groups !== 0) {
      this.once(`gn:${n.span.offset}:${s.c}`, () => this.sink.report('GroupsNotDivisible', `${s.c} channels (at ${path}) are not divisible by ${groups} GroupNorm groups`, n.span));
    }
    return groupNorm(ctx, path, s.c, groups, n.eps, n.affine, s.h * s.w);
  }

  private headsFor(C: number): number {
    const a = this.s.unet.attention;
    return a.headChannels ? Math.max(1, Math.floor(C / a.headChannels)) : a.heads;
  }

  private buildBlock(p: BlockPlan): void {
    const s = this.s;
    const u = s.unet;
    const base = this.ctx(p.path);
    const condCtx = this.ctx(p.path, 'conditioning');
    const { mods, take } = collector();
    let out: Shape = { ...p.in };
    const resCond = p.kind === 'res' ? this.condFor(p, 'residual') : [];
    const attnCond = p.attention ? this.condFor(p, 'attention') : [];
    const loraTargets: (LoraTarget & { op: ConvOp })[] = [];
    let op: BlockOp;

    if (p.kind === 'stem') {
      op = { op: 'stem', conv: take(conv2d(base, `${p.path}.conv`, p.in.c, p.widths[0], u.stem.kernel, p.in)) };
      out = { c: p.widths[0], h: p.in.h, w: p.in.w };
    } else if (p.kind === 'down' || p.kind === 'up') {
      const r = p.kind === 'down' ? u.down : u.up;
      const newH = p.kind === 'down' ? p.in.h / 2 : p.in.h * 2;
      out = { c: p.in.c, h: newH, w: newH };
      if (r.kind === 'conv') op = { op: 'resample', mode: 'conv', conv: take(conv2d(base, `${p.path}.conv`, p.in.c, p.in.c, r.kernel, p.in, { stride: 2 })) };
      else if (r.kind === 'conv_transpose') op = { op: 'resample', mode: 'conv_transpose', conv: take(convTranspose2d(base, `${p.path}.conv`, p.in.c, p.in.c, r.kernel, p.in)) };
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
      const conv = take(conv2d(base, `${p.path}.conv`, p.in.c, p.widths[0], u.head.kernel, p.in, { role: u.head.zeroInit ? 'zero' : 'plain' }));
      op = { op: 'head', norm, conv };
      out = { c: p.widths[0], h: p.in.h, w: p.in.w };
    } else {
      // A residual (or plain) block.
      const b = u.block;
      const condWidth = (c: CondSettings, target: number) => (c.kind === 'scale_shift' ? 2 * target : target);
      const modMlp: LinearOp[] = [];
      const addEmb = (c: CondSettings, target: number, path: string) => {
        const hidden = this.evalWidths(mlpWidths(c), mlpWidths(c)?.length ?? 0, p.in.c, target) ?? [];
        let d = this.embedDim;
        hidden.forEach((h, i) => {
          modMlp.push(take(linear(condCtx, `${path}${i}`, d, h)));
          d = h;
        });
        modMlp.push(take(linear(condCtx, hidden.length > 0 ? `${path}${hidden.length}` : path, d, condWidth(c, target))));
      };
      const modulation = resCond.find((c) => c.kind === 'shift' || c.kind === 'scale_shift');
      const atArg = modulation?.args.get('at');
      const at: 'input' | 'conv0' | 'norm1' = atArg?.kind === 'sym' ? (atArg.name as 'input' | 'conv0' | 'norm1') : modulation?.kind === 'shift' ? 'conv0' : 'norm1';
      if (modulation && at === 'norm1' && p.widths.length < 2) {
        // scale_shift(at: norm1) modulates the second norm's output, which a one-conv block does not have.
        this.once(`modnorm1@${modulation.span.offset}`, () =>
          this.sink.report('ModulationTargetMissing', `${p.path} has ${p.widths.length} conv, so no second norm for '${modulation.kind}' at norm1 to modulate; use at: input, or convs: 2 or more`, modulation.span),
        );
      }
      if (modulation && at === 'input') addEmb(modulation, p.in.c, `${p.path}.emb`);
      let c = p.in.c;
      let cur: Shape = { ...p.in };
      const norms: (NormOp | null)[] = [];
      const convs: ConvOp[] = [];
      p.widths.forEach((w, i) => {
        const n = this.norm(base, `${p.path}.norm${i}`, b.norm, cur);
        norms.push(n ? take(n) : null);
        const resampleHere = i === 0 ? p.resample : undefined;
        if (modulation && at === 'norm1' && i === 1) addEmb(modulation, c, `${p.path}.emb`);
        const conv = take(conv2d(base, `${p.path}.conv${i}`, c, w, b.kernel, cur, { up: resampleHere === 'up', down: resampleHere === 'down', role: i === p.widths.length - 1 && b.residual ? 'zero' : 'plain' }));
        convs.push(conv);
        const h = resampleHere === 'up' ? cur.h * 2 : resampleHere === 'down' ? cur.h / 2 : cur.h;
        cur = { c: w, h, w: h };
        loraTargets.push({ name: `conv${i}`, path: `${p.path}.conv${i}`, cin: c, cout: w, kernel: b.kernel, hw: h * h, op: conv });
        if (modulation && at === 'conv0' && i === 0) addEmb(modulation, w, `${p.path}.emb`);
        c = w;
      });
      const cout = p.widths[p.widths.length - 1];
      let skip: ConvOp | undefined;
      if (b.residual && (p.in.c !== cout || (b.skipProj === 'changed_or_resampled' && p.resample))) {
        skip = take(conv2d(base, `${p.path}.skip`, p.in.c, cout, 1, p.in, { up: p.resample === 'up', down: p.resample === 'down' }));
      }
      out = cur;
      let attention: ResBlockOp['attention'];
      const attnTargets: (LoraTarget & { op: ConvOp })[] = [];
      if (p.attention) {
        const C = cout;
        const hw = cur.h * cur.w;
        const a = u.attention;
        const heads = this.headsFor(C);
        if (C % heads !== 0) this.once(`heads:${C}`, () => this.sink.report('HeadsNotDivisible', `${C} channels cannot be split into ${heads} attention heads`, a.headsSpan));
        const n = this.norm(base, `${p.path}.attn.norm`, a.norm, cur);
        const norm = n ? take(n) : null;
        const adaln = attnCond.some((x) => x.kind === 'adaln') ? take(linear(condCtx, `${p.path}.attn.adaln`, this.embedDim, 2 * C)) : undefined;
        const qkv = take(conv2d(base, `${p.path}.attn.qkv`, C, 3 * C, 1, cur, { role: 'attn' }));
        mods.push(attentionCore(base, `${p.path}.attn.core`, C, heads, hw));
        const proj = take(conv2d(base, `${p.path}.attn.proj`, C, C, 1, cur, { role: 'zero' }));
        attention = { norm, ...(adaln ? { adaln } : {}), qkv, proj, heads, layout: a.qkvLayout, outputScale: b.scale };
        attnTargets.push({ name: 'qkv', path: `${p.path}.attn.qkv`, cin: C, cout: 3 * C, kernel: 1, hw, op: qkv }, { name: 'proj', path: `${p.path}.attn.proj`, cin: C, cout: C, kernel: 1, hw, op: proj });
        for (const lc of attnCond.filter((x) => LORA_KINDS.includes(x.kind))) {
          const names = targetNames(lc) ?? ['qkv', 'proj'];
          for (const t of attnTargets.filter((t) => names.includes(t.name))) this.addLora(condCtx, lc, t, mods);
        }
      }
      for (const lc of resCond.filter((x) => LORA_KINDS.includes(x.kind))) {
        const names = targetNames(lc) ?? loraTargets.map((t) => t.name);
        for (const n of names) {
          if (!loraTargets.some((t) => t.name === n)) {
            const tv = lc.args.get('targets');
            const at = (tv?.kind === 'list' ? tv.items.find((i) => i.kind === 'sym' && i.name === n)?.span : undefined) ?? lc.span;
            this.once(`target:${at.offset}:${n}:${loraTargets.length}`, () =>
              this.sink.report('ConditioningTargetMissing', `${p.path} has no layer '${n}' (its convs are ${loraTargets.map((t) => t.name).join(', ')})`, at),
            );
          }
        }
        for (const t of loraTargets.filter((t) => names.includes(t.name))) this.addLora(condCtx, lc, t, mods);
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
        ...(modulation ? { modulation: { kind: modulation.kind as 'shift' | 'scale_shift', at, mlp: modMlp } } : {}),
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
      ...(p.attention ? { heads: this.headsFor(p.widths[p.widths.length - 1]) } : {}),
      origin: { file: p.origin.file, line: p.origin.line },
    });
  }

  /** One LoRA on a conv: its modules join the block's, its op the conv's. */
  private addLora(ctx: Ctx, c: CondSettings, t: LoraTarget & { op: ConvOp }, mods: Module[]): void {
    const built = loraModules(ctx, c, t, this.s, this.embedDim, this.sink, this.reported);
    if (!built) return;
    mods.push(...built.modules);
    t.op.lora.push(built.op);
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

const mlpWidths = (c: CondSettings): Width[] | undefined => widthsOf(c.args.get('mlp'));

function targetNames(c: CondSettings): string[] | undefined {
  const v = c.args.get('targets');
  return v && v.kind === 'list' ? v.items.map((i) => (i.kind === 'sym' ? i.name : '')) : undefined;
}
