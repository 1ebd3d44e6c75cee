"""
Initial values from a parameter's typed Init (src/ir/types.ts), on its PyTorch-layout shape, as
src/runtime/model/params.ts draws them: the same distributions (EDM's weight_init modes times a
gain) and the same deterministic tables, not the same random numbers. Random draws use torch's
global generator, so `torch.manual_seed(s)` before `Model()` fixes them.
"""
import math

import torch


def sinusoidal_table(rows, dim):
    """Row t: cos(t f_i) then sin(t f_i), f_i = 10000^(-i / half)."""
    half = dim // 2
    t = torch.arange(rows, dtype=torch.float64).view(rows, 1)
    f = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    out = torch.zeros(rows, dim, dtype=torch.float64)
    out[:, :half] = torch.cos(t * f)
    out[:, half : 2 * half] = torch.sin(t * f)
    return out.float()


def interpolation_table(T, m):
    """TimeLoRA's omega table: linear interpolation between m evenly spaced knots 1 = t_1 < ... < t_m = T."""
    out = torch.zeros(T, m, dtype=torch.float64)
    if m == 1:
        return out.fill_(1).float()
    step = (T - 1) / (m - 1)
    for t in range(1, T + 1):
        pos = (t - 1) / step
        i = min(math.floor(pos), m - 2)
        frac = pos - i
        out[t - 1, i] = 1 - frac
        out[t - 1, i + 1] += frac
    return out.float()


def init_tensor(shape, init):
    fn = init["fn"]
    if fn == "zeros":
        return torch.zeros(shape)
    if fn == "ones":
        return torch.ones(shape)
    if fn == "normal":
        return torch.randn(shape) * init["std"]
    if fn == "sinusoidal":
        return sinusoidal_table(shape[0], shape[1])
    if fn == "interp":
        return interpolation_table(shape[0], shape[1])
    if fn in ("xavier_uniform", "kaiming_uniform"):
        r = 6 / (init["fanIn"] + init["fanOut"]) if fn == "xavier_uniform" else 3 / max(1, init["fanIn"])
        return (torch.rand(shape) * 2 - 1) * (init["gain"] * math.sqrt(r))
    if fn in ("xavier_normal", "kaiming_normal"):
        r = 2 / (init["fanIn"] + init["fanOut"]) if fn == "xavier_normal" else 1 / max(1, init["fanIn"])
        return torch.randn(shape) * (init["gain"] * math.sqrt(r))
    raise ValueError(f"unknown init {fn}")
