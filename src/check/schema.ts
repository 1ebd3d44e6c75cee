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
  | {
      t: 'call';
      kinds: Record<string, CallSchema>;
      list?: boolean;
      /** What each kind is (documentation only). */ docs?: Record<string, string>;
    }
  /** An integer expression over block-local names (`in`, `out`), evaluated per block. */
  | { t: 'width' };

export interface ArgSpec {
  ty: Ty;
  required?: boolean;
  doc?: string;
  /**
   * What an omitted argument means, as the reference states it (documentation only: the validator
   * never reads it; src/elaborate/settings.ts applies the defaults). Shown by the editor's hover.
   */
  default?: string;
}
export type CallSchema = Record<string, ArgSpec>;

export interface FieldSpec {
  ty: Ty;
  required?: boolean;
  doc?: string;
  /** What an omitted option means (documentation only, as ArgSpec.default). */
  default?: string;
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
      groups: { ty: int(1, 4096), doc: 'number of groups, or the most groups when min_group_channels is set', default: '32' },
      min_group_channels: { ty: int(1, 4096), doc: 'use min(groups, C / min_group_channels) groups' },
      eps: { ty: num({ gt: 0, lt: 1 }), doc: 'added to the variance for numerical stability', default: '1e-5' },
      affine: { ty: bool, doc: 'learn a per-channel weight and bias ([C] each)', default: 'true' },
    },
    layer: {
      eps: { ty: num({ gt: 0, lt: 1 }), doc: 'added to the variance for numerical stability', default: '1e-5' },
      affine: { ty: bool, doc: 'learn an elementwise weight and bias ([C, H, W] each)', default: 'true' },
    },
    none: {},
  },
  docs: {
    group: 'GroupNorm: channels split into groups, each normalised over its channels and the image',
    layer: 'LayerNorm over the whole (C, H, W) tensor',
    none: 'no norm',
  },
};

const loraCommon: CallSchema = {
  rank: { ty: int(undefined, LIMITS.rank), required: true, doc: 'rank r of each LoRA pair' },
  targets: {
    ty: listOf(en('qkv', 'proj', ...Array.from({ length: LIMITS.convsPerBlock }, (_, i) => `conv${i}`)), 1),
    doc: 'layers of the block that get a LoRA',
    default: 'every eligible layer (qkv, proj on attention; every conv of a residual block)',
  },
};

export const conditioningKinds: Record<string, CallSchema> = {
  none: {},
  shift: {
    at: { ty: en('input', 'conv0'), doc: "where the shift is added: the block's input, or after its first conv", default: 'conv0' },
    mlp: {
      ty: listOf({ t: 'width' }, 0, 8),
      doc: 'hidden widths of a per-block MLP from v (default: one linear layer)',
      default: 'one linear layer',
    },
  },
  scale_shift: {
    at: { ty: en('input', 'norm1'), doc: "modulate the block's input, or its second norm's output", default: 'norm1' },
    mlp: { ty: listOf({ t: 'width' }, 0, 8), doc: 'hidden widths of a per-block MLP from v, as for shift', default: 'one linear layer' },
  },
  adaln: {},
  time_lora: {
    ...loraCommon,
    bases: { ty: int(undefined, LIMITS.bases), required: true, doc: 'number m of LoRA bases' },
    T: { ty: int(1, LIMITS.steps), doc: 'size of the composition table (default: the diffusion T)', default: 'diffusion.T' },
    init: { ty: en('interp', 'random'), doc: 'omega init: linear interpolation between knots, or random', default: 'interp' },
  },
  class_lora: { ...loraCommon },
  uc_lora: {
    ...loraCommon,
    bases: { ty: int(undefined, LIMITS.bases), required: true, doc: 'number m of LoRA bases' },
    mlp: { ty: listOf(int(1, LIMITS.embedDim), 0, 8), doc: 'hidden widths of the composition MLP', default: '[128, 64]' },
    groups: {
      ty: int(1, 4096),
      doc: 'GroupNorm groups in the MLP (default min(32, width/4))',
      default: 'max(1, min(32, floor(w / 4))) for hidden width w',
    },
    bias: { ty: bool, doc: 'the extra (r*m x C_out) bias term', default: 'true' },
    scale: { ty: en('fixed', 'trainable'), doc: 'the LoRA scale: fixed at 1, or one trainable scalar per LoRA layer', default: 'fixed' },
    eps: {
      ty: num({ gt: 0, lt: 1 }),
      doc: 'eps of the MLP GroupNorms (the LoRA paper code builds them with its nn.py default)',
      default: '1e-5',
    },
  },
};

