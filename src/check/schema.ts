/**
 * What a .unet model may say: its sections, their fields, the types of their values and the
 * alternatives (calls) each field accepts. The validator walks specs against this table, so every
 * option is declared once, with its type, range and default; grammar/README.md documents it.
 *
 * The compiler knows layers, blocks and rules; nothing here names a published model.
 */

export type Ty =
  | { t: 'int'; min?: number; max?: number }
  | { t: 'num'; min?: number; max?: number; gt?: number; lt?: number }
  | { t: 'bool' }
  | { t: 'enum'; values: readonly string[] }
  | { t: 'str' }
  | { t: 'list'; of: Ty; min?: number; max?: number }
  | { t: 'union'; of: Ty[] }
  | { t: 'call'; kinds: Record<string, CallSchema>; list?: boolean }
  /** An integer expression over block-local names (`in`, `out`), evaluated per block. */
  | { t: 'width' };

export interface ArgSpec {
  ty: Ty;
  required?: boolean;
  doc?: string;
}
export type CallSchema = Record<string, ArgSpec>;

export interface FieldSpec {
  ty: Ty;
  required?: boolean;
  doc?: string;
}
export interface SectionSpec {
  doc: string;
  fields: Record<string, FieldSpec>;
  sections?: Record<string, SectionSpec>;
  /** Quoted keys (path selectors) are allowed and take this type. */
  selectors?: Ty;
}

// Limits that keep a spec from asking for absurd amounts of work before any memory is spent.
export const LIMITS = {
  imageSize: 4096,
  channels: 65536,
  levels: 12,
  blocksPerLevel: 64,
  convsPerBlock: 16,
  classes: 100000,
  steps: 1_000_000,
  bases: 4096,
  rank: 4096,
  embedDim: 65536,
  maxParams: 1e11,
  maxModules: 100_000,
};

const int = (min?: number, max?: number): Ty => ({ t: 'int', min, max });
const num = (o: Omit<Extract<Ty, { t: 'num' }>, 't'> = {}): Ty => ({ t: 'num', ...o });
const bool: Ty = { t: 'bool' };
const en = (...values: string[]): Ty => ({ t: 'enum', values });
const listOf = (of: Ty, min?: number, max?: number): Ty => ({ t: 'list', of, min, max });
const widthList: Ty = listOf({ t: 'width' }, 1, LIMITS.convsPerBlock);

export const normCall: Ty = {
  t: 'call',
  kinds: {
    group: {
      groups: { ty: int(1, 4096), doc: 'number of groups, or the most groups when min_group_channels is set' },
      min_group_channels: { ty: int(1, 4096), doc: 'use min(groups, C / min_group_channels) groups' },
      eps: { ty: num({ gt: 0, lt: 1 }) },
      affine: { ty: bool },
    },
    layer: { eps: { ty: num({ gt: 0, lt: 1 }) }, affine: { ty: bool } },
    none: {},
  },
};

const loraCommon: CallSchema = {
  rank: { ty: int(undefined, LIMITS.rank), required: true, doc: 'rank r of each LoRA pair' },
  targets: { ty: listOf(en('qkv', 'proj', ...Array.from({ length: LIMITS.convsPerBlock }, (_, i) => `conv${i}`)), 1), doc: 'layers of the block that get a LoRA' },
};

export const conditioningKinds: Record<string, CallSchema> = {
  none: {},
  shift: {
    at: { ty: en('input', 'conv0'), doc: "where the shift is added: the block's input, or after its first conv" },
    mlp: { ty: listOf({ t: 'width' }, 0, 8), doc: 'hidden widths of a per-block MLP from v (default: one linear layer)' },
  },
  scale_shift: {
    at: { ty: en('input', 'norm1'), doc: "modulate the block's input, or its second norm's output" },
    mlp: { ty: listOf({ t: 'width' }, 0, 8) },
  },
  adaln: {},
  time_lora: {
    ...loraCommon,
    bases: { ty: int(undefined, LIMITS.bases), required: true, doc: 'number m of LoRA bases' },
    T: { ty: int(1, LIMITS.steps), doc: 'size of the composition table (default: the diffusion T)' },
    init: { ty: en('interp', 'random'), doc: 'omega init: linear interpolation between knots, or random' },
  },
  class_lora: { ...loraCommon },
  uc_lora: {
    ...loraCommon,
    bases: { ty: int(undefined, LIMITS.bases), required: true },
    mlp: { ty: listOf(int(1, LIMITS.embedDim), 0, 8), doc: 'hidden widths of the composition MLP' },
    groups: { ty: int(1, 4096), doc: 'GroupNorm groups in the MLP (default min(32, width/4))' },
    bias: { ty: bool, doc: 'the extra (r*m x C_out) bias term' },
    scale: { ty: en('fixed', 'trainable') },
    eps: { ty: num({ gt: 0, lt: 1 }), doc: 'eps of the MLP GroupNorms (default 1e-5, as the LoRA paper code)' },
  },
};

const conditioningTy: Ty = { t: 'call', kinds: conditioningKinds, list: true };

