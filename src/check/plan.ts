/**
 * The shape plan: settings -> the U-Net's levels and blocks with their channels, resolutions and
 * skip bookkeeping, the convs and norms each block will have, and which conditioning lands on
 * which block (after path selectors). Pure: it reports nothing. Where the settings make a shape
 * impossible it stops and says why (`stop`), and it records every width that does not evaluate to
 * a usable channel count; the rules in rules/ turn those facts into diagnostics, and the builder
 * (src/elaborate/build.ts) turns a plan without problems into the IR.
 *
 * It lives in check/ because the topology and placement rules read it, and check/ never imports a
 * later stage.
 */
import { DiagnosticSink, type Diagnostic } from '../diagnostics/diagnostic.ts';
import type { Span } from '../diagnostics/span.ts';
import type { Block, BlockKind, Shape } from '../ir/types.ts';
import { evaluate, type Scope } from './evaluate.ts';
import { LIMITS } from './schema.ts';
import { matchesPath } from './selectors.ts';
import { widthsOf, type CondSettings, type NormSettings, type Settings, type Width } from './settings.ts';

/** A conv a LoRA can wrap: its name in the block (`conv0`, `qkv`), path and dimensions. */
export interface ConvSite {
  name: string;
  path: string;
  cin: number;
  cout: number;
  kernel: number;
  hw: number;
}

export interface PlannedNorm {
  path: string;
  channels: number;
  norm: NormSettings;
}

export interface PlannedBlock {
  path: string;
  kind: BlockKind;
  part: Block['part'];
  in: Shape;
  /** Output channels of each conv (one entry for stem, resampling and head). */
  widths: number[];
  skipIn?: number;
  attention: boolean;
  resample?: 'down' | 'up';
  pushSkip?: boolean;
  /** The spec option this block comes from (named in the emitted code). */
  origin: Span;
  /** Conditioning of the residual block and of its attention, after selectors. */
  resCond: CondSettings[];
  attnCond: CondSettings[];
  /** The residual convs and the attention's qkv/proj, which a LoRA can wrap. */
  convs: ConvSite[];
  attnConvs: ConvSite[];
  /** Every norm the block will have, with the channels it normalises. */
  norms: PlannedNorm[];
  /** Attention heads and channels (attention blocks). */
  heads?: number;
  attnChannels?: number;
  /** The modulation (shift / scale_shift) and the hidden widths of its MLP, evaluated for this block. */
  modulation?: { cond: CondSettings; at: 'input' | 'conv0' | 'norm1'; hidden: number[] };
}

/** A width that did not evaluate to a channel count for some block. */
export interface WidthProblem {
  span: Span;
  cin: number;
  cout: number;
  value?: number;
  got?: string;
}

/** Why planning stopped before the whole network was laid out. */
export type PlanStop =
  | { kind: 'lists' }
  | { kind: 'resolution'; steps: number }
  | { kind: 'divisible'; steps: number }
  | { kind: 'width' }
  | { kind: 'skips-short'; block: string }
  | { kind: 'skips-unbalanced'; res: number; skipRes: number }
  | { kind: 'skips-left'; left: number };

/** Where a path selector put a conditioning on a block of the other kind. */
export interface Misplaced {
  cond: CondSettings;
  where: 'residual' | 'attention';
  pattern: string;
  path: string;
}

export interface Plan {
  resolutions: number[];
  blocks: PlannedBlock[];
  /** Width of the shared condition vector v. */
  embedDim: number;
  /** Whether any conditioning reads v (if not, the embedding network is elided). */
  vUsed: boolean;
  /** Indices of the selectors that matched some block. */
  usedSelectors: Set<number>;
  misplaced: Misplaced[];
  widthProblems: WidthProblem[];
  /** Problems met while evaluating width expressions (division by zero, ...). */
  evalDiagnostics: Diagnostic[];
  /** Skip connections the encoder pushes and the decoder's blocks take (from the settings). */
  skips: { pushed: number; taken: number };
  stop?: PlanStop;
}

/** Number of GroupNorm groups for `c` channels (min_group_channels caps it). */
export function groupsFor(n: NormSettings, c: number): number {
  return n.minGroupChannels ? Math.max(1, Math.min(n.groups, Math.floor(c / n.minGroupChannels))) : n.groups;
}

