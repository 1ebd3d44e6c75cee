/**
 * Training-time augmentation of a batch: a pure function of the images and a seeded source of
 * draws (rng.ts), returning the augmented images and the augmentation labels the network is
 * conditioned on. Two pipes, chosen by the spec's `training { augment_pipe }`:
 *
 * - `xflip` (the default): each image is mirrored left-right with probability p; label slot 0 is
 *   1 for a mirrored image. One uniform per image, exactly as unetc has always drawn them.
 * - `edm`: the geometric part of EDM's AugmentPipe (NVlabs/edm, training/augment.py, class
 *   AugmentPipe, `__call__`) with the multipliers and strengths train.py gives it (`augment_kwargs`:
 *   xflip=1e8, yflip=1, scale=1, rotate_frac=1, aniso=1, translate_frac=1, the constructor's
 *   default strengths; `p` is `--augment`, 0.12 by default). EDM's colour transforms, integer
 *   rotation and integer translation are off in train.py and are not implemented here.
 *
 * Labels are EDM's 9-entry layout, in the order AugmentPipe appends them:
 *   0 xflip (0/1), 1 yflip (0/1), 2 scale w, 3 cos(theta) - 1, 4 sin(theta), 5 w_a cos(r), 6 w_a sin(r),
 *   7 tx w, 8 ty w,
 * where w, w_a, tx w, ty w are the standard normals behind the transforms: the scale factor is
 * 2^(w * scale_std) (so the label is log2(scale) / scale_std, not log2(scale)), the anisotropic
 * factor 2^(w_a * aniso_std) along the direction r, and the translation (tx w * W, ty w * H) *
 * translate_frac_std pixels. A transform that is off (multiplier 0) draws nothing and leaves its
 * slots at zero (EDM would leave them out; with train.py's settings every slot is present).
 *
 * Resampling follows AugmentPipe's geometric branch step for step: reflect-pad by a margin
 * computed over the whole batch, upsample 2x with the sym6 wavelet low-pass filter, bilinear
 * sampling of the inverse affine map (grid_sample, align_corners=False, zeros outside),
 * downsample 2x with the same filter, crop. Differences, all below float32 rounding of the
 * result: the arithmetic is float64 (EDM's is float32), and images whose transform is the exact
 * identity are copied instead of resampled (EDM resamples them too, which for images of 6 pixels
 * or more is the identity up to rounding, the filter being orthogonal; see `resample`).
 */
import type { Draws } from './rng.ts';

/** Entries of the augmentation-label vector (EDM's augment_dim). */
export const AUGMENT_LABELS = 9;

export type AugmentPipeName = 'xflip' | 'edm';
export const AUGMENT_PIPES: readonly AugmentPipeName[] = ['xflip', 'edm'];

/** AugmentPipe's geometric constructor arguments: probability multipliers, then strengths. */
export interface EdmPipe {
  xflip: number;
  yflip: number;
  scale: number;
  rotateFrac: number;
  aniso: number;
  translateFrac: number;
  /** log2 standard deviation of isotropic scaling. */
  scaleStd: number;
  /** Range of rotation, 1 = the full circle (angles uniform in [-pi, pi) * rotateFracMax). */
  rotateFracMax: number;
  /** log2 standard deviation of anisotropic scaling. */
  anisoStd: number;
  /** Probability that anisotropic scaling is along a random direction rather than the x axis. */
  anisoRotateProb: number;
  /** Standard deviation of translation, relative to the image size. */
  translateFracStd: number;
}

/** train.py's `augment_kwargs` (the multipliers) over AugmentPipe's default strengths. */
export const EDM_PIPE: Readonly<EdmPipe> = {
  xflip: 1e8,
  yflip: 1,
  scale: 1,
  rotateFrac: 1,
  aniso: 1,
  translateFrac: 1,
  scaleStd: 0.2,
  rotateFracMax: 1,
  anisoStd: 0.2,
  anisoRotateProb: 0.5,
  translateFracStd: 0.125,
};

