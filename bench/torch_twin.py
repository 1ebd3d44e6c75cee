#!/usr/bin/env python3
"""
A PyTorch twin of a unetc model, built from the model's IR JSON (`unetc check SPEC --emit-ir OUT.json`),
for benchmarks and cross-checks only (PyTorch is never a dependency of unetc or its tests). It stands
in until the PyTorch target (python/unetc_torch) replaces it.

The twin reads only the typed block ops, `ir.blocks[*].op` (src/ir/ops.ts), and the parameter table
`ir.modules[*].params` (names, PyTorch-layout shapes, inits, trainability). It never looks at module
kinds or path conventions to decide what to compute: every function below takes one op fragment and
the weights of its block, and reads exactly the tensors the op names (a Ref, relative to the block's
path). The functions mirror src/runtime/model/ one for one, in NCHW:

  layers.ts     conv, conv_transpose, linear, norm (GroupNorm / LayerNorm over C, H, W), group_norm_1d,
                resample (FIR with the op's filter; [1, 1]: 2x2 average pool / nearest x2), attention_core
                (qkv layout `interleaved` EDM or `per_head` improved-diffusion)
  lora.ts       composition_weights (time_lora table row, class vector, uc_lora MLP), lora_delta (down,
                omega_rep, up, omega_rep @ Bias, scale), conv_with_lora choosing the formulation as the
                runtime does (per_sample_weights_cheaper), conv_with_lora_weights (per-sample weights)
  blocks.ts     res_block (norms, modulation at input / conv0 / norm1, activation, dropout before every
                conv but the first, resampling before conv 0 and on the skip, skip conv, output scale),
                attention_block, stem, resample_step, head
  embedding.ts  noise_embedding (table / sinusoidal / positional / fourier, times inputScale), embedding
                (label times its scale through a table or a linear map, at input or output; augment; the
                MLP with SiLU between layers; optional SiLU at the end)
  params.ts     init_tensor: zeros, ones, normal(std), xavier/kaiming uniform/normal (fanIn, fanOut,
                gain), TimeLoRA's `interp` table, the `sinusoidal` table (same distributions, not the
                same random numbers)

Parameters live in the Twin itself as a tree of plain modules, one leaf per IR parameter, so
`state_dict()` and `named_parameters()` keys are the IR's (and the checkpoints') names
(`enc.16x16.block0.attn.qkv.uc_lora.down`), with the IR's PyTorch-layout shapes.

Checks (--check, and in the benchmark before timing):
  - the parameter count (all and trainable) equals the IR's;
  - the store's names equal the names the ops read (`<block path>.<ref>` over refs_of, the twin of
    ops.ts refsOf), each read by exactly one op;
  - one forward pass reads, block by block, exactly the refs its op names, each once;
  - after one backward pass every trainable parameter has a gradient;
  - the conv / linear / transposed-conv FLOPs of one forward pass at batch 1 equal the IR's per-module
    `flops` (the module of a conv is the IR module that owns its weight).

Usage:
  /usr/bin/python3 bench/torch_twin.py --ir IR.json [--batch 64] [--warmup 3] [--steps 10]
      [--threads 2] [--profile] [--json]
  /usr/bin/python3 bench/torch_twin.py --check IR.json [IR.json ...]   (checks only)
  /usr/bin/python3 bench/torch_twin.py --ir IR.json --forward WEIGHTS.safetensors --inputs INPUTS.json
      [--grad-out GRADS.safetensors]   (eval-mode forward on given weights and inputs; prints
      {"shape", "output"} as JSON; with a `cotangent` input, the gradients of sum(output * cotangent))
  /usr/bin/python3 bench/torch_twin.py --ir IR.json --init-stats   (statistics of the initial tensors)

Run with OPENBLAS_NUM_THREADS=1 (BLAS threads fight torch's own threads).
"""
import argparse
import collections
import json
import math
import os
import statistics
import struct
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the TS benchmarks and tests check this first and skip with a message
    print(json.dumps({"error": f"torch is not installed: {e}"}))
    sys.exit(3)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


# ----------------------------------------------------------------------------------------------
# ops.ts refsOf: every Ref an op reads, in reading order.


def refs_of(op):
    out = []

    def lin(l):
        if l:
            out.append(l["weight"])
            if l.get("bias"):
                out.append(l["bias"])

    def norm(n):
        if n and n.get("weight"):
            out.append(n["weight"])
        if n and n.get("bias"):
            out.append(n["bias"])

    def lora(l):
        out.extend([l["down"], l["up"]])
        if l["kind"] == "time_lora":
            out.append(l["omega"])
        if l["kind"] == "uc_lora":
            for h in l["hidden"]:
                lin(h["linear"])
                norm(h["norm"])
            lin(l["out"])
            if l.get("bias"):
                out.append(l["bias"])
            if isinstance(l["scale"], str):
                out.append(l["scale"])

    def conv(c):
        if not c:
            return
        out.append(c["weight"])
        if c.get("bias"):
            out.append(c["bias"])
        for l in c.get("lora", []):
            lora(l)

    k = op["op"]
    if k == "embedding":
        if op["noise"].get("table"):
            out.append(op["noise"]["table"])
        label = op.get("label")
        if label and label.get("table"):
            out.append(label["table"])
        lin(label.get("linear") if label else None)
        lin(op.get("augment"))
        for l in op["mlp"]:
            lin(l)
    elif k == "stem":
        conv(op["conv"])
    elif k == "resample":
        conv(op.get("conv"))
    elif k == "head":
        norm(op["norm"])
        conv(op["conv"])
    elif k == "res_block":
        for l in (op.get("modulation") or {}).get("mlp", []):
            lin(l)
        for i, c in enumerate(op["convs"]):
            norm(op["norms"][i])
            conv(c)
        conv(op.get("skip"))
        a = op.get("attention")
        if a:
            norm(a["norm"])
            lin(a.get("adaln"))
            conv(a["qkv"])
            conv(a["proj"])
    else:
        raise ValueError(f"unknown op {k}")
    return out