export function headsFor(s: Settings, c: number): number {
  const a = s.unet.attention;
  return a.headChannels ? Math.max(1, Math.floor(c / a.headChannels)) : a.heads;
}

export const LORA_KINDS = ['time_lora', 'class_lora', 'uc_lora'];

/** Does this conditioning read the shared condition vector v? */
export function readsEmbedding(c: CondSettings): boolean {
  return c.kind === 'shift' || c.kind === 'scale_shift' || c.kind === 'adaln' || c.kind === 'uc_lora';
}

/** The layer names a LoRA's `targets` lists, if it lists any. */
export function targetNames(c: CondSettings): string[] | undefined {
  const v = c.args.get('targets');
  return v && v.kind === 'list' ? v.items.map((i) => (i.kind === 'sym' ? i.name : '')) : undefined;
}

export function planModel(s: Settings, scope: Scope): Plan {
  return new Planner(s, scope).run();
}

class Planner {
  private readonly evalSink = new DiagnosticSink(Infinity);
  private readonly plan: Plan;

  constructor(
    private readonly s: Settings,
    private readonly scope: Scope,
  ) {
    const e = s.embedding;
    this.plan = {
      resolutions: [],
      blocks: [],
      embedDim: e.mlp.length > 0 ? e.mlp[e.mlp.length - 1] : e.noise.dim,
      vUsed: false,
      usedSelectors: new Set(),
      misplaced: [],
      widthProblems: [],
      evalDiagnostics: this.evalSink.items,
      skips: skipCounts(s),
    };
  }

  run(): Plan {
    const s = this.s;
    const u = s.unet;
    const L = u.mult.length;
    const p = this.plan;
    const listsOk =
      u.blocks.length === L &&
      u.decoderBlocks.length === L &&
      !(u.decoderWidths && Array.isArray(u.decoderWidths[0]) && u.decoderWidths.length !== L) &&
      !(u.block.widths && u.block.widths.length !== u.block.convs);
    if (!listsOk) return this.stop({ kind: 'lists' });
    const steps = L - 1 + (u.bottleneck === 'below' ? 1 : 0);
    if (s.input.size >> steps < 1 || s.input.size / 2 ** steps < 1) return this.stop({ kind: 'resolution', steps });
    if (s.input.size % 2 ** steps !== 0) return this.stop({ kind: 'divisible', steps });
    p.resolutions = u.mult.map((_, l) => s.input.size >> l);
    if (!this.layOut()) return p;
    for (const b of p.blocks) this.fill(b);
    p.vUsed = p.blocks.some((b) => b.resCond.some(readsEmbedding) || b.attnCond.some(readsEmbedding));
    return p;
  }

  private stop(why: PlanStop): Plan {
    this.plan.stop = why;
    return this.plan;
  }

  private evalWidths(ws: Width[] | undefined, count: number, cin: number, cout: number): number[] | undefined {
    if (!ws) return Array.from({ length: count }, () => cout);
    const out: number[] = [];
    for (const w of ws) {
      if ('fixed' in w) {
        out.push(w.fixed);
        continue;
      }
      const v = evaluate(
        w.expr,
        this.scope,
        this.evalSink,
        new Map([
          ['in', cin],
          ['out', cout],
        ]),
      );
      if (!v) return undefined;
      if (v.kind !== 'num') {
        this.plan.widthProblems.push({ span: w.span, cin, cout, got: v.kind === 'sym' ? `the name '${v.name}'` : 'a ' + v.kind });
        return undefined;
      }
      if (!Number.isInteger(v.v) || v.v < 1 || v.v > LIMITS.channels) {
        this.plan.widthProblems.push({ span: w.span, cin, cout, value: v.v });
        return undefined;
      }
      out.push(v.v);
    }
    return out;
  }

  private block(b: Omit<PlannedBlock, 'resCond' | 'attnCond' | 'convs' | 'attnConvs' | 'norms'>): PlannedBlock {
    const full: PlannedBlock = { ...b, resCond: [], attnCond: [], convs: [], attnConvs: [], norms: [] };
    this.plan.blocks.push(full);
    return full;
  }