/** What was drawn for each image, in label units (see the header). */
export interface AugmentParams {
  n: number;
  xflip: Uint8Array;
  yflip: Uint8Array;
  /** w: the scale factor is 2^(w * scaleStd). */
  scale: Float64Array;
  /** theta, radians; positive turns the content counter-clockwise on screen (y down). */
  rotate: Float64Array;
  /** w_a: the anisotropic factor is 2^(w_a * anisoStd). */
  aniso: Float64Array;
  /** r, radians: the direction of anisotropic stretching. */
  anisoAngle: Float64Array;
  /** Translation in units of translateFracStd * W (x, right) and * H (y, down). */
  tx: Float64Array;
  ty: Float64Array;
}

export interface BatchShape {
  n: number;
  height: number;
  width: number;
  channels: number;
}

export interface AugmentOptions {
  pipe: AugmentPipeName | EdmPipe;
  /** Overall probability multiplier (the spec's `augment_p`, EDM's `p`). */
  p: number;
  draws: Draws;
}

export interface Augmented {
  /** NHWC, same shape as the input. */
  images: Float32Array;
  /** [n, AUGMENT_LABELS], row-major. */
  labels: Float32Array;
}

/** The pipe a `training` record asks for (`augment_pipe`, default `xflip`). */
export function augmentPipeOf(training: Record<string, unknown>): AugmentPipeName {
  const v = training.augment_pipe ?? 'xflip';
  if (v !== 'xflip' && v !== 'edm')
    throw new Error(`unknown augment_pipe ${JSON.stringify(v)}; expected one of ${AUGMENT_PIPES.join(', ')}`);
  return v;
}

/** Parameters that leave every image unchanged (all labels zero). */
export function noAugment(n: number): AugmentParams {
  const f = () => new Float64Array(n);
  return { n, xflip: new Uint8Array(n), yflip: new Uint8Array(n), scale: f(), rotate: f(), aniso: f(), anisoAngle: f(), tx: f(), ty: f() };
}

/** Draw, apply, label: the whole pipeline for one training batch. */
export function augmentBatch(images: Float32Array, shape: BatchShape, o: AugmentOptions): Augmented {
  const pipe = o.pipe === 'xflip' ? 'xflip' : o.pipe === 'edm' ? EDM_PIPE : o.pipe;
  const params = pipe === 'xflip' ? drawXflips(shape.n, o.p, o.draws) : drawEdmParams(shape.n, pipe, o.p, o.draws);
  return { images: applyAugment(images, shape, params, pipe === 'xflip' ? EDM_PIPE : pipe), labels: augmentLabels(params) };
}

/** unetc's x-flip pipe: image i is mirrored when its uniform is below p. */
export function drawXflips(n: number, p: number, d: Draws): AugmentParams {
  const out = noAugment(n);
  d.uniform(n).forEach((u, i) => (out.xflip[i] = u < p ? 1 : 0));
  return out;
}

/**
 * AugmentPipe's draws, in its order (augment.py, `__call__`): for each enabled transform its
 * values for the whole batch, then a uniform per image that keeps the value when below
 * multiplier * p and zeroes it otherwise. Anisotropic scaling draws its direction r too, kept with
 * probability anisoRotateProb (not scaled by p); translation shares one gate between x and y.
 */
export function drawEdmParams(n: number, pipe: EdmPipe, p: number, d: Draws): AugmentParams {
  const out = noAugment(n);
  const gated = (values: Float64Array, prob: number): Float64Array => {
    const u = d.uniform(n);
    return values.map((v, i) => (u[i] < prob ? v : 0));
  };
  const sym = (scale: number) => d.uniform(n).map((u) => (u * 2 - 1) * scale);
  if (pipe.xflip > 0) {
    const bits = gated(
      d.uniform(n).map((u) => Math.floor(u * 2)),
      pipe.xflip * p,
    );
    out.xflip.set(bits);
  }
  if (pipe.yflip > 0) {
    const bits = gated(
      d.uniform(n).map((u) => Math.floor(u * 2)),
      pipe.yflip * p,
    );
    out.yflip.set(bits);
  }
  if (pipe.scale > 0) out.scale = gated(d.normal(n), pipe.scale * p);
  if (pipe.rotateFrac > 0) out.rotate = gated(sym(Math.PI * pipe.rotateFracMax), pipe.rotateFrac * p);
  if (pipe.aniso > 0) {
    const w = d.normal(n);
    const r = sym(Math.PI);
    out.aniso = gated(w, pipe.aniso * p);
    out.anisoAngle = gated(r, pipe.anisoRotateProb);
  }
  if (pipe.translateFrac > 0) {
    const w = d.normal(2 * n);
    const u = d.uniform(n);
    for (let i = 0; i < n; i++) {
      const keep = u[i] < pipe.translateFrac * p;
      out.tx[i] = keep ? w[i] : 0;
      out.ty[i] = keep ? w[n + i] : 0;
    }
  }
  return out;
}

