/**
 * IR blocks -> the literal option objects the runtime's blocks take (src/runtime/model/blocks.ts).
 * Everything here is read from the IR; nothing reaches back into the spec.
 */
import type { Block, ConditioningRef, IR, Module } from '../ir/types.ts';
import type { AttentionOpts, ModulationOpts, ResBlockOpts, ResampleOpts } from '../runtime/model/blocks.ts';
import type { EmbeddingOpts } from '../runtime/model/embedding.ts';
import type { NormOpts } from '../runtime/model/layers.ts';
import type { LoraOpts, UcLoraLayer, UcLoraOpts } from '../runtime/model/lora.ts';
import type { Layout, ParamSpec } from '../runtime/model/params.ts';

export function modulesOf(ir: IR, block: string): Map<string, Module> {
  return new Map(ir.modules.filter((m) => m.block === block).map((m) => [m.path, m]));
}

function normOf(m: Module | undefined): NormOpts | null {
  if (!m) return null;
  if (m.kind === 'layer_norm') return { kind: 'layer', groups: 1, eps: Number(m.attrs.eps), affine: m.params.length > 0 };
  return { kind: 'group', groups: Number(m.attrs.groups), eps: Number(m.attrs.eps), affine: m.params.length > 0 };
}

function loraOf(c: ConditioningRef, mods: Map<string, Module>, layerPath: string, ir: IR): LoraOpts | undefined {
  const m = mods.get(`${layerPath}.${c.kind}`);
  return m ? loraOptsOf(m, mods, ir) : undefined;
}

/** The runtime options of a LoRA module, read from it and (UC-LoRA) its MLP's norms among `mods`. */
function loraOptsOf(m: Module, mods: Map<string, Module>, ir: IR): LoraOpts {
  const rank = Number(m.attrs.rank);
  if (m.kind === 'time_lora') return { kind: 'time_lora', rank, bases: Number(m.attrs.bases) };
  if (m.kind === 'class_lora') return { kind: 'class_lora', rank, bases: ir.input.classes };
  const mlp: number[] = [];
  const groups: number[] = [];
  for (let i = 0; mods.has(`${m.path}.mlp${i}_norm`); i++) {
    const n = mods.get(`${m.path}.mlp${i}_norm`)!;
    mlp.push(Number(n.attrs.channels));
    groups.push(Number(n.attrs.groups));
  }
  return { kind: 'uc_lora', rank, bases: Number(m.attrs.bases), mlp, groups, bias: m.attrs.bias === true, scale: m.attrs.scale === 'trainable' ? 'trainable' : 'fixed' };
}

/** Every UC-LoRA layer of the model, in IR order (the runtime batches their composition MLPs). */
export function ucLoraLayers(ir: IR): UcLoraLayer[] {
  return ir.modules.filter((m) => m.kind === 'uc_lora').map((m) => [m.path, loraOptsOf(m, modulesOf(ir, m.block), ir) as UcLoraOpts] as const);
}

function lorasOn(conds: ConditioningRef[], mods: Map<string, Module>, layerPath: string, ir: IR): LoraOpts[] {
  return conds.map((c) => loraOf(c, mods, layerPath, ir)).filter((x): x is LoraOpts => x !== undefined);
}

