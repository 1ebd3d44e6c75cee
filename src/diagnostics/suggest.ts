/** Levenshtein distance, for "did you mean" suggestions. Inputs are short names. */
export function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Math.abs(a.length - b.length) + 64;
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The closest candidate within a distance that scales with the name's length, if any. */
export function nearestName(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const limit = Math.max(1, Math.floor(name.length / 3));
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return bestD <= limit ? best : undefined;
}

/** " (did you mean `x`?)" or "". */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const s = nearestName(name, candidates);
  return s === undefined ? '' : `; did you mean '${s}'?`;
}

/**
 * Option names of the reference configurations (improved-diffusion's script_util.py, EDM's
 * networks.py and train.py, diffusers' UNet2DModel and schedulers) and what says the same here.
 * Someone porting a config writes these first; the closest of our names by spelling is rarely it.
 */
export const KNOWN_NAMES: Record<string, { from: string; ours: string }> = {
  // improved-diffusion
  num_res_blocks: { from: 'improved-diffusion', ours: 'unet.blocks' },
  attention_resolutions: { from: 'improved-diffusion', ours: 'unet.attention.at (resolutions, e.g. [16, 8], not downsampling factors)' },
  channel_mult: { from: 'improved-diffusion', ours: 'unet.mult' },
  model_channels: { from: 'improved-diffusion and EDM', ours: 'unet.channels' },
  num_channels: { from: 'improved-diffusion', ours: 'unet.channels' },
  num_heads: { from: 'improved-diffusion', ours: 'unet.attention.heads' },
  num_head_channels: { from: 'improved-diffusion', ours: 'unet.attention.head_channels' },
  use_scale_shift_norm: { from: 'improved-diffusion', ours: 'conditioning.residual: scale_shift' },
  resblock_updown: { from: 'improved-diffusion', ours: 'unet.down: block and unet.up: block' },
  diffusion_steps: { from: 'improved-diffusion', ours: 'diffusion.T' },
  noise_schedule: { from: 'improved-diffusion', ours: 'diffusion.schedule' },
  image_size: { from: 'improved-diffusion', ours: 'input.size' },
  class_cond: { from: 'improved-diffusion', ours: 'input.classes' },
  use_kl: { from: 'improved-diffusion', ours: 'diffusion.loss' },
  ema_rate: { from: 'improved-diffusion', ours: 'training.ema' },
  batch_size: { from: 'improved-diffusion', ours: 'training.batch' },
  // EDM
  num_blocks: { from: 'EDM', ours: 'unet.blocks' },
  attn_resolutions: { from: 'EDM', ours: 'unet.attention.at' },
  channel_mult_emb: { from: 'EDM', ours: 'embedding.mlp (its widths: channels x channel_mult_emb)' },
  channel_mult_noise: { from: 'EDM', ours: 'embedding.noise dim (channels x channel_mult_noise)' },
  embedding_type: { from: 'EDM', ours: 'embedding.noise' },
  encoder_type: { from: 'EDM', ours: 'unet.down' },
  decoder_type: { from: 'EDM', ours: 'unet.up' },
  img_resolution: { from: 'EDM', ours: 'input.size' },
  img_channels: { from: 'EDM', ours: 'input.channels' },
  in_channels: { from: 'EDM and diffusers', ours: 'input.channels' },
  label_dim: { from: 'EDM', ours: 'input.classes' },
  augment_dim: { from: 'EDM', ours: 'input.augment' },
  ema_halflife: { from: 'EDM', ours: 'training.ema_halflife_kimg' },
  // diffusers
  block_out_channels: { from: 'diffusers', ours: 'unet.channels and unet.mult (channels x mult per level)' },
  layers_per_block: { from: 'diffusers', ours: 'unet.blocks' },
  sample_size: { from: 'diffusers', ours: 'input.size' },
  norm_num_groups: { from: 'diffusers', ours: 'unet.block.norm: group(groups: ...)' },
  norm_eps: { from: 'diffusers', ours: 'unet.block.norm: group(eps: ...)' },
  attention_head_dim: { from: 'diffusers', ours: 'unet.attention.head_channels' },
  num_class_embeds: { from: 'diffusers', ours: 'input.classes' },
  time_embedding_type: { from: 'diffusers', ours: 'embedding.noise' },
  num_train_timesteps: { from: 'diffusers', ours: 'diffusion.T' },
  beta_schedule: { from: 'diffusers', ours: 'diffusion.schedule' },
  prediction_type: { from: 'diffusers', ours: 'diffusion.predict' },
};

/** The "did you mean" suffix for an unknown option or section: a near spelling, else a reference config's name. */
export function suggestName(name: string, candidates: Iterable<string>): string {
  const near = didYouMean(name, candidates);
  if (near) return near;
  const known = KNOWN_NAMES[name];
  return known ? `; ${known.from}'s '${name}' is ${known.ours} here` : '';
}