const blockCallSchema: CallSchema = {
  attention: { ty: bool },
  widths: { ty: widthList },
};

export const modelSchema: SectionSpec = {
  doc: 'a model',
  fields: {},
  sections: {
    input: {
      doc: 'what the network takes',
      fields: {
        size: { ty: int(1, LIMITS.imageSize), required: true, doc: 'image height and width in pixels' },
        channels: { ty: int(1, 64), required: true, doc: 'image channels' },
        classes: { ty: int(0, LIMITS.classes), doc: 'number of class labels (0: unconditional)' },
        augment: { ty: int(0, 1024), doc: 'size of the augmentation-label vector (0: none)' },
      },
    },
    diffusion: {
      doc: 'the diffusion process and its sampler',
      fields: {
        process: { ty: en('ddpm', 'edm'), required: true, doc: 'discrete-time DDPM/IDDPM or continuous-noise EDM' },
        T: { ty: int(2, LIMITS.steps), doc: 'ddpm: number of diffusion steps' },
        schedule: { ty: en('linear', 'cosine'), doc: 'ddpm: beta schedule' },
        predict: { ty: en('eps'), doc: 'ddpm: what the network predicts' },
        learn_sigma: { ty: bool, doc: 'ddpm: also output the variance interpolation (doubles out channels)' },
        loss: { ty: en('simple', 'hybrid'), doc: 'ddpm: L_simple, or L_simple + lambda L_vlb' },
        vlb_weight: { ty: num({ min: 0 }) },
        sampler: { ty: en('ancestral', 'ddim', 'heun') },
        precond: { ty: en('edm', 'vp'), doc: 'edm: preconditioning' },
        sigma_data: { ty: num({ gt: 0 }) },
        P_mean: { ty: num() },
        P_std: { ty: num({ gt: 0 }) },
        sigma_min: { ty: num({ gt: 0 }) },
        sigma_max: { ty: num({ gt: 0 }) },
        steps: { ty: int(1, 100000), doc: 'sampling steps' },
        rho: { ty: num({ gt: 0 }) },
        rescale_timesteps: { ty: bool, doc: 'ddpm: feed the network t * 1000 / T instead of t (improved-diffusion; default true)' },
      },
    },
    embedding: {
      doc: 'the embedding network that makes the shared condition vector v',
      fields: {
        noise: {
          ty: {
            t: 'call',
            kinds: {
              sinusoidal: { dim: { ty: int(2, LIMITS.embedDim), required: true }, flip: { ty: bool } },
              positional: { dim: { ty: int(2, LIMITS.embedDim), required: true }, max_positions: { ty: int(1) }, endpoint: { ty: bool }, flip: { ty: bool } },
              fourier: { dim: { ty: int(2, LIMITS.embedDim), required: true }, scale: { ty: num({ gt: 0 }) }, flip: { ty: bool } },
              table: { dim: { ty: int(1, LIMITS.embedDim), required: true }, frozen: { ty: bool } },
            },
          },
          required: true,
          doc: 'embedding of the timestep or noise level',
        },
        label: {
          ty: { t: 'call', kinds: { none: {}, embedding: {}, linear: { bias: { ty: bool } } } },
          doc: 'how class labels join v',
        },
        label_at: { ty: en('input', 'output'), doc: 'add the label embedding before or after the MLP' },
        label_scale: { ty: { t: 'union', of: [en('sqrt_classes'), num({ gt: 0 })] }, doc: 'multiply the class vector by this before it joins v (EDM: sqrt_classes; default 1)' },
        augment: { ty: { t: 'call', kinds: { none: {}, linear: { bias: { ty: bool } } } }, doc: 'how augmentation labels join v (at the MLP input)' },
        mlp: { ty: listOf(int(1, LIMITS.embedDim), 0, 8), doc: 'widths of the shared MLP (Linear, SiLU between layers)' },
        out_act: { ty: bool, doc: 'apply SiLU after the last MLP layer' },
      },
    },
    unet: {
      doc: 'the U-Net topology',
      fields: {
        channels: { ty: int(1, LIMITS.channels), required: true, doc: 'base channel count' },
        mult: { ty: listOf(int(1, 1024), 1, LIMITS.levels), required: true, doc: 'channel multiplier of each level' },
        blocks: { ty: { t: 'union', of: [int(0, LIMITS.blocksPerLevel), listOf(int(0, LIMITS.blocksPerLevel), 1, LIMITS.levels)] }, required: true, doc: 'blocks per encoder level' },
        decoder_blocks: { ty: { t: 'union', of: [int(0, LIMITS.blocksPerLevel), listOf(int(0, LIMITS.blocksPerLevel), 1, LIMITS.levels)] }, doc: 'blocks per decoder level (default blocks + 1)' },
        decoder_widths: {
          ty: { t: 'union', of: [widthList, listOf(widthList, 1, LIMITS.levels)] },
          doc: 'conv widths of decoder blocks, if they differ from the encoder; or one list per level, level 0 first',
        },
        stem: { ty: { t: 'call', kinds: { none: {}, conv: { kernel: { ty: int(1, 15) } } } } },
        skips: { ty: en('all', 'levels', 'none'), doc: 'which encoder outputs the decoder concatenates' },
        bottleneck: { ty: en('lowest', 'below'), doc: 'middle at the lowest level, or one resampling below it' },
        down: {
          ty: {
            t: 'call',
            kinds: {
              conv: { kernel: { ty: int(1, 15) }, stride: { ty: int(2, 2) } },
              avgpool: {},
              block: {},
            },
          },
          doc: 'downsampling between levels',
        },
        up: {
          ty: {
            t: 'call',
            kinds: { nearest_conv: { kernel: { ty: int(1, 15) } }, nearest: {}, conv_transpose: { kernel: { ty: int(2, 15) } }, block: {} },
          },
          doc: 'upsampling between levels',
        },
        resample_filter: { ty: listOf(num(), 1, 8), doc: 'FIR filter of resampling blocks' },
        middle: { ty: listOf({ t: 'call', kinds: { block: blockCallSchema } }, 0, LIMITS.blocksPerLevel), doc: 'blocks of the bottleneck' },
        init: { ty: en('torch', 'edm'), doc: "weight initialisation: PyTorch's defaults with exact zeros, or EDM's xavier_uniform scheme" },
        head: { ty: { t: 'call', kinds: { conv: { kernel: { ty: int(1, 15) }, norm: { ty: bool }, zero_init: { ty: bool, doc: 'start the output conv at zero (default true)' } } } }, doc: 'output layer' },
      },
      sections: {
        block: {
          doc: 'the residual (or plain) block every level is made of',
          fields: {
            convs: { ty: int(1, LIMITS.convsPerBlock), doc: 'convolutions per block' },
            kernel: { ty: int(1, 15) },
            widths: { ty: widthList, doc: 'output channels of each conv, over `in` and `out`' },
            norm: { ty: normCall },
            order: { ty: en('pre', 'post'), doc: 'norm-act-conv (pre) or norm-conv-act (post)' },
            residual: { ty: bool },
            skip_proj: { ty: en('changed', 'changed_or_resampled'), doc: 'when the residual path gets a 1x1 conv' },
            dropout: { ty: num({ min: 0, lt: 1 }) },
            scale: { ty: num({ gt: 0 }), doc: 'output scale (no parameters)' },
          },
        },
        attention: {
          doc: 'where self-attention goes and how it is built',
          fields: {
            at: { ty: listOf(int(1, LIMITS.imageSize), 0, LIMITS.levels), doc: 'feature-map resolutions that get attention' },
            heads: { ty: int(1, 1024) },
            head_channels: { ty: int(1, 65536) },
            encoder: { ty: en('all', 'none') },
            decoder: { ty: en('all', 'last', 'none') },
            norm: { ty: normCall },
            qkv_layout: { ty: en('interleaved', 'per_head'), doc: "how qkv's channels split into heads: EDM's interleaved q/k/v, or improved-diffusion's per head" },
          },
        },
      },
    },
    conditioning: {
      doc: 'per-block conditioning, by block kind and by path',
      fields: {
        residual: { ty: conditioningTy, doc: 'conditioning of every residual block' },
        attention: { ty: conditioningTy, doc: 'conditioning of every attention block' },
      },
      selectors: conditioningTy,
    },
    training: {
      doc: 'training defaults',
      fields: {
        lr: { ty: num({ gt: 0, lt: 10 }) },
        batch: { ty: int(1, 65536) },
        steps: { ty: int(1, 1e9) },
        warmup: { ty: int(0, 1e9), doc: 'learning-rate warm-up, in steps' },
        ema: { ty: num({ min: 0, max: 1 }), doc: 'EMA decay per step' },
        ema_halflife_kimg: { ty: num({ gt: 0 }), doc: 'EMA half-life in thousands of images (EDM)' },
        grad_clip: { ty: num({ gt: 0 }) },
        dropout: { ty: num({ min: 0, lt: 1 }) },
        augment_p: { ty: num({ min: 0, max: 1 }) },
        augment_pipe: {
          ty: en('xflip', 'edm'),
          doc: "which augmentation augment_p drives: x-flips (label slot 0; the default), or EDM's geometric AugmentPipe (9 labels)",
        },
        beta1: { ty: num({ min: 0, lt: 1 }) },
        beta2: { ty: num({ min: 0, lt: 1 }) },
        weight_decay: { ty: num({ min: 0 }) },
        sample_every: { ty: int(1) },
        checkpoint_every: { ty: int(1) },
        loss_reduction: { ty: en('mean', 'sum_pixels'), doc: 'mean over everything, or sum over pixels and mean over the batch (EDM)' },
        nonfinite_grads: { ty: en('stop', 'zero'), doc: "stop on a non-finite loss, or replace non-finite gradients as EDM's nan_to_num does" },
        ramp: { ty: en('after_step', 'before_step'), doc: "count images after (default) or before the step in the lr and EMA ramps (EDM: before; its first step has lr 0)" },
        ema_warmup: { ty: bool, doc: 'warm a fixed EMA decay up as (1 + step) / (10 + step) (default true; improved-diffusion: false)' },
      },
    },
  },
};
