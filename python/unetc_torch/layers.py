"""
Layers on NCHW tensors, one function per fragment of a block op (src/ir/ops.ts), mirroring
src/runtime/model/layers.ts. `w` is the weight lookup of the block being run: `w("conv0.weight")`
is the block's parameter of that relative name (a Ref).
"""
import math

import torch
import torch.nn.functional as F


def conv(w, x, c):
    """A conv with PyTorch's symmetric zero padding (ConvOp without its LoRA layers)."""
    return F.conv2d(x, w(c["weight"]), w(c["bias"]) if c.get("bias") else None, stride=c["stride"], padding=c["pad"])


def conv_transpose(w, x, c):
    """ConvTranspose2d(k, stride 2, padding (k - 2) / 2): doubles H and W."""
    return F.conv_transpose2d(x, w(c["weight"]), w(c["bias"]), stride=2, padding=(c["kernel"] - 2) // 2)


def linear(w, x, l):
    return F.linear(x, w(l["weight"]), w(l["bias"]) if l.get("bias") else None)


def mlp(w, x, layers):
    """Linear layers with SiLU between them (not after the last)."""
    for i, l in enumerate(layers):
        x = linear(w, x, l)
        if i < len(layers) - 1:
            x = F.silu(x)
    return x


def norm(w, x, n):
    """GroupNorm (per sample and group over H, W and the group's channels) or LayerNorm over (C, H, W);
    on [N, C] vectors GroupNorm over each group's channels (UC-LoRA's composition MLP)."""
    gamma = w(n["weight"]) if n.get("weight") else None
    beta = w(n["bias"]) if n.get("bias") else None
    if n["kind"] == "layer":
        return F.layer_norm(x, list(x.shape[1:]), gamma, beta, n["eps"])
    return F.group_norm(x, n["groups"], gamma, beta, n["eps"])


def dropout(x, rate, training):
    return F.dropout(x, rate, True) if training and rate > 0 else x


def resample(x, mode, filt):
    """EDM's FIR resampling (filter normalised to sum 1, padding (k - 1) // 2): down a depthwise
    stride-2 conv, up a depthwise stride-2 transposed conv with gain 4; [1, 1] is 2x2 average
    pooling / nearest x2."""
    if len(filt) == 2 and filt[0] == filt[1]:
        return F.avg_pool2d(x, 2) if mode == "down" else F.interpolate(x, scale_factor=2, mode="nearest")
    c = x.shape[1]
    f = torch.tensor(filt, dtype=x.dtype, device=x.device)
    f2 = (torch.outer(f, f) / f.sum() ** 2).view(1, 1, len(filt), len(filt)).repeat(c, 1, 1, 1)
    pad = (len(filt) - 1) // 2
    if mode == "down":
        return F.conv2d(x, f2, stride=2, padding=pad, groups=c)
    return F.conv_transpose2d(x, f2 * 4, stride=2, padding=pad, groups=c)


def attention_core(qkv, heads, layout):
    """softmax(q k^T / sqrt(d)) v on qkv [N, 3C, H, W]; channel h 3d + 3 i + s (`interleaved`, EDM)
    or h 3d + s d + i (`per_head`, improved-diffusion), s the q/k/v index, i < d = C / heads."""
    n, c3, h, wd = qkv.shape
    c = c3 // 3
    d = c // heads
    t = h * wd
    if layout == "interleaved":
        q, k, v = qkv.reshape(n, heads, d, 3, t).unbind(3)  # each [N, heads, d, T]
    else:
        q, k, v = qkv.reshape(n, heads, 3, d, t).unbind(2)
    logits = torch.matmul(q.transpose(2, 3), k) * (1.0 / math.sqrt(d))  # [N, heads, T, T]
    a = torch.matmul(torch.softmax(logits, dim=-1), v.transpose(2, 3))  # [N, heads, T, d]
    return a.transpose(2, 3).reshape(n, c, h, wd)


def modulate(x, params, kind):
    """shift: x + p; scale_shift: x (1 + gamma) + beta, with (gamma, beta) the halves of p."""
    n, c = x.shape[0], x.shape[1]
    if kind == "shift":
        return x + params.view(n, c, 1, 1)
    scale, shift = params.chunk(2, dim=1)
    return x * (scale.reshape(n, c, 1, 1) + 1) + shift.reshape(n, c, 1, 1)