/** The [n, 9] label matrix of EDM's layout (see the header). */
export function augmentLabels(a: AugmentParams): Float32Array {
  const L = new Float32Array(a.n * AUGMENT_LABELS);
  for (let i = 0; i < a.n; i++) {
    const row = [
      a.xflip[i],
      a.yflip[i],
      a.scale[i],
      Math.cos(a.rotate[i]) - 1,
      Math.sin(a.rotate[i]),
      a.aniso[i] * Math.cos(a.anisoAngle[i]),
      a.aniso[i] * Math.sin(a.anisoAngle[i]),
      a.tx[i],
      a.ty[i],
    ];
    L.set(
      row.map((v) => v + 0),
      i * AUGMENT_LABELS,
    ); // + 0: no -0 (w_a = 0 times a negative sine)
  }
  return L;
}

// --- geometry --------------------------------------------------------------------------------

/** A 2-D affine map [a b c; d e f] (the top two rows of a 3x3 homogeneous matrix). */
type Affine = [number, number, number, number, number, number];

const mul = (m: Affine, k: Affine): Affine => [
  m[0] * k[0] + m[1] * k[3],
  m[0] * k[1] + m[1] * k[4],
  m[0] * k[2] + m[1] * k[5] + m[2],
  m[3] * k[0] + m[4] * k[3],
  m[3] * k[1] + m[4] * k[4],
  m[3] * k[2] + m[4] * k[5] + m[5],
];
const translate = (tx: number, ty: number): Affine => [1, 0, tx, 0, 1, ty];
const scale = (sx: number, sy: number): Affine => [sx, 0, 0, 0, sy, 0];
/** augment.py's rotate2d: [cos -sin; sin cos] in (x right, y down) pixel coordinates. */
const rotate = (t: number): Affine => [Math.cos(t), -Math.sin(t), 0, Math.sin(t), Math.cos(t), 0];

/**
 * The inverse transform of image i in pixel coordinates centred on the image (x right, y down):
 * output pixel q shows input point G q. Composed as augment.py composes G_inv: scale, rotation,
 * anisotropic scaling, translation, each multiplied on the right. Undefined for the identity.
 */
export function inverseTransform(a: AugmentParams, i: number, pipe: EdmPipe, width: number, height: number): Affine | undefined {
  let G: Affine | undefined;
  const then = (m: Affine) => (G = G ? mul(G, m) : m);
  if (a.scale[i] !== 0) {
    const s = 2 ** (a.scale[i] * pipe.scaleStd);
    then(scale(1 / s, 1 / s));
  }
  if (a.rotate[i] !== 0) then(rotate(a.rotate[i])); // rotate2d_inv(-theta)
  if (a.aniso[i] !== 0) {
    const s = 2 ** (a.aniso[i] * pipe.anisoStd);
    const r = a.anisoAngle[i];
    then(mul(mul(rotate(-r), scale(1 / s, s)), rotate(r))); // rotate2d_inv(r) scale2d_inv(s, 1/s) rotate2d_inv(-r)
  }
  if (a.tx[i] !== 0 || a.ty[i] !== 0) then(translate(-a.tx[i] * width * pipe.translateFracStd, -a.ty[i] * height * pipe.translateFracStd));
  return G;
}

/**
 * sym6 wavelet low-pass coefficients, as augment.py's `wavelets['sym6']` lists them (the
 * Daubechies least-asymmetric filter of length 12; sum sqrt(2), orthonormal to its even shifts).
 */