# ----------------------------------------------------------------------------------------------
# params.ts: initialisation from the typed Init, on the PyTorch-layout shape.


def sinusoidal_table(rows, dim):
    half = dim // 2
    t = torch.arange(rows, dtype=torch.float64).view(rows, 1)
    f = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    out = torch.zeros(rows, dim, dtype=torch.float64)
    out[:, :half] = torch.cos(t * f)
    out[:, half : 2 * half] = torch.sin(t * f)
    return out.float()


def interpolation_table(T, m):
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


def init_tensor(shape, init, gen):
    fn = init["fn"]
    if fn == "zeros":
        return torch.zeros(shape)
    if fn == "ones":
        return torch.ones(shape)
    if fn == "normal":
        return torch.randn(shape, generator=gen) * init["std"]
    if fn == "sinusoidal":
        return sinusoidal_table(shape[0], shape[1])
    if fn == "interp":
        return interpolation_table(shape[0], shape[1])
    if fn in ("xavier_uniform", "kaiming_uniform"):
        r = 6 / (init["fanIn"] + init["fanOut"]) if fn == "xavier_uniform" else 3 / max(1, init["fanIn"])
        bound = init["gain"] * math.sqrt(r)
        return (torch.rand(shape, generator=gen) * 2 - 1) * bound
    if fn in ("xavier_normal", "kaiming_normal"):
        r = 2 / (init["fanIn"] + init["fanOut"]) if fn == "xavier_normal" else 1 / max(1, init["fanIn"])
        return torch.randn(shape, generator=gen) * (init["gain"] * math.sqrt(r))
    raise ValueError(f"unknown init {fn}")


# ----------------------------------------------------------------------------------------------
# Reading parameters: the weights of one block, as layers.ts Weights does.


class Weights:
    def __init__(self, twin, path):
        self.twin = twin
        self.path = path

    def __call__(self, ref):
        return self.twin.read(self.path, ref)

    def name(self, ref):
        return f"{self.path}.{ref}"


# ----------------------------------------------------------------------------------------------
# layers.ts


def conv(w, x, c):
    """A conv with PyTorch's symmetric zero padding (its LoRA layers: conv_with_lora)."""
    y = F.conv2d(x, w(c["weight"]), w(c["bias"]) if c.get("bias") else None, stride=c["stride"], padding=c["pad"])
    w.twin.count_flops(w.name(c["weight"]), 2 * c["cin"] * c["cout"] * c["kernel"] ** 2 * y.shape[2] * y.shape[3])
    return y


