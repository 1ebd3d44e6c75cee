/**
 * Deterministic randomness for training. Every random draw of step s comes from a seed derived
 * from (run seed, step, stream), and the data order of epoch e from (run seed, e), so a run resumed
 * at step s draws exactly what an uninterrupted run would: the "RNG state" is just (seed, step).
 */

/** mulberry32: a small, well-mixed 32-bit generator; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for one purpose of one step; positive and below 2^31 (tfjs seeds). */
export function stepSeed(seed: number, step: number, stream: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [step, stream]) {
    h = Math.imul(h ^ v, 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return (h % 2147483646) + 1;
}

export const Stream = { data: 1, timestep: 2, noise: 3, dropout: 4, augment: 5, sample: 6 } as const;

/** Fisher-Yates permutation of 0..n-1 for one epoch. */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  const rand = mulberry32(stepSeed(seed, epoch, Stream.data));
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** The dataset indices of the batch that starts at sample position `pos` (epochs concatenated). */
export function batchIndices(n: number, batch: number, pos: number, seed: number, cache: Map<number, Int32Array>): Int32Array {
  const out = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    const k = pos + i;
    const epoch = Math.floor(k / n);
    let perm = cache.get(epoch);
    if (!perm) {
      perm = epochPermutation(n, seed, epoch);
      cache.clear();
      cache.set(epoch, perm);
    }
    out[i] = perm[k % n];
  }
  return out;
}

/** n standard normals (Box-Muller) from a seed, in float64, for host-side draws. */
export function normals(n: number, seed: number): Float64Array {
  const rand = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

export function uniforms(n: number, seed: number): Float64Array {
  const rand = mulberry32(seed);
  return Float64Array.from({ length: n }, () => rand());
}

/** A sequential source of draws from one seed: uniforms in [0, 1) and standard normals. */
export interface Draws {
  uniform(n: number): Float64Array;
  normal(n: number): Float64Array;
}

/**
 * Draws from one generator, in call order, so a consumer's sequence of calls is reproducible from
 * the seed alone. `uniform(n)` as the first call equals `uniforms(n, seed)`; `normal` is the
 * Box-Muller transform of `normals` (pairs, so an odd n consumes one spare uniform).
 */
export function draws(seed: number): Draws {
  const rand = mulberry32(seed);
  return {
    uniform: (n) => Float64Array.from({ length: n }, () => rand()),
    normal: (n) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i += 2) {
        const r = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12)));
        const v = rand();
        out[i] = r * Math.cos(2 * Math.PI * v);
        if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
      }
      return out;
    },
  };
}