export const SYM6 = [
  0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633, 0.4910559419267466, 0.787641141030194,
  0.3379294217276218, -0.07263752278646252, -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
];
const TAPS = SYM6.length;
// The taps by index, for the unrolled inner loops (e: even index, o: odd).
const [e0, o1, e2, o3, e4, o5, e6, o7, e8, o9, e10, o11] = SYM6;
/** augment.py's Hz_pad: the output's extra border (in pixels) before the final crop. */
const HZ_PAD = Math.floor(TAPS / 4);

/** Apply drawn parameters: x-flip, y-flip, then the geometric transforms (augment.py's order). */
export function applyAugment(images: Float32Array, shape: BatchShape, a: AugmentParams, pipe: EdmPipe = EDM_PIPE): Float32Array {
  const { n, height: H, width: W, channels: C } = shape;
  if (images.length !== n * H * W * C || a.n !== n)
    throw new Error(`augment: ${images.length} values and ${a.n} parameter rows for a batch of ${n}x${H}x${W}x${C}`);
  const out = new Float32Array(images);
  const hw = H * W * C;
  for (let i = 0; i < n; i++) {
    if (!a.xflip[i] && !a.yflip[i]) continue;
    const src = images.subarray(i * hw, (i + 1) * hw);
    const dst = out.subarray(i * hw, (i + 1) * hw);
    for (let y = 0; y < H; y++) {
      const sy = a.yflip[i] ? H - 1 - y : y;
      for (let x = 0; x < W; x++) {
        const sx = a.xflip[i] ? W - 1 - x : x;
        for (let c = 0; c < C; c++) dst[(y * W + x) * C + c] = src[(sy * W + sx) * C + c];
      }
    }
  }
  const G = Array.from({ length: n }, (_, i) => inverseTransform(a, i, pipe, W, H));
  if (G.every((g) => g === undefined)) return out;
  const margin = batchMargin(G, W, H);
  const scratch = new Scratch();
  for (let i = 0; i < n; i++) {
    const g = G[i];
    if (g) resample(out.subarray(i * hw, (i + 1) * hw), g, H, W, C, margin, scratch);
  }
  return out;
}

/**
 * augment.py's padding margin [x0, y0, x1, y1]: how far the transformed image corners reach
 * beyond the image, over the whole batch, plus two filter half-widths, clamped to [0, size - 1]
 * and rounded up. Identity images count with their own corners, as in EDM.
 */
function batchMargin(G: (Affine | undefined)[], W: number, H: number): [number, number, number, number] {
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  const m = [-Infinity, -Infinity, -Infinity, -Infinity];
  for (const g of G) {
    const k = g ?? translate(0, 0);
    for (const [px, py] of [
      [-cx, -cy],
      [cx, -cy],
      [cx, cy],
      [-cx, cy],
    ]) {
      const x = k[0] * px + k[1] * py + k[2];
      const y = k[3] * px + k[4] * py + k[5];
      m[0] = Math.max(m[0], -x);
      m[1] = Math.max(m[1], -y);
      m[2] = Math.max(m[2], x);
      m[3] = Math.max(m[3], y);
    }
  }
  const lim = [W - 1, H - 1, W - 1, H - 1];
  const half = [cx, cy, cx, cy];
  return m.map((v, j) => Math.ceil(Math.min(Math.max(v + HZ_PAD * 2 - half[j], 0), lim[j]))) as [number, number, number, number];
}

/** Mirror index i into [0, n) without repeating the edge (torch's 'reflect' padding). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n - 2;
  const k = ((i % period) + period) % period;
  return k < n ? k : period - k;
}

/**
 * One image through augment.py's geometric branch, in place (NHWC, C interleaved):
 * 1. reflect-pad by the batch margin, and move the origin to the padded image's centre;
 * 2. upsample 2x: zeros between samples, then the flipped sym6 filter (a true convolution),
 *    along x then y: up[k] = sum_j pad[j] h[k + 5 - 2j];
 * 3. sample the upsampled image bilinearly at G applied to an output grid of 2 (size + 2 Hz_pad)
 *    pixels, with grid_sample's align_corners=False pixel centres and zeros outside;
 * 4. filter with sym6 (correlation) at stride 2, along x then y: out[m] = sum_t s[2m + t - 5] h[t],
 *    and crop Hz_pad pixels from each side.
 * The upsampled image is computed only where the bilinear samples read it (per row, inside their
 * bounding box): the same values as computing all of it. For an identity G the whole chain is the
 * identity when the margin is at least 5 (sum_t h[t] h[t + 2m] = delta(m)).
 */