def conv_transpose(w, x, c):
    """ConvTranspose2d(k, stride 2, padding (k - 2) / 2): doubles H and W."""
    k = c["kernel"]
    y = F.conv_transpose2d(x, w(c["weight"]), w(c["bias"]), stride=2, padding=(k - 2) // 2)
    w.twin.count_flops(w.name(c["weight"]), 2 * c["cin"] * c["cout"] * k * k * x.shape[2] * x.shape[3])
    return y


def linear(w, x, l):
    w.twin.count_flops(w.name(l["weight"]), 2 * l["din"] * l["dout"])
    return F.linear(x, w(l["weight"]), w(l["bias"]) if l.get("bias") else None)


def norm(w, x, n):
    """GroupNorm (per sample and group over H, W and the group's channels) or LayerNorm over (C, H, W)."""
    gamma = w(n["weight"]) if n.get("weight") else None
    beta = w(n["bias"]) if n.get("bias") else None
    if n["kind"] == "layer":
        return F.layer_norm(x, list(x.shape[1:]), gamma, beta, n["eps"])
    return F.group_norm(x, n["groups"], gamma, beta, n["eps"])


def group_norm_1d(w, x, n):
    """GroupNorm of vectors [N, C] (UC-LoRA's composition MLP)."""
    return F.group_norm(x, n["groups"], w(n["weight"]) if n.get("weight") else None, w(n["bias"]) if n.get("bias") else None, n["eps"])


def dropout(x, rate, training):
    return F.dropout(x, rate, True) if training and rate > 0 else x


def resample(x, mode, filt):
    """EDM's FIR resampling (filter normalised to sum 1, padding (k - 1) // 2): down a depthwise
    stride-2 conv, up a depthwise stride-2 transposed conv with gain 4; [1, 1] is 2x2 average
    pooling / nearest x2."""
    if len(filt) == 2 and filt[0] == filt[1]:
        return F.avg_pool2d(x, 2) if mode == "down" else F.interpolate(x, scale_factor=2, mode="nearest")
    c = x.shape[1]
    f = torch.tensor(filt, dtype=x.dtype)
    f = f / f.sum()
    f2 = torch.outer(f, f)
    k = len(filt)
    pad = (k - 1) // 2
    if mode == "down":
        return F.conv2d(x, f2.view(1, 1, k, k).repeat(c, 1, 1, 1), stride=2, padding=pad, groups=c)
    return F.conv_transpose2d(x, (f2 * 4).view(1, 1, k, k).repeat(c, 1, 1, 1), stride=2, padding=pad, groups=c)


def attention_core(qkv, heads, layout):
    """softmax(q k^T / sqrt(d)) v on qkv [N, 3C, H, W]; channel h 3d + 3 i + s (`interleaved`, EDM)
    or h 3d + s d + i (`per_head`, improved-diffusion), s the q/k/v index, i < d = C / heads."""
    n, c3, h, w = qkv.shape
    c = c3 // 3
    d = c // heads
    t = h * w
    if layout == "interleaved":
        q, k, v = qkv.reshape(n, heads, d, 3, t).unbind(3)  # each [N, heads, d, T]
    else:
        q, k, v = qkv.reshape(n, heads, 3, d, t).unbind(2)
    logits = torch.matmul(q.transpose(2, 3), k) * (1.0 / math.sqrt(d))  # [N, heads, T, T]
    a = torch.matmul(torch.softmax(logits, dim=-1), v.transpose(2, 3))  # [N, heads, T, d]
    return a.transpose(2, 3).reshape(n, c, h, w)


# ----------------------------------------------------------------------------------------------
# lora.ts


MAX_PATCH_BYTES = 64 * 2**20


def per_sample_weights_cheaper(cin, cout, pixels, kernel=1, batch=1):
    """lora.ts perSampleWeightsCheaper: the runtime's choice of formulation (the twin follows it)."""
    k2 = kernel * kernel
    if kernel > 1 and batch * pixels * k2 * cin * 4 > MAX_PATCH_BYTES:
        return False
    return k2 * cin * cout < pixels * (k2 * cin + cout)


def uc_lora_mlp(w, l, v):
    h = v
    for layer in l["hidden"]:
        h = F.silu(group_norm_1d(w, linear(w, h, layer["linear"]), layer["norm"]))
    return linear(w, h, l["out"])


def composition_weights(w, l, inp):
    """omega [N, m]: TimeLoRA's table row for t, ClassLoRA's class vector, UC-LoRA's MLP(v)."""
    if l["kind"] == "time_lora":
        return w(l["omega"])[inp["t"].long()]
    if l["kind"] == "class_lora":
        return inp["classes"]
    return uc_lora_mlp(w, l, inp["v"])


def lora_scale(w, l):
    if l["kind"] != "uc_lora":
        return None
    if isinstance(l["scale"], str):
        return w(l["scale"])
    return None if l["scale"] == 1 else l["scale"]


def lora_bias_term(w, l, rep):
    return rep @ w(l["bias"]) if l["kind"] == "uc_lora" and l.get("bias") else None


def lora_down_weight(w, l, c):
    """The stacked A_i [m r, C_in k k] as a k x k conv weight [m r, C_in, k, k]."""
    a = w(l["down"])
    return a.view(a.shape[0], c["cin"], c["kernel"], c["kernel"])


def lora_delta(w, x, c, l, inp):
    """s [up(omega_rep * down(x)) + omega_rep @ Bias], omega_rep basis-major (channel i r + j)."""
    rep = composition_weights(w, l, inp).repeat_interleave(l["rank"], dim=1)  # [N, m r]
    n = x.shape[0]
    down = F.conv2d(x, lora_down_weight(w, l, c), stride=c["stride"], padding=c["pad"])  # [N, m r, Ho, Wo]
    up = w(l["up"])  # [C_out, m r]
    delta = torch.einsum("om,nmhw->nohw", up, down * rep.view(n, -1, 1, 1))
    bias_term = lora_bias_term(w, l, rep)
    if bias_term is not None:
        delta = delta + bias_term.view(n, -1, 1, 1)
    s = lora_scale(w, l)
    return delta * s if s is not None else delta


def conv_with_lora(w, x, c, inp):
    """A conv plus its LoRA layers, in the formulation the runtime picks for these shapes."""
    if not c["lora"]:
        return conv(w, x, c)
    n, _, h, wd = x.shape
    if c["stride"] == 1 and per_sample_weights_cheaper(c["cin"], c["cout"], h * wd, c["kernel"], n):
        return conv_with_lora_weights(w, x, c, inp)
    y = conv(w, x, c)
    for l in c["lora"]:
        y = y + lora_delta(w, x, c, l, inp)
    return y


def conv_with_lora_weights(w, x, c, inp):
    """Per-sample weights W_n = W + sum_l s_l A_l diag(omega_rep_l[n]) B_l (lora.ts
    convWithLoraWeights), run as one grouped conv (groups = N), plus the per-sample bias terms."""
    n, cin, h, wd = x.shape
    k, cout = c["kernel"], c["cout"]
    w0 = w(c["weight"])  # [C_out, C_in, k, k]
    weights = w0.unsqueeze(0)
    extra = None
    for l in c["lora"]:
        rep = composition_weights(w, l, inp).repeat_interleave(l["rank"], dim=1)  # [N, m r]
        a = w(l["down"]).unsqueeze(0) * rep.unsqueeze(2)  # [N, m r, C_in k k]
        dw = torch.matmul(w(l["up"]), a).reshape(n, cout, cin, k, k)
        db = lora_bias_term(w, l, rep)
        s = lora_scale(w, l)
        if s is not None:
            dw = dw * s
            db = db * s if db is not None else None
        weights = weights + dw
        if db is not None:
            extra = db if extra is None else extra + db
    y = F.conv2d(x.reshape(1, n * cin, h, wd), weights.expand(n, cout, cin, k, k).reshape(n * cout, cin, k, k), padding=c["pad"], groups=n)
    y = y.reshape(n, cout, y.shape[2], y.shape[3])
    w.twin.count_flops(w.name(c["weight"]), 2 * cin * cout * k * k * y.shape[2] * y.shape[3])
    if c.get("bias"):
        y = y + w(c["bias"]).view(1, -1, 1, 1)
    if extra is not None:
        y = y + extra.view(n, -1, 1, 1)
    return y


# ----------------------------------------------------------------------------------------------
# blocks.ts


def modulation_params(w, v, m):
    h = v
    for i, l in enumerate(m["mlp"]):
        h = linear(w, h, l)
        if i < len(m["mlp"]) - 1:
            h = F.silu(h)
    return h


def modulate(x, params, kind):
    n, c = x.shape[0], x.shape[1]
    if kind == "shift":
        return x + params.view(n, c, 1, 1)
    scale, shift = params.chunk(2, dim=1)
    return x * (scale.view(n, c, 1, 1) + 1) + shift.view(n, c, 1, 1)


def res_block(w, x, v, op, ctx):
    """conv_i(drop_i(act(mod_i(norm_i(h))))) for each conv i (post order: the activation after the
    conv); dropout before every conv but the first; resampling before conv 0 and on the skip; then
    the residual path, the output scale and attention."""
    mod = op.get("modulation")

    def modulated(h, at):
        return modulate(h, modulation_params(w, v, mod), mod["kind"]) if mod and mod["at"] == at else h

    rs = op.get("resample")
    inp_x = modulated(x, "input")
    h = inp_x
    for i, c in enumerate(op["convs"]):
        nrm = op["norms"][i]
        if nrm:
            h = norm(w, h, nrm)
        if i == 1:
            h = modulated(h, "norm1")
        if op["order"] == "pre":
            h = F.silu(h)
        if i > 0:
            h = dropout(h, op["dropout"], ctx["training"])
        if i == 0 and rs:
            h = resample(h, rs["mode"], rs["filter"])
        h = conv_with_lora(w, h, c, ctx["lora"])
        if op["order"] == "post":
            h = F.silu(h)
        if i == 0:
            h = modulated(h, "conv0")
    if op["residual"]:
        skip = resample(inp_x, rs["mode"], rs["filter"]) if rs else inp_x
        if op.get("skip"):
            skip = conv(w, skip, op["skip"])
        h = h + skip
    if op["outputScale"] != 1:
        h = h * op["outputScale"]
    if op.get("attention"):
        h = attention_block(w, h, v, op["attention"], ctx)
    return h


def attention_block(w, x, v, op, ctx):
    """x + proj(attention(qkv(adaLN(norm(x))))), times the output scale."""
    h = norm(w, x, op["norm"]) if op["norm"] else x
    if op.get("adaln"):
        h = modulate(h, linear(w, v, op["adaln"]), "scale_shift")
    qkv = conv_with_lora(w, h, op["qkv"], ctx["lora"])
    a = attention_core(qkv, op["heads"], op["layout"])
    y = x + conv_with_lora(w, a, op["proj"], ctx["lora"])
    return y * op["outputScale"] if op["outputScale"] != 1 else y


def stem(w, x, op):
    return conv(w, x, op["conv"])


def resample_step(w, x, op):
    mode = op["mode"]
    if mode == "conv":
        return conv(w, x, op["conv"])
    if mode == "conv_transpose":
        return conv_transpose(w, x, op["conv"])
    if mode == "nearest_conv":
        return conv(w, resample(x, "up", [1, 1]), op["conv"])
    if mode == "nearest":
        return resample(x, "up", [1, 1])
    if mode == "avgpool":
        return resample(x, "down", [1, 1])
    raise ValueError(f"unknown resample mode {mode}")


def head(w, x, op):
    h = F.silu(norm(w, x, op["norm"])) if op["norm"] else x
    return conv(w, h, op["conv"])


# ----------------------------------------------------------------------------------------------
# embedding.ts


def trig(x, freqs, flip):
    a = torch.outer(x.float(), freqs)
    parts = [torch.cos(a), torch.sin(a)]
    if flip:
        parts.reverse()
    return torch.cat(parts, dim=1)


def noise_embedding(w, x, o, fourier_freqs):
    half = o["dim"] // 2
    if o["kind"] == "table":
        return w(o["table"])[x.long()]
    t = x.float() * o["inputScale"] if o["inputScale"] != 1 else x.float()
    i = torch.arange(half, dtype=torch.float32)
    if o["kind"] == "sinusoidal":
        return trig(t, torch.exp(i * (-math.log(o["maxPositions"]) / half)), o["flip"])
    if o["kind"] == "positional":
        return trig(t, (1.0 / o["maxPositions"]) ** (i / (half - (1 if o["endpoint"] else 0))), o["flip"])
    # fourier: fixed random frequencies N(0, scale^2), times 2 pi (not the runtime's numbers)
    return trig(t, fourier_freqs(half, o["scale"]) * 2 * math.pi, o["flip"])


def embedding(w, cond, op, fourier_freqs):
    e = noise_embedding(w, cond["noise"], op["noise"], fourier_freqs)
    lbl = op.get("label")

    def label_in(c):
        x = c * lbl["scale"] if lbl["scale"] != 1 else c
        return x @ w(lbl["table"]) if lbl.get("table") else linear(w, x, lbl["linear"])

    if lbl and lbl["at"] == "input" and cond.get("classes") is not None:
        e = e + label_in(cond["classes"])
    if op.get("augment") and cond.get("augment") is not None:
        e = e + linear(w, cond["augment"], op["augment"])
    for i, l in enumerate(op["mlp"]):
        e = linear(w, e, l)
        if i < len(op["mlp"]) - 1:
            e = F.silu(e)
    if lbl and lbl["at"] == "output" and cond.get("classes") is not None:
        e = e + label_in(cond["classes"])
    return F.silu(e) if op["outAct"] else e


# ----------------------------------------------------------------------------------------------
# The model: the parameter store plus the ops, applied in block order (as the generated forward).


class Twin(nn.Module):
    def __init__(self, ir, seed=0):
        super().__init__()
        self.ir = ir
        gen = torch.Generator().manual_seed(seed)
        self._index = {}
        self._module_of = {}  # full parameter name -> IR module path (for the FLOPs check)
        for m in ir["modules"]:
            for p in m["params"]:
                name = f"{m['path']}.{p['name']}"
                self._add_param(name, init_tensor(list(p["shape"]), p["init"], gen), p["trainable"])
                self._module_of[name] = m["path"]
        self.blocks = [(b["path"], b["op"], b.get("skipIn") is not None, b["pushSkip"]) for b in ir["blocks"]]
        self._fourier = {}
        self._fourier_seed = seed
        self.tracking = False
        self.reads = collections.defaultdict(list)  # block path -> refs read, in order
        self.flops = collections.Counter()  # IR module path -> FLOPs per sample

    def _add_param(self, name, value, trainable):
        *parents, leaf = name.split(".")
        mod = self
        for seg in parents:
            if seg not in mod._modules:
                mod.add_module(seg, nn.Module())
            mod = mod._modules[seg]
        p = nn.Parameter(value, requires_grad=trainable)
        mod.register_parameter(leaf, p)
        self._index[name] = p

    def names(self):
        return set(self._index)

    def read(self, path, ref):
        name = f"{path}.{ref}"
        if self.tracking:
            self.reads[path].append(ref)
        return self._index[name]

    def count_flops(self, weight_name, f):
        if self.tracking:
            self.flops[self._module_of[weight_name]] += f

    def fourier_freqs(self, half, scale):
        if half not in self._fourier:
            g = torch.Generator().manual_seed(self._fourier_seed)
            self._fourier[half] = torch.randn(half, generator=g) * scale
        return self._fourier[half]

    def forward(self, x, cond):
        v = None
        ctx = {"training": self.training, "lora": {"t": cond["noise"], "classes": cond.get("classes"), "v": None}}
        skips = []
        h = x
        for path, op, cat, push in self.blocks:
            w = Weights(self, path)
            k = op["op"]
            if k == "embedding":
                v = embedding(w, cond, op, self.fourier_freqs)
                ctx["lora"]["v"] = v
                continue
            hin = torch.cat([h, skips.pop()], dim=1) if cat else h
            if k == "stem":
                h = stem(w, hin, op)
            elif k == "res_block":
                h = res_block(w, hin, v, op, ctx)
            elif k == "resample":
                h = resample_step(w, hin, op)
            elif k == "head":
                h = head(w, hin, op)
            else:
                raise ValueError(f"{path}: unknown op {k}")
            if push:
                skips.append(h)
        return h


# ----------------------------------------------------------------------------------------------
# Checks.


def check_params(ir, twin):
    total_ir = sum(numel(p["shape"]) for m in ir["modules"] for p in m["params"])
    trainable_ir = sum(numel(p["shape"]) for m in ir["modules"] for p in m["params"] if p["trainable"])
    total_twin = sum(p.numel() for p in twin.parameters())
    trainable_twin = sum(p.numel() for p in twin.parameters() if p.requires_grad)
    if total_ir != total_twin or trainable_ir != trainable_twin:
        raise AssertionError(f"{ir['name']}: parameter count differs: IR {total_ir:,} ({trainable_ir:,} trainable), twin {total_twin:,} ({trainable_twin:,})")
    keys = set(twin.state_dict().keys())
    if keys != twin.names():
        raise AssertionError(f"{ir['name']}: state_dict keys are not the IR's names: {sorted(keys ^ twin.names())[:5]}")
    return total_ir, trainable_ir


def check_op_refs(ir, twin):
    """The store's names are exactly the <block>.<ref> the ops name, each named by one op only."""
    named = collections.Counter(f"{b['path']}.{r}" for b in ir["blocks"] for r in refs_of(b["op"]))
    problems = []
    twice = [n for n, k in named.items() if k > 1]
    if twice:
        problems.append(f"named more than once by the ops: {', '.join(sorted(twice)[:5])}")
    unread = sorted(twin.names() - set(named))
    if unread:
        problems.append(f"parameters no op names: {', '.join(unread[:5])}{' ...' if len(unread) > 5 else ''}")
    missing = sorted(set(named) - twin.names())
    if missing:
        problems.append(f"refs naming no parameter: {', '.join(missing[:5])}")
    return problems


def check_reads(ir, twin):
    """After a tracked forward pass: each block read exactly the refs of its op, each once."""
    problems = []
    for b in ir["blocks"]:
        want = collections.Counter(refs_of(b["op"]))
        got = collections.Counter(twin.reads.get(b["path"], []))
        if want != got:
            extra = sorted((got - want).elements())
            lacking = sorted((want - got).elements())
            problems.append(f"{b['path']}: read {extra[:4]} beyond its op, not read {lacking[:4]}")
    return problems


def make_inputs(ir, n, gen):
    size, ch = ir["input"]["size"], ir["input"]["channels"]
    d = ir["diffusion"]
    x0 = torch.rand(n, ch, size, size, generator=gen) * 2 - 1
    cond = {}
    if d.get("process") == "edm":
        cond["noise"] = torch.randn(n, generator=gen)
    else:
        cond["noise"] = torch.randint(0, int(d.get("T", 1000)), (n,), generator=gen)
    if ir["input"]["classes"] > 0:
        cond["classes"] = F.one_hot(torch.randint(0, ir["input"]["classes"], (n,), generator=gen), ir["input"]["classes"]).float()
    if ir["input"]["augment"] > 0:
        cond["augment"] = torch.zeros(n, ir["input"]["augment"])
    return x0, cond


# ----------------------------------------------------------------------------------------------
# Losses (src/runtime/diffusion/: edm.ts, ddpm.ts, schedule.ts), reduced as training.loss_reduction says.


VP = {"beta_d": 19.9, "beta_min": 0.1, "M": 1000, "eps_t": 1e-5}


def betas_for(kind, T):
    if kind == "linear":
        scale = 1000 / T
        lo, hi = scale * 1e-4, scale * 0.02
        return torch.tensor([lo] * T if T == 1 else [lo + (hi - lo) * i / (T - 1) for i in range(T)], dtype=torch.float64)

    def abar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    return torch.tensor([min(1 - abar((i + 1) / T) / abar(i / T), 0.999) for i in range(T)], dtype=torch.float64)


def normal_kl(m1, lv1, m2, lv2):
    return 0.5 * (-1 + lv2 - lv1 + torch.exp(lv1 - lv2) + (m1 - m2) ** 2 * torch.exp(-lv2))


def approx_cdf(x):
    return 0.5 * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def discretized_gaussian_log_likelihood(x, mean, log_scale):
    centered = x - mean
    inv_std = torch.exp(-log_scale)
    cdf_plus = approx_cdf(inv_std * (centered + 1 / 255))
    cdf_min = approx_cdf(inv_std * (centered - 1 / 255))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1 - cdf_min).clamp(min=1e-12))
    log_delta = torch.log((cdf_plus - cdf_min).clamp(min=1e-12))
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_delta))