export function resBlockOpts(ir: IR, b: Block): ResBlockOpts {
  const mods = modulesOf(ir, b.path);
  const convs: Module[] = [];
  for (let i = 0; mods.has(`${b.path}.conv${i}`); i++) convs.push(mods.get(`${b.path}.conv${i}`)!);
  const style = b.style!;
  const modRef = b.conditioning.residual.find((c) => c.kind === 'shift' || c.kind === 'scale_shift');
  let modulation: ModulationOpts | undefined;
  if (modRef) {
    let hidden = 0;
    while (mods.has(`${b.path}.emb${hidden}`)) hidden++;
    hidden = Math.max(0, hidden - 1);
    const at = (modRef.options.at as string | undefined) ?? (modRef.kind === 'shift' ? 'conv0' : 'norm1');
    modulation = { kind: modRef.kind as 'shift' | 'scale_shift', at: at as ModulationOpts['at'], hidden };
  }
  let attention: AttentionOpts | undefined;
  if (b.attention) {
    const a = `${b.path}.attn`;
    attention = {
      heads: b.heads ?? 1,
      norm: normOf(mods.get(`${a}.norm`)) ?? { kind: 'group', groups: 1, eps: 1e-5, affine: false },
      adaln: mods.has(`${a}.adaln`),
      lora: { qkv: lorasOn(b.conditioning.attention, mods, `${a}.qkv`, ir), proj: lorasOn(b.conditioning.attention, mods, `${a}.proj`, ir) },
    };
  }
  return {
    widths: convs.map((c) => Number(c.attrs.cout)),
    kernel: Number(convs[0]?.attrs.kernel ?? 3),
    norms: convs.map((_, i) => normOf(mods.get(`${b.path}.norm${i}`))),
    order: style.order,
    residual: style.residual,
    skipConv: mods.has(`${b.path}.skip`),
    outputScale: style.outputScale,
    dropout: style.dropout,
    ...(b.resample ? { resample: { mode: b.resample, filter: ir.resampleFilter } } : {}),
    ...(modulation ? { modulation } : {}),
    lora: convs.map((c) => lorasOn(b.conditioning.residual, mods, c.path, ir)),
    ...(attention ? { attention } : {}),
  };
}

export function resampleOpts(ir: IR, b: Block): ResampleOpts {
  const mods = modulesOf(ir, b.path);
  const convM = mods.get(`${b.path}.conv`);
  const res = mods.get(`${b.path}.resample`);
  if (convM?.kind === 'conv_transpose2d') return { kind: 'conv_transpose', kernel: Number(convM.attrs.kernel) };
  if (convM && res) return { kind: 'nearest_conv', kernel: Number(convM.attrs.kernel) };
  if (convM) return { kind: 'conv', kernel: Number(convM.attrs.kernel), stride: Number(convM.attrs.stride) };
  return res?.attrs.mode === 'avgpool' ? { kind: 'avgpool' } : { kind: 'nearest' };
}

export function headOpts(ir: IR, b: Block): { norm: NormOpts | null; kernel: number } {
  const mods = modulesOf(ir, b.path);
  return { norm: normOf(mods.get(`${b.path}.norm`)), kernel: Number(mods.get(`${b.path}.conv`)!.attrs.kernel) };
}

export function embeddingOpts(ir: IR): EmbeddingOpts {
  const e = ir.embedding;
  return { noise: { ...e.noise }, label: { ...e.label }, augment: { ...e.augment }, mlp: [...e.mlp], outAct: e.outAct };
}

/** The tfjs layout of each parameter, from its module's kind. */
function layoutOf(m: Module, name: string): Layout {
  if (m.kind === 'conv2d' || m.kind === 'conv_transpose2d') return name === 'weight' ? 'conv' : 'plain';
  if (m.kind === 'linear') return name === 'weight' ? 'linear' : 'plain';
  if (m.kind === 'layer_norm') return 'chw';
  if (m.kind === 'time_lora' || m.kind === 'class_lora' || m.kind === 'uc_lora') {
    if (name === 'down') return { loraDown: Number(m.attrs.kernel) };
    if (name === 'up') return 'linear';
  }
  return 'plain';
}

function fanInOf(m: Module, shape: number[]): number {
  if (m.kind === 'conv2d') return Number(m.attrs.cin) * Number(m.attrs.kernel) ** 2;
  if (m.kind === 'conv_transpose2d') return Number(m.attrs.cout) * Number(m.attrs.kernel) ** 2; // PyTorch: weight dim 1 * k * k
  if (m.kind === 'linear') return Number(m.attrs.din);
  return shape[shape.length - 1] ?? 1;
}

export function paramSpecs(ir: IR): ParamSpec[] {
  return ir.modules.flatMap((m) =>
    m.params.map((p) => ({ name: `${m.path}.${p.name}`, shape: p.shape, init: p.init, trainable: p.trainable, layout: layoutOf(m, p.name), fanIn: fanInOf(m, p.shape) })),
  );
}