  /** The block sequence with shapes and skip bookkeeping; false when a shape stops it. */
  private layOut(): boolean {
    const s = this.s;
    const u = s.unet;
    const L = u.mult.length;
    const blocks = this.plan.blocks;
    const stack: { c: number; res: number }[] = [];
    let ch = s.input.channels;
    let res = s.input.size;
    const convs = u.block.convs;
    const push = (c: number) => {
      stack.push({ c, res });
      blocks[blocks.length - 1].pushSkip = true;
    };
    const tag = (r: number) => `${r}x${r}`;
    const attnAt = (r: number) => u.attention.at.includes(r);

    if (u.stem.kind === 'conv') {
      this.block({
        path: `enc.${tag(res)}.stem`,
        kind: 'stem',
        part: 'enc',
        in: { c: ch, h: res, w: res },
        widths: [u.channels],
        attention: false,
        origin: u.span,
      });
      ch = u.channels;
      if (u.skips === 'all') push(ch);
    }
    const downOp = (lvlRes: number) => {
      const newRes = lvlRes / 2;
      this.block({
        path: `enc.${tag(newRes)}.down`,
        kind: u.down.kind === 'block' ? 'res' : 'down',
        part: 'enc',
        in: { c: ch, h: lvlRes, w: lvlRes },
        widths: u.down.kind === 'block' ? Array(convs).fill(ch) : [ch],
        attention: false,
        resample: 'down',
        origin: u.down.span,
      });
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
        if (!widths) return !this.stop({ kind: 'width' });
        this.block({
          path: `enc.${tag(res)}.block${b}`,
          kind: 'res',
          part: 'enc',
          in: { c: ch, h: res, w: res },
          widths,
          attention: u.attention.encoder === 'all' && attnAt(res),
          origin: u.blocksSpan,
        });
        ch = widths[widths.length - 1];
        if (u.skips === 'all') push(ch);
      }
      if (u.skips === 'levels') push(ch);
    }
    if (u.bottleneck === 'below') downOp(res);
    for (const [i, m] of u.middle.entries()) {
      const widths = this.evalWidths(m.widths, m.widths?.length ?? convs, ch, ch);
      if (!widths) return !this.stop({ kind: 'width' });
      this.block({
        path: `mid.block${i}`,
        kind: 'res',
        part: 'mid',
        in: { c: ch, h: res, w: res },
        widths,
        attention: m.attention,
        origin: m.span,
      });
      ch = widths[widths.length - 1];
    }
    const upOp = (lvlRes: number) => {
      const newRes = lvlRes * 2;
      this.block({
        path: `dec.${tag(newRes)}.up`,
        kind: u.up.kind === 'block' ? 'res' : 'up',
        part: 'dec',
        in: { c: ch, h: lvlRes, w: lvlRes },
        widths: u.up.kind === 'block' ? Array(convs).fill(ch) : [ch],
        attention: false,
        resample: 'up',
        origin: u.up.span,
      });
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
          if (!top) return !this.stop({ kind: 'skips-short', block: `${tag(res)}.block${b}` });
          if (top.res !== res) return !this.stop({ kind: 'skips-unbalanced', res, skipRes: top.res });
          skipIn = top.c;
        }
        const cin = ch + (skipIn ?? 0);
        const dw =
          u.decoderWidths && Array.isArray(u.decoderWidths[0])
            ? (u.decoderWidths as Width[][])[l]
            : (u.decoderWidths as Width[] | undefined);
        const widths = this.evalWidths(dw ?? u.block.widths, (dw ?? u.block.widths)?.length ?? convs, cin, cout);
        if (!widths) return !this.stop({ kind: 'width' });
        const attention = attnAt(res) && (u.attention.decoder === 'all' || (u.attention.decoder === 'last' && b === nb - 1));
        this.block({
          path: `dec.${tag(res)}.block${b}`,
          kind: 'res',
          part: 'dec',
          in: { c: cin, h: res, w: res },
          widths,
          skipIn,
          attention,
          origin: u.decoderBlocksSpan,
        });
        ch = widths[widths.length - 1];
      }
    }
    if (stack.length > 0) return !this.stop({ kind: 'skips-left', left: stack.length });
    const outC = s.input.channels * (s.diffusion.learn_sigma === true ? 2 : 1);
    this.block({
      path: 'out',
      kind: 'head',
      part: 'out',
      in: { c: ch, h: res, w: res },
      widths: [outC],
      attention: false,
      origin: u.head.span,
    });
    return true;
  }

  /** The conditioning a block gets: the kind's default, replaced by the last selector that matches its path. */
  private condFor(b: PlannedBlock, which: 'residual' | 'attention'): CondSettings[] {
    const s = this.s;
    const path = which === 'attention' ? `${b.path}.attn` : b.path;
    let result = which === 'residual' ? s.conditioning.residual : s.conditioning.attention;
    s.conditioning.selectors.forEach((sel, i) => {
      if (matchesPath(sel.pattern, path)) {
        this.plan.usedSelectors.add(i);
        for (const c of sel.conds)
          if (misplacedOn(c, which)) this.plan.misplaced.push({ cond: c, where: which, pattern: sel.pattern, path });
        result = sel.conds;
      }
    });
    return result;
  }

  /** Conditioning, convs and norms of one laid-out block. */
  private fill(b: PlannedBlock): void {
    const u = this.s.unet;
    if (b.kind === 'head') {
      if (u.head.norm) b.norms.push({ path: `${b.path}.norm`, channels: b.in.c, norm: u.block.norm });
      return;
    }
    if (b.kind !== 'res') return;
    b.resCond = this.condFor(b, 'residual');
    b.attnCond = b.attention ? this.condFor(b, 'attention') : [];
    let c = b.in.c;
    let h = b.in.h;
    b.widths.forEach((w, i) => {
      b.norms.push({ path: `${b.path}.norm${i}`, channels: c, norm: u.block.norm });
      if (i === 0 && b.resample) h = b.resample === 'up' ? h * 2 : h / 2;
      b.convs.push({ name: `conv${i}`, path: `${b.path}.conv${i}`, cin: c, cout: w, kernel: u.block.kernel, hw: h * h });
      c = w;
    });
    const modulation = b.resCond.find((x) => x.kind === 'shift' || x.kind === 'scale_shift');
    if (modulation) {
      const atArg = modulation.args.get('at');
      const at = atArg?.kind === 'sym' ? (atArg.name as 'input' | 'conv0' | 'norm1') : modulation.kind === 'shift' ? 'conv0' : 'norm1';
      const target = at === 'input' ? b.in.c : b.widths[0];
      const ws = widthsOf(modulation.args.get('mlp'));
      b.modulation = { cond: modulation, at, hidden: this.evalWidths(ws, ws?.length ?? 0, b.in.c, target) ?? [] };
    }
    if (b.attention) {
      const C = b.widths[b.widths.length - 1];
      const hw = h * h;
      b.attnChannels = C;
      b.heads = headsFor(this.s, C);
      b.norms.push({ path: `${b.path}.attn.norm`, channels: C, norm: u.attention.norm });
      b.attnConvs.push(
        { name: 'qkv', path: `${b.path}.attn.qkv`, cin: C, cout: 3 * C, kernel: 1, hw },
        { name: 'proj', path: `${b.path}.attn.proj`, cin: C, cout: C, kernel: 1, hw },
      );
    }
  }
}

/** Modulations belong to one block kind: shift/scale_shift to residual blocks, adaln to attention. */
export function misplacedOn(c: CondSettings, where: 'residual' | 'attention'): boolean {
  return (where === 'attention' && (c.kind === 'shift' || c.kind === 'scale_shift')) || (where === 'residual' && c.kind === 'adaln');
}

/** How many skips the encoder pushes and the decoder takes, counted from the settings alone. */
function skipCounts(s: Settings): { pushed: number; taken: number } {
  const u = s.unet;
  const L = u.mult.length;
  const sum = (xs: number[]) => xs.slice(0, L).reduce((a, x) => a + x, 0);
  if (u.skips === 'none') return { pushed: 0, taken: 0 };
  if (u.skips === 'levels') return { pushed: L, taken: u.decoderBlocks.slice(0, L).filter((n) => n > 0).length };
  return { pushed: (u.stem.kind === 'conv' ? 1 : 0) + (L - 1) + sum(u.blocks), taken: sum(u.decoderBlocks) };
}