class Schedule:
    def __init__(self, kind, T):
        b = betas_for(kind, T)
        ab = torch.cumprod(1 - b, 0)
        abp = torch.cat([torch.ones(1, dtype=torch.float64), ab[:-1]])
        pv = b * (1 - abp) / (1 - ab)
        self.T = T
        self.betas = b
        self.abar = ab
        self.post_var = pv
        self.post_logvar_clipped = torch.log(torch.cat([pv[1:2], pv[1:]]) if T > 1 else pv)
        self.coef1 = b * torch.sqrt(abp) / (1 - ab)
        self.coef2 = (1 - abp) * torch.sqrt(1 - b) / (1 - ab)


def loss_fn(ir, twin, x0, cond, gen):
    """The process's training loss with the runtime's tensor work (EDM/VP weighted denoising loss;
    epsilon MSE, plus IDDPM's variational term for a learned sigma with the hybrid loss)."""
    d = ir["diffusion"]
    reduction = ir["training"].get("loss_reduction", "mean")
    per_sample = (lambda l: l.sum((1, 2, 3))) if reduction == "sum_pixels" else (lambda l: l.mean((1, 2, 3)))
    n, c = x0.shape[0], x0.shape[1]
    noise = torch.randn(x0.shape, generator=gen)
    col = lambda a: a.float().view(n, 1, 1, 1)
    if d.get("process") == "edm":
        sd = float(d.get("sigma_data", 0.5))
        if d.get("precond", "edm") == "vp":
            u = torch.rand(n, generator=gen, dtype=torch.float64)
            t = 1 + u * (VP["eps_t"] - 1)
            sigma = torch.sqrt(torch.exp(0.5 * VP["beta_d"] * t * t + VP["beta_min"] * t) - 1)
            weight = 1 / sigma**2
            c_skip, c_out, c_in = torch.ones_like(sigma), -sigma, 1 / torch.sqrt(sigma**2 + 1)
            c_noise = (VP["M"] - 1) * (torch.sqrt(VP["beta_min"] ** 2 + 2 * VP["beta_d"] * torch.log(1 + sigma**2)) - VP["beta_min"]) / VP["beta_d"]
        else:
            sigma = torch.exp(torch.randn(n, generator=gen, dtype=torch.float64) * float(d.get("P_std", 1.2)) + float(d.get("P_mean", -1.2)))
            weight = (sigma**2 + sd**2) / (sigma * sd) ** 2
            c_skip, c_out, c_in = sd**2 / (sigma**2 + sd**2), sigma * sd / torch.sqrt(sigma**2 + sd**2), 1 / torch.sqrt(sd**2 + sigma**2)
            c_noise = torch.log(sigma) / 4
        xn = x0 + noise * col(sigma)
        f = twin(col(c_in) * xn, dict(cond, noise=c_noise.float()))
        dn = col(c_skip) * xn + col(c_out) * f
        return torch.mean(per_sample(col(weight) * (dn - x0) ** 2))
    T = int(d.get("T", 1000))
    s = Schedule(d.get("schedule", "linear"), T)
    t = cond["noise"].long()
    pick = lambda a: a[t].float().view(n, 1, 1, 1)
    xt = pick(torch.sqrt(s.abar)) * x0 + pick(torch.sqrt(1 - s.abar)) * noise
    out = twin(xt, cond)
    learn_sigma = d.get("learn_sigma") is True
    eps = out[:, :c] if learn_sigma else out
    mse = torch.mean(per_sample((noise - eps) ** 2))
    if not (learn_sigma and d.get("loss") == "hybrid"):
        return mse
    # IDDPM's variational term with the mean's gradient stopped (ddpm.ts loss / pMean).
    frac = (out[:, c:] + 1) / 2
    log_var = frac * pick(torch.log(s.betas)) + (1 - frac) * pick(s.post_logvar_clipped)
    x0_pred = pick(torch.sqrt(1 / s.abar)) * xt - pick(torch.sqrt(1 / s.abar - 1)) * eps.detach()
    mean = pick(s.coef1) * x0_pred + pick(s.coef2) * xt
    true_mean = pick(s.coef1) * x0 + pick(s.coef2) * xt
    kl = per_sample(normal_kl(true_mean, pick(s.post_logvar_clipped), mean, log_var)) / math.log(2)
    nll = per_sample(-discretized_gaussian_log_likelihood(x0, mean, 0.5 * log_var)) / math.log(2)
    vb = torch.where(t == 0, nll, kl)
    return mse + float(d.get("vlb_weight", 0.001)) * T * torch.mean(vb)