/** What each conditioning kind does (documentation only; grammar/README.md §7 has the math). */
export const conditioningKindDocs: Record<string, string> = {
  none: 'no conditioning',
  shift: 'residual blocks: adds a projection of v to the activations (h + Linear(v))',
  scale_shift: 'residual blocks: modulates activations by a scale and shift from v (h * (1 + gamma) + beta)',
  adaln: "attention blocks: the attention norm's output modulated by (1 + scale, shift) = Linear(v)",
  time_lora: 'TimeLoRA: m LoRA bases composed per timestep by a learned table omega [T, m]; needs ddpm and a T',
  class_lora: 'ClassLoRA: one rank-r LoRA pair per class; needs input.classes >= 1',
  uc_lora: 'UC-LoRA: m LoRA bases composed by an MLP on v (works with continuous noise levels)',
};

const conditioningTy: Ty = { t: 'call', kinds: conditioningKinds, list: true, docs: conditioningKindDocs };

const blockCallSchema: CallSchema = {
  attention: { ty: bool, doc: 'append attention to this block', default: 'false' },
  widths: {
    ty: widthList,
    doc: 'conv widths (in = out = the channels it receives); the list length is its conv count',
    default: 'block.convs convs, each out',
  },
};

export const modelSchema: SectionSpec = {
  doc: 'a model',
  fields: {},
  sections: {
    input: {
      doc: 'what the network takes',
      fields: {
        size: {
          ty: int(1, LIMITS.imageSize),
          required: true,
          doc: 'image height and width in pixels; must be divisible by 2^(levels−1), or by 2^levels with `bottleneck: below` (E0401, E0409)',
        },
        channels: { ty: int(1, 64), required: true, doc: 'image channels; the head outputs this many (twice as many with `learn_sigma`)' },
        classes: {
          ty: int(0, LIMITS.classes),
          doc: 'number of class labels (0: unconditional); when > 0 something must read the label (E0511)',
          default: '0',
        },
        augment: { ty: int(0, 1024), doc: 'size of the augmentation-label vector (0: none)', default: '0' },
      },
    },
    diffusion: {
      doc: 'the diffusion process and its sampler',
      fields: {
        process: { ty: en('ddpm', 'edm'), required: true, doc: 'discrete-time DDPM/IDDPM or continuous-noise EDM' },
        T: {
          ty: int(2, LIMITS.steps),
          doc: 'ddpm: number of diffusion steps; also the default table size of `time_lora` and the rows of a `table` noise embedding',
        },
        schedule: { ty: en('linear', 'cosine'), doc: 'ddpm: beta schedule' },
        predict: { ty: en('eps'), doc: 'ddpm: what the network predicts' },
        learn_sigma: {
          ty: bool,
          doc: "ddpm: also output the variance interpolation (doubles the head's output channels)",
          default: 'false',
        },
        loss: { ty: en('simple', 'hybrid'), doc: 'ddpm: L_simple, or L_simple + λ·L_vlb; `hybrid` needs `learn_sigma: true` (E0603)' },
        vlb_weight: { ty: num({ min: 0 }), doc: 'ddpm: the weight λ of L_vlb' },
        sampler: { ty: en('ancestral', 'ddim', 'heun'), doc: 'sampler (either process)' },
        precond: { ty: en('edm', 'vp'), doc: 'edm: preconditioning' },
        sigma_data: { ty: num({ gt: 0 }), doc: 'edm: σ_data' },
        P_mean: { ty: num(), doc: 'edm: P_mean of the training noise distribution' },
        P_std: { ty: num({ gt: 0 }), doc: 'edm: P_std of the training noise distribution' },
        sigma_min: { ty: num({ gt: 0 }), doc: 'edm: σ_min' },
        sigma_max: { ty: num({ gt: 0 }), doc: 'edm: σ_max' },
        steps: { ty: int(1, 100000), doc: 'sampling steps (either process)' },
        rho: { ty: num({ gt: 0 }), doc: 'edm: ρ of the sampling schedule' },
        rescale_timesteps: {
          ty: bool,
          doc: "ddpm: the network (its sinusoidal/positional embedding) sees t · 1000 / T instead of t, as improved-diffusion's `_scale_timesteps` does by default; the original DDPM feeds t (`false`); a `table` embedding and TimeLoRA are indexed by t itself",
          default: 'true',
        },
      },
    },
    embedding: {
      doc: 'the embedding network that makes the shared condition vector v',
      fields: {
        noise: {
          ty: {
            t: 'call',
            kinds: {
              sinusoidal: {
                dim: { ty: int(2, LIMITS.embedDim), required: true, doc: 'embedding width' },
                flip: { ty: bool, doc: 'order of the sine and cosine halves' },
              },
              positional: {
                dim: { ty: int(2, LIMITS.embedDim), required: true, doc: 'embedding width' },
                max_positions: { ty: int(1), doc: 'frequency base' },
                endpoint: { ty: bool, doc: 'include the end point in the frequency range' },
                flip: { ty: bool, doc: 'order of the sine and cosine halves' },
              },
              fourier: {
                dim: { ty: int(2, LIMITS.embedDim), required: true, doc: 'embedding width' },
                scale: { ty: num({ gt: 0 }), doc: 'scale of the random frequencies' },
                flip: { ty: bool, doc: 'order of the sine and cosine halves' },
              },
              table: {
                dim: { ty: int(1, LIMITS.embedDim), required: true, doc: 'embedding width' },
                frozen: { ty: bool, doc: 'the table is not trained (counted as frozen parameters)', default: 'true' },
              },
            },
            docs: {
              sinusoidal: 'sinusoidal timestep embedding (no parameters)',
              positional: 'positional embedding of the noise level (no parameters)',
              fourier: 'random Fourier features of the noise level (no trained parameters)',
              table: 'a diffusion.T x dim table, initialised sinusoidally; needs diffusion.T',
            },
          },
          required: true,
          doc: 'embedding of the timestep or noise level (module `emb.noise`)',
        },
        label: {
          ty: {
            t: 'call',
            kinds: { none: {}, embedding: {}, linear: { bias: { ty: bool, doc: 'the Linear layer has a bias', default: 'true' } } },
            docs: {
              none: 'labels do not join v',
              embedding: 'a table of input.classes rows (normal init)',
              linear: 'a Linear(classes -> width)',
            },
          },
          doc: 'how class labels join `v` (module `emb.label`)',
          default: 'embedding when input.classes > 0, else none',
        },
        label_at: {
          ty: en('input', 'output'),
          doc: 'add the label embedding before the MLP (width = noise `dim`) or after it (width = E)',
          default: 'input when label is linear(...), else output',
        },
        label_scale: {
          ty: { t: 'union', of: [en('sqrt_classes'), num({ gt: 0 })] },
          doc: "the class vector is multiplied by this before it joins `v` (EDM's `map_label` reads `one_hot * sqrt(label_dim)`: `sqrt_classes`)",
          default: '1',
        },
        augment: {
          ty: {
            t: 'call',
            kinds: { none: {}, linear: { bias: { ty: bool, doc: 'the Linear layer has a bias', default: 'false' } } },
            docs: { none: 'augmentation labels do not join v', linear: 'a Linear(augment -> noise dim) added at the MLP input' },
          },
          doc: 'how augmentation labels join `v`: a Linear(augment → noise `dim`) added at the MLP input (module `emb.augment`)',
          default: 'linear when input.augment > 0, else none',
        },
        mlp: {
          ty: listOf(int(1, LIMITS.embedDim), 0, 8),
          doc: 'widths of the shared MLP (Linear layers with SiLU between; modules `emb.mlp0`, `emb.mlp1`, ...)',
          default: '[]',
        },
        out_act: { ty: bool, doc: 'apply SiLU after the last MLP layer', default: 'false' },
      },
    },
    unet: {
      doc: 'the U-Net topology',
      fields: {
        channels: { ty: int(1, LIMITS.channels), required: true, doc: 'base channel count; the stem outputs this many' },
        mult: {
          ty: listOf(int(1, 1024), 1, LIMITS.levels),
          required: true,
          doc: 'channel multiplier of each level; its length is the number of levels',
        },
        blocks: {
          ty: { t: 'union', of: [int(0, LIMITS.blocksPerLevel), listOf(int(0, LIMITS.blocksPerLevel), 1, LIMITS.levels)] },
          required: true,
          doc: 'blocks per encoder level; one number applies to every level, a list needs one item per level (E0304)',
        },
        decoder_blocks: {
          ty: { t: 'union', of: [int(0, LIMITS.blocksPerLevel), listOf(int(0, LIMITS.blocksPerLevel), 1, LIMITS.levels)] },
          doc: 'blocks per decoder level',
          default: 'blocks[l] + 1 per level',
        },
        decoder_widths: {
          ty: { t: 'union', of: [widthList, listOf(widthList, 1, LIMITS.levels)] },
          doc: "conv widths of decoder blocks, if they differ from the encoder; a list's length is the number of convs of the decoder blocks it applies to",
          default: 'block.widths',
        },
        stem: {
          ty: {
            t: 'call',
            kinds: { none: {}, conv: { kernel: { ty: int(1, 15), doc: 'kernel x kernel conv', default: '3' } } },
            docs: { none: 'no stem: the first block reads the image', conv: 'a conv from the image channels to unet.channels' },
          },
          doc: 'first layer: a conv from the image channels to `channels`; with `none` the first block reads the image',
          default: 'conv(kernel: 3)',
        },
        skips: { ty: en('all', 'levels', 'none'), doc: 'which encoder outputs the decoder concatenates (below)', default: 'all' },
        bottleneck: { ty: en('lowest', 'below'), doc: 'middle at the lowest level, or one resampling below it', default: 'lowest' },
        down: {
          ty: {
            t: 'call',
            kinds: {
              conv: {
                kernel: { ty: int(1, 15), doc: 'kernel size of the stride-2 conv', default: '3' },
                stride: { ty: int(2, 2), doc: 'the stride (always 2)' },
              },
              avgpool: {},
              block: {},
            },
            docs: {
              conv: 'stride-2 conv, channels unchanged',
              avgpool: '2 x 2 average pooling, no parameters',
              block: 'a residual block whose first conv downsamples',
            },
          },
          doc: 'downsampling between levels',
          default: 'conv(kernel: 3)',
        },
        up: {
          ty: {
            t: 'call',
            kinds: {
              nearest_conv: { kernel: { ty: int(1, 15), doc: 'kernel size of the conv after the x2 upsampling', default: '3' } },
              nearest: {},
              conv_transpose: { kernel: { ty: int(2, 15), doc: 'kernel size of the stride-2 transposed conv', default: '4' } },
              block: {},
            },
            docs: {
              nearest_conv: 'nearest-neighbour x2, then a conv',
              nearest: 'nearest-neighbour x2, no parameters',
              conv_transpose: 'stride-2 transposed conv',
              block: 'a residual block whose first conv upsamples',
            },
          },
          doc: 'upsampling between levels',
          default: 'nearest_conv(kernel: 3)',
        },
        resample_filter: {
          ty: listOf(num(), 1, 8),
          doc: 'FIR filter of resampling inside residual blocks (`down: block`, `up: block`); `[1, 1]` is 2 × 2 average pooling / nearest ×2',
        },
        init: {
          ty: en('torch', 'edm'),
          doc: "weight initialisation: PyTorch's defaults with exact zeros, or EDM's xavier_uniform scheme",
          default: 'torch',
        },
        middle: {
          ty: listOf(
            { t: 'call', kinds: { block: blockCallSchema }, docs: { block: 'a residual block of the bottleneck' } },
            0,
            LIMITS.blocksPerLevel,
          ),
          doc: 'blocks of the bottleneck',
          default: '[block(attention: true), block]',
        },
        head: {
          ty: {
            t: 'call',
            kinds: {
              conv: {
                kernel: { ty: int(1, 15), doc: 'kernel size of the output conv', default: '3' },
                norm: { ty: bool, doc: 'normalise with block.norm and apply SiLU before the conv', default: 'true' },
                zero_init: { ty: bool, doc: 'start the output conv at zero (default true)', default: 'true' },
              },
            },
            docs: { conv: 'a conv to input.channels (x 2 with learn_sigma)' },
          },
          doc: 'output layer',
          default: 'conv(kernel: 3, norm: true)',
        },
      },
      sections: {
        block: {
          doc: 'the residual (or plain) block every level is made of',
          fields: {
            convs: { ty: int(1, LIMITS.convsPerBlock), doc: 'convolutions per block', default: '2' },
            kernel: { ty: int(1, 15), doc: "kernel size of the block's convs", default: '3' },
            widths: {
              ty: widthList,
              doc: 'output channels of each conv, over `in` and `out`; needs exactly `convs` items (E0304)',
              default: 'every conv outputs out',
            },
            norm: {
              ty: normCall,
              doc: "the block's norms (also the head's, and attention's unless it names its own)",
              default: 'group(groups: 32, eps: 1e-5, affine: true)',
            },
            order: { ty: en('pre', 'post'), doc: 'norm-act-conv (pre) or norm-conv-act (post)', default: 'pre' },
            residual: { ty: bool, doc: 'add the input to the output (the last conv is then zero-initialised)', default: 'true' },
            skip_proj: {
              ty: en('changed', 'changed_or_resampled'),
              doc: 'when the residual path gets a 1 × 1 conv: when the channel count changes, or also when the block resamples',
              default: 'changed',
            },
            dropout: { ty: num({ min: 0, lt: 1 }), doc: 'dropout probability', default: '0' },
            scale: { ty: num({ gt: 0 }), doc: 'output scale (no parameters)', default: '1' },
          },
        },
        attention: {
          doc: 'where self-attention goes and how it is built',
          fields: {
            at: {
              ty: listOf(int(1, LIMITS.imageSize), 0, LIMITS.levels),
              doc: "feature-map resolutions whose level blocks get attention; each must be a level's resolution (E0403)",
              default: '[]',
            },
            heads: { ty: int(1, 1024), doc: 'attention heads; C must be divisible by them (E0408)', default: '1' },
            head_channels: { ty: int(1, 65536), doc: 'when set, heads = max(1, ⌊C / head_channels⌋) and `heads` is ignored' },
            encoder: { ty: en('all', 'none'), doc: 'encoder blocks at an `at` resolution get attention, or none do', default: 'all' },
            decoder: {
              ty: en('all', 'last', 'none'),
              doc: 'decoder blocks at an `at` resolution get attention: all, only the last block of each level, or none',
              default: 'all',
            },
            norm: { ty: normCall, doc: "the attention's norm", default: "the block's norm" },
            qkv_layout: {
              ty: en('interleaved', 'per_head'),
              doc: "how qkv's channels split into heads: EDM's interleaved q/k/v, or improved-diffusion's per head",
              default: 'interleaved',
            },
          },
        },
      },
    },
    conditioning: {
      doc: 'per-block conditioning, by block kind and by path',
      fields: {
        residual: {
          ty: conditioningTy,
          doc: 'conditioning of every residual block: level blocks, middle blocks, and the resampling blocks of `down: block` / `up: block` (not the stem, plain resampling layers or the head)',
          default: 'none',
        },
        attention: { ty: conditioningTy, doc: 'conditioning of every attention block; E0515 when the model has none', default: 'none' },
      },
      selectors: conditioningTy,
    },
    training: {
      doc: 'training defaults',
      fields: {
        lr: { ty: num({ gt: 0, lt: 10 }), doc: 'learning rate' },
        batch: { ty: int(1, 65536), doc: 'batch size' },
        steps: { ty: int(1, 1e9), doc: 'training steps' },
        warmup: { ty: int(0, 1e9), doc: 'learning-rate warm-up, in steps' },
        ema: { ty: num({ min: 0, max: 1 }), doc: 'EMA decay per step' },
        ema_halflife_kimg: { ty: num({ gt: 0 }), doc: 'EMA half-life in thousands of images (EDM); not together with `ema` (E0606)' },
        grad_clip: { ty: num({ gt: 0 }), doc: 'gradient-clipping threshold' },
        dropout: { ty: num({ min: 0, lt: 1 }), doc: 'dropout probability' },
        augment_p: { ty: num({ min: 0, max: 1 }), doc: "augmentation probability (EDM's `--augment`: 0.12 on CIFAR-10, 0.15 on FFHQ)" },
        augment_pipe: {
          ty: en('xflip', 'edm'),
          doc: "which augmentation augment_p drives: x-flips (label slot 0), or EDM's geometric AugmentPipe (9 labels)",
          default: 'xflip',
        },
        beta1: { ty: num({ min: 0, lt: 1 }), doc: 'Adam β1' },
        beta2: { ty: num({ min: 0, lt: 1 }), doc: 'Adam β2' },
        weight_decay: { ty: num({ min: 0 }), doc: 'weight decay' },
        sample_every: { ty: int(1), doc: 'sampling interval' },
        checkpoint_every: { ty: int(1), doc: 'checkpoint interval' },
        loss_reduction: {
          ty: en('mean', 'sum_pixels'),
          doc: "the objective: the mean over pixels and batch (default; improved-diffusion), or the sum over pixels and mean over the batch (EDM's `loss.sum() / batch`); the log always shows the per-pixel mean",
          default: 'mean',
        },
        nonfinite_grads: {
          ty: en('stop', 'zero'),
          doc: "stop on a non-finite loss, or replace non-finite gradients as EDM's nan_to_num does",
          default: 'stop',
        },
        ramp: {
          ty: en('after_step', 'before_step'),
          doc: 'what the lr warm-up and EMA half-life ramp count: the images including the step (default) or before it (EDM: its first step has lr 0 and copies the weights into the EMA)',
          default: 'after_step',
        },
        ema_warmup: {
          ty: bool,
          doc: 'warm a fixed `ema` decay up as (1 + step) / (10 + step) (default `true`, for short runs); improved-diffusion applies its decay from the first step (`false`)',
          default: 'true',
        },
      },
    },
  },
};

/**
 * The defaults of a section's options that are plain values (`true`, `0`, `mean`), read from the
 * documented `default` texts: what an omitted option means, for comparing two specs by meaning
 * (`unetc diff`). Defaults that are rules (`blocks[l] + 1 per level`) are left out.
 */
export function literalDefaults(section: 'diffusion' | 'training'): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const [k, f] of Object.entries(modelSchema.sections![section].fields)) {
    const d = f.default;
    if (d === undefined) continue;
    if (d === 'true' || d === 'false') out[k] = d === 'true';
    else if (/^-?\d+(\.\d+)?(e-?\d+)?$/.test(d)) out[k] = Number(d);
    else if (f.ty.t === 'enum' && f.ty.values.includes(d)) out[k] = d;
  }
  return out;
}