function resample(
  img: Float32Array,
  G: Affine,
  H: number,
  W: number,
  C: number,
  margin: [number, number, number, number],
  scratch: Scratch,
): void {
  const [mx0, my0, mx1, my1] = margin;
  const Pw = W + mx0 + mx1;
  const Ph = H + my0 + my1;
  const Wu = 2 * Pw;
  const Hu = 2 * Ph;
  const Wo = 2 * (W + 2 * HZ_PAD);
  const Ho = 2 * (H + 2 * HZ_PAD);

  // The map from an output-grid pixel index to an upsampled-input pixel index. In pixel units
  // centred on each image, affine_grid + grid_sample (align_corners=False) sample input point
  // G3 q at output point q, where G3 is augment.py's G_inv after its origin shift, its 2x
  // conjugation and its half-pixel conjugation; pixel index = centred coordinate + (size - 1) / 2.
  let G3 = mul(translate((mx0 - mx1) / 2, (my0 - my1) / 2), G);
  G3 = mul(mul(scale(2, 2), G3), scale(0.5, 0.5));
  G3 = mul(mul(translate(-0.5, -0.5), G3), translate(0.5, 0.5));
  const M = mul(mul(translate((Wu - 1) / 2, (Hu - 1) / 2), G3), translate(-(Wo - 1) / 2, -(Ho - 1) / 2));

  // The box of upsampled pixels that the bilinear taps can read (M is affine: its corners bound it).
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (const [qx, qy] of [
    [0, 0],
    [Wo - 1, 0],
    [0, Ho - 1],
    [Wo - 1, Ho - 1],
  ]) {
    const ix = Math.floor(M[0] * qx + M[1] * qy + M[2]);
    const iy = Math.floor(M[3] * qx + M[4] * qy + M[5]);
    x0 = Math.min(x0, ix);
    x1 = Math.max(x1, ix + 1);
    y0 = Math.min(y0, iy);
    y1 = Math.max(y1, iy + 1);
  }
  x0 = Math.max(x0, 0);
  y0 = Math.max(y0, 0);
  x1 = Math.min(x1, Wu - 1);
  y1 = Math.min(y1, Hu - 1);
  if (x0 > x1 || y0 > y1) {
    img.fill(0);
    return;
  }
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  // Padded rows r0..r1 and columns c0..c1 that upsampled rows y0..y1 and columns x0..x1 read
  // (j with 0 <= k + 5 - 2j < TAPS), and where each lies in the image (reflect padding).
  const r0 = Math.max(0, Math.ceil((y0 + 5 - (TAPS - 1)) / 2));
  const r1 = Math.min(Ph - 1, Math.floor((y1 + 5) / 2));
  const c0 = Math.max(0, Math.ceil((x0 + 5 - (TAPS - 1)) / 2));
  const c1 = Math.min(Pw - 1, Math.floor((x1 + 5) / 2));
  const rows = r1 - r0 + 1;
  const cols = c1 - c0 + 1;

  const plane = scratch.get('plane', rows * cols);
  const upX = scratch.get('upX', rows * bw);
  const up = scratch.get('up', C * bh * bw); // channel-major: C planes of bh x bw
  const grid = scratch.get('grid', C * Ho * Wo);
  const downX = scratch.get('downX', Ho * W);
  const lo = (TAPS - 1) >> 1; // augment.py's conv_pad of the downsampling filter (5)
  // The padded columns each upsampled column x0..x1 reads.
  const tapFrom = new Int32Array(bw);
  const tapTo = new Int32Array(bw);
  for (let k = x0; k <= x1; k++) {
    tapFrom[k - x0] = Math.max(c0, Math.ceil((k + 5 - (TAPS - 1)) / 2));
    tapTo[k - x0] = Math.min(c1, Math.floor((k + 5) / 2));
  }

  // Which columns of each upsampled row the taps read (a rotated grid covers about half its box),
  // and so which columns of each padded row the x pass must produce. Outside these, `up` and
  // `upX` hold stale values that nothing reads.
  const spanLo = new Int32Array(bh).fill(bw);
  const spanHi = new Int32Array(bh).fill(-1);
  for (let qy = 0; qy < Ho; qy++) {
    for (let qx = 0; qx < Wo; qx++) {
      const fx = Math.floor(M[0] * qx + M[1] * qy + M[2]) - x0;
      const fy = Math.floor(M[3] * qx + M[4] * qy + M[5]) - y0;
      for (let r = Math.max(fy, 0); r <= Math.min(fy + 1, bh - 1); r++) {
        spanLo[r] = Math.min(spanLo[r], Math.max(fx, 0));
        spanHi[r] = Math.max(spanHi[r], Math.min(fx + 1, bw - 1));
      }
    }
  }
  const padLo = new Int32Array(rows).fill(bw);
  const padHi = new Int32Array(rows).fill(-1);
  for (let k = y0; k <= y1; k++) {
    const j0 = Math.max(r0, Math.ceil((k + 5 - (TAPS - 1)) / 2));
    const j1 = Math.min(r1, Math.floor((k + 5) / 2));
    for (let j = j0; j <= j1; j++) {
      padLo[j - r0] = Math.min(padLo[j - r0], spanLo[k - y0]);
      padHi[j - r0] = Math.max(padHi[j - r0], spanHi[k - y0]);
    }
  }

  const rowAt = Int32Array.from({ length: rows }, (_, r) => reflect(r0 + r - my0, H));
  const colAt = Int32Array.from({ length: cols }, (_, j) => reflect(c0 + j - mx0, W));

  for (let c = 0; c < C; c++) {
    // 1: the reflect-padded rows and columns this image reads, as a plane.
    for (let r = 0; r < rows; r++) {
      const sy = rowAt[r] * W;
      for (let j = 0; j < cols; j++) plane[r * cols + j] = img[(sy + colAt[j]) * C + c];
    }
    // 2: upsample along x, then along y. Away from the padded image's edges every upsampled
    // sample reads 6 inputs j0..j0+5 with taps h[11], h[9], ..., h[1] (even k) or h[10], ..., h[0].
    for (let r = 0; r < rows; r++) {
      const src = r * cols - c0;
      const dst = r * bw;
      for (let t = padLo[r]; t <= padHi[r]; t++) {
        const k = x0 + t;
        const j0 = tapFrom[t];
        let acc = 0;
        if (tapTo[t] - j0 === 5) {
          const q = src + j0;
          acc =
            (k & 1) === 0
              ? o11 * plane[q] + o9 * plane[q + 1] + o7 * plane[q + 2] + o5 * plane[q + 3] + o3 * plane[q + 4] + o1 * plane[q + 5]
              : e10 * plane[q] + e8 * plane[q + 1] + e6 * plane[q + 2] + e4 * plane[q + 3] + e2 * plane[q + 4] + e0 * plane[q + 5];
        } else {
          for (let j = j0; j <= tapTo[t]; j++) acc += SYM6[k + 5 - 2 * j] * plane[src + j];
        }
        upX[dst + t] = acc;
      }
    }
    const upC = c * bh * bw;
    for (let k = y0; k <= y1; k++) {
      const j0 = Math.max(r0, Math.ceil((k + 5 - (TAPS - 1)) / 2));
      const j1 = Math.min(r1, Math.floor((k + 5) / 2));
      const o = upC + (k - y0) * bw;
      const t0 = spanLo[k - y0];
      const t1 = spanHi[k - y0];
      if (j1 - j0 === 5) {
        const even = (k & 1) === 0;
        const a0 = even ? o11 : e10,
          a1 = even ? o9 : e8,
          a2 = even ? o7 : e6,
          a3 = even ? o5 : e4,
          a4 = even ? o3 : e2,
          a5 = even ? o1 : e0;
        const s = (j0 - r0) * bw;
        for (let t = t0; t <= t1; t++) {
          const q = s + t;
          up[o + t] =
            a0 * upX[q] + a1 * upX[q + bw] + a2 * upX[q + 2 * bw] + a3 * upX[q + 3 * bw] + a4 * upX[q + 4 * bw] + a5 * upX[q + 5 * bw];
        }
        continue;
      }
      up.fill(0, o + t0, o + t1 + 1);
      for (let j = j0; j <= j1; j++) {
        const h = SYM6[k + 5 - 2 * j];
        const s = (j - r0) * bw;
        for (let t = t0; t <= t1; t++) up[o + t] += h * upX[s + t];
      }
    }
  }

  // 3: bilinear samples on the output grid; taps outside the upsampled image read zero.
  const plen = bh * bw;
  const glen = Ho * Wo;
  const at = (c: number, iy: number, ix: number) =>
    ix < x0 || ix > x1 || iy < y0 || iy > y1 ? 0 : up[c * plen + (iy - y0) * bw + (ix - x0)];
  for (let qy = 0; qy < Ho; qy++) {
    for (let qx = 0; qx < Wo; qx++) {
      const ix = M[0] * qx + M[1] * qy + M[2];
      const iy = M[3] * qx + M[4] * qy + M[5];
      const fx = Math.floor(ix);
      const fy = Math.floor(iy);
      const ax = ix - fx;
      const ay = iy - fy;
      const w00 = (1 - ax) * (1 - ay);
      const w01 = ax * (1 - ay);
      const w10 = (1 - ax) * ay;
      const w11 = ax * ay;
      const g = qy * Wo + qx;
      if (fx >= x0 && fx < x1 && fy >= y0 && fy < y1) {
        for (let c = 0, s = (fy - y0) * bw + (fx - x0); c < C; c++, s += plen) {
          grid[c * glen + g] = w00 * up[s] + w01 * up[s + 1] + w10 * up[s + bw] + w11 * up[s + bw + 1];
        }
      } else {
        for (let c = 0; c < C; c++)
          grid[c * glen + g] = w00 * at(c, fy, fx) + w01 * at(c, fy, fx + 1) + w10 * at(c, fy + 1, fx) + w11 * at(c, fy + 1, fx + 1);
      }
    }
  }

  // 4: downsample along x (all grid rows), then along y, keeping the centre H x W. Output pixel
  // x reads grid columns 2 (x + Hz_pad) - 5 + t = 2x + 1 + t, t < 12: always inside the grid.
  const first = 2 * HZ_PAD - lo; // 1
  for (let c = 0; c < C; c++) {
    const gc = c * glen;
    for (let qy = 0; qy < Ho; qy++) {
      for (let x = 0; x < W; x++) {
        const g = gc + qy * Wo + 2 * x + first;
        downX[qy * W + x] =
          e0 * grid[g] +
          o1 * grid[g + 1] +
          e2 * grid[g + 2] +
          o3 * grid[g + 3] +
          e4 * grid[g + 4] +
          o5 * grid[g + 5] +
          e6 * grid[g + 6] +
          o7 * grid[g + 7] +
          e8 * grid[g + 8] +
          o9 * grid[g + 9] +
          e10 * grid[g + 10] +
          o11 * grid[g + 11];
      }
    }
    for (let y = 0; y < H; y++) {
      const r = (2 * y + first) * W;
      for (let x = 0; x < W; x++) {
        const d = r + x;
        img[(y * W + x) * C + c] =
          e0 * downX[d] +
          o1 * downX[d + W] +
          e2 * downX[d + 2 * W] +
          o3 * downX[d + 3 * W] +
          e4 * downX[d + 4 * W] +
          o5 * downX[d + 5 * W] +
          e6 * downX[d + 6 * W] +
          o7 * downX[d + 7 * W] +
          e8 * downX[d + 8 * W] +
          o9 * downX[d + 9 * W] +
          e10 * downX[d + 10 * W] +
          o11 * downX[d + 11 * W];
      }
    }
  }
}

/** Float64 work buffers reused across the images of a batch. */
class Scratch {
  private bufs = new Map<string, Float64Array>();
  get(name: string, size: number): Float64Array {
    let b = this.bufs.get(name);
    if (!b || b.length < size) this.bufs.set(name, (b = new Float64Array(size)));
    return b;
  }
}