# ----------------------------------------------------------------------------------------------


def tracked_forward(ir, twin, x0, cond):
    """One eval forward pass at batch 1 recording reads and FLOPs; returns the problems found."""
    twin.reads.clear()
    twin.flops.clear()
    twin.tracking = True
    try:
        with torch.no_grad():
            was = twin.training
            twin.eval()
            twin(x0[:1], {k: v[:1] for k, v in cond.items()})
            twin.train(was)
    finally:
        twin.tracking = False
    ir_f = {m["path"]: m["flops"] for m in ir["modules"] if m["kind"] in ("conv2d", "linear", "conv_transpose2d")}
    diffs = [f"{p}: IR {ir_f[p]:,} twin {twin.flops.get(p, 0):,}" for p in ir_f if twin.flops.get(p, 0) != ir_f[p]]
    diffs += [f"{p}: twin counts {f:,}, IR none" for p, f in twin.flops.items() if p not in ir_f]
    return sum(twin.flops.get(p, 0) for p in ir_f), sum(ir_f.values()), diffs, check_reads(ir, twin)


def check_grads(twin):
    return [n for n, p in twin.named_parameters() if p.requires_grad and p.grad is None]


def load_ir(path):
    with open(path) as f:
        return json.load(f)


def build(ir_path, seed=0):
    ir = load_ir(ir_path)
    torch.manual_seed(seed)
    twin = Twin(ir, seed)
    total, trainable = check_params(ir, twin)
    problems = check_op_refs(ir, twin)
    if problems:
        raise AssertionError(f"{ir['name']}: " + "; ".join(problems))
    return ir, twin, total, trainable


