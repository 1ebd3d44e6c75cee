"""
The TypeScript loop's seeded draws (src/runtime/train/rng.ts), bit for bit: mulberry32, the per-step
seeds stepSeed(seed, step, stream), the epoch permutations (Fisher-Yates) that fix the data order,
and the host-side uniforms / Box-Muller normals. So both engines see the same batches in the same
order and the same timesteps (DDPM) or noise levels (EDM) at every step. The Gaussian noise images
and dropout masks come from torch's generator (seeded from the same stepSeed), which is not
tfjs's: those draws differ between engines.
"""
import math

import numpy as np

M32 = 0xFFFFFFFF
STREAM = {"data": 1, "timestep": 2, "noise": 3, "dropout": 4, "augment": 5, "sample": 6}


def _imul(a, b):
    return (a * b) & M32


def mulberry32(seed):
    a = seed & M32

    def rand():
        nonlocal a
        a = (a + 0x6D2B79F5) & M32
        t = a
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296

    return rand


def step_seed(seed, step, stream):
    """A seed for one purpose of one step; in 1 .. 2^31 - 1 (rng.ts stepSeed)."""
    h = (seed ^ 0x9E3779B9) & M32
    for v in (step, stream):
        h = _imul(h ^ (v & M32), 0x85EBCA6B)
        h = _imul(h ^ (h >> 13), 0xC2B2AE35)
        h = (h ^ (h >> 16)) & M32
    return (h % 2147483646) + 1


def epoch_permutation(n, seed, epoch):
    rand = mulberry32(step_seed(seed, epoch, STREAM["data"]))
    p = list(range(n))
    for i in range(n - 1, 0, -1):
        j = math.floor(rand() * (i + 1))
        p[i], p[j] = p[j], p[i]
    return np.array(p, dtype=np.int64)


class BatchOrder:
    """The dataset indices of the global batch starting at sample position `pos` (epochs concatenated)."""

    def __init__(self, n, seed):
        self.n, self.seed, self.cache = n, seed, {}

    def indices(self, batch, pos):
        out = np.empty(batch, dtype=np.int64)
        for i in range(batch):
            k = pos + i
            epoch = k // self.n
            if epoch not in self.cache:
                self.cache = {epoch: epoch_permutation(self.n, self.seed, epoch)}
            out[i] = self.cache[epoch][k % self.n]
        return out


def uniforms(n, seed):
    rand = mulberry32(seed)
    return np.array([rand() for _ in range(n)], dtype=np.float64)


def normals(n, seed):
    """rng.ts normals: Box-Muller pairs from mulberry32."""
    rand = mulberry32(seed)
    out = np.empty(n, dtype=np.float64)
    for i in range(0, n, 2):
        u = max(rand(), 1e-12)
        v = rand()
        r = math.sqrt(-2 * math.log(u))
        out[i] = r * math.cos(2 * math.pi * v)
        if i + 1 < n:
            out[i + 1] = r * math.sin(2 * math.pi * v)
    return out