def run_checks(paths):
    ok = True
    for p in paths:
        try:
            ir, twin, total, trainable = build(p)
            gen = torch.Generator().manual_seed(1)
            x0, cond = make_inputs(ir, 2, gen)
            twin_f, ir_f, diffs, read_problems = tracked_forward(ir, twin, x0, cond)
            loss = loss_fn(ir, twin, x0, cond, gen)
            loss.backward()
            missing = check_grads(twin)
            status = "ok" if not missing and not diffs and not read_problems and math.isfinite(float(loss)) else "MISMATCH"
            ok = ok and status == "ok"
            print(f"{ir['name']:32} params {total:>12,} (trainable {trainable:,}) = IR, reads = ops   conv/linear FLOPs twin {twin_f:,} IR {ir_f:,}   loss {float(loss):.4g}   {status}")
            for d in diffs[:5]:
                print(f"    flops {d}")
            for r in read_problems[:5]:
                print(f"    reads {r}")
            if missing:
                print(f"    no gradient: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
        except AssertionError as e:
            ok = False
            print(str(e))
    return ok


def bench(args):
    torch.set_num_threads(args.threads)
    ir, twin, total, trainable = build(args.ir)
    gen = torch.Generator().manual_seed(1)
    x0, cond = make_inputs(ir, args.batch, gen)
    twin_f, ir_f, diffs, read_problems = tracked_forward(ir, twin, x0, cond)
    if read_problems:
        raise AssertionError(f"{ir['name']}: the forward pass does not read what the ops name: " + "; ".join(read_problems[:5]))
    params = [p for p in twin.parameters() if p.requires_grad]
    lr = float(ir["training"].get("lr", 1e-4))
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    twin.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(ir, twin, x0, cond, gen)
        loss.backward()
        # unetc's Adam computes the global gradient norm every step (for clipping): same work here
        gnorm = torch.sqrt(sum(torch.sum(p.grad * p.grad) for p in params if p.grad is not None))
        opt.step()
        return float(loss), float(gnorm)

    times = []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        step()
        dt = (time.perf_counter() - t0) * 1000
        if i == 0:
            missing = check_grads(twin)
            if missing:
                raise AssertionError(f"{ir['name']}: no gradient reached {', '.join(missing[:8])}")
        if i >= args.warmup:
            times.append(dt)
        log(f"  torch {ir['name']} step {i + 1}/{args.warmup + args.steps}: {dt:.0f} ms{' (warm-up)' if i < args.warmup else ''}")
    prof = None
    if args.profile:
        from torch.profiler import profile, ProfilerActivity

        with profile(activities=[ProfilerActivity.CPU]) as pr:
            step()
        rows = [{"name": e.key, "self_ms": e.self_cpu_time_total / 1000, "calls": e.count} for e in pr.key_averages()]
        rows.sort(key=lambda r: -r["self_ms"])
        prof = rows[:25]
    out = {
        "name": ir["name"],
        "params": total,
        "trainable": trainable,
        "param_check": "twin parameters are the IR's (names, shapes, count); the forward pass reads exactly the refs of each block's op",
        "flops_conv_linear": {"twin": twin_f, "ir": ir_f, "mismatches": diffs[:10]},
        "batch": args.batch,
        "warmup": args.warmup,
        "steps_ms": times,
        "median_ms": statistics.median(times),
        "threads": torch.get_num_threads(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "torch_version": torch.__version__,
        "torch_config": torch.__config__.show(),
        "python": sys.version.split()[0],
        "profile": prof,
    }
    print(json.dumps(out))


# ----------------------------------------------------------------------------------------------
# --forward: the twin on given weights (safetensors, PyTorch layout) and inputs, in eval mode.


SAFETENSORS_DTYPES = {"F32": np.float32, "I32": np.int32, "U8": np.uint8, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    """The tensors of a .safetensors file (8-byte little-endian header length, JSON header, data)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n].decode("utf8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        dt = np.dtype(SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(buf[base + lo : base + hi], dtype=dt).reshape(info["shape"]).astype(dt.newbyteorder("="))
    return out


def write_safetensors(path, tensors):
    """float32 tensors as a .safetensors file (names sorted, data contiguous, header padded to 8)."""
    names = sorted(tensors)
    header, offset = {}, 0
    for n in names:
        a = np.ascontiguousarray(tensors[n], dtype="<f4")
        header[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    h = json.dumps(header).encode("utf8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for n in names:
            f.write(np.ascontiguousarray(tensors[n], dtype="<f4").tobytes())


def tensor_of(j, dtype=torch.float32):
    """An input tensor from JSON: {"shape": [...], "data": [flat]} or a (nested) list."""
    if isinstance(j, dict):
        return torch.tensor(j["data"], dtype=dtype).reshape(j["shape"])
    return torch.tensor(j, dtype=dtype)


def forward_mode(args):
    torch.set_num_threads(args.threads)
    ir, twin, _, _ = build(args.ir)
    weights = read_safetensors(args.forward)
    prefix = args.prefix
    named = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
    missing = sorted(twin.names() - set(named))
    extra = sorted(set(named) - twin.names())
    if missing or extra:
        raise AssertionError(f"weights do not match the IR: missing {missing[:5]}, unknown {extra[:5]}")
    sd = twin.state_dict()
    for k, v in named.items():
        if list(v.shape) != list(sd[k].shape):
            raise AssertionError(f"{k}: shape {list(v.shape)}, IR {list(sd[k].shape)}")
    twin.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in named.items()})
    with open(args.inputs) as f:
        inp = json.load(f)
    x = tensor_of(inp["x"])
    noise_dtype = torch.float32 if ir["diffusion"].get("process") == "edm" else torch.int64
    cond = {"noise": tensor_of(inp["noise"], noise_dtype)}
    for k in ("classes", "augment"):
        if inp.get(k) is not None:
            cond[k] = tensor_of(inp[k])
    cot = tensor_of(inp["cotangent"]) if args.grad_out and inp.get("cotangent") is not None else None
    twin.eval()
    twin.reads.clear()
    twin.tracking = True
    with torch.set_grad_enabled(cot is not None):
        y = twin(x, cond)
    twin.tracking = False
    problems = check_reads(ir, twin)
    if problems:
        raise AssertionError("; ".join(problems[:5]))
    out = {"name": ir["name"], "shape": list(y.shape), "output": y.detach().flatten().tolist()}
    if cot is not None:
        # Gradients of sum(y * cotangent) for every trainable parameter, in PyTorch layout.
        torch.sum(y * cot).backward()
        write_safetensors(args.grad_out, {n: p.grad.numpy() for n, p in twin.named_parameters() if p.requires_grad and p.grad is not None})
        out["grads"] = args.grad_out
    print(json.dumps(out))


def init_stats(args):
    """Per parameter, statistics of the twin's initial values (to compare with the runtime's inits)."""
    ir, twin, _, _ = build(args.ir, args.seed)
    out = {}
    with torch.no_grad():
        for n, p in twin.named_parameters():
            x = p.detach().double()
            out[n] = {"mean": float(x.mean()), "std": float(x.std(unbiased=False)), "min": float(x.min()), "max": float(x.max()), "size": x.numel()}
    print(json.dumps({"name": ir["name"], "params": out}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ir")
    ap.add_argument("--check", nargs="*")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--json", action="store_true", help="(the benchmark's result is always one JSON line on stdout)")
    ap.add_argument("--show-config", action="store_true")
    ap.add_argument("--init-stats", action="store_true", help="with --ir: mean, std, min, max of every initial parameter tensor, as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--forward", metavar="WEIGHTS.safetensors", help="eval-mode forward pass on these weights (with --ir and --inputs)")
    ap.add_argument("--inputs", metavar="INPUTS.json", help='{"x": {"shape": [N, C, H, W], "data": [...]}, "noise": [...], "classes"?: ..., "augment"?: ...}')
    ap.add_argument("--grad-out", metavar="GRADS.safetensors", help="with --forward and a `cotangent` input: write the gradients of sum(output * cotangent)")
    ap.add_argument("--prefix", default="", help="strip this prefix from the weights' names (e.g. `model.` in a checkpoint)")
    args = ap.parse_args()
    if args.show_config:
        print(json.dumps({"torch_version": torch.__version__, "torch_config": torch.__config__.show(), "python": sys.version.split()[0]}))
        return
    if args.check:
        sys.exit(0 if run_checks(args.check) else 1)
    if not args.ir:
        ap.error("--ir or --check is required")
    if args.init_stats:
        init_stats(args)
        return
    if args.forward:
        if not args.inputs:
            ap.error("--forward needs --inputs")
        forward_mode(args)
        return
    bench(args)


if __name__ == "__main__":
    main()
