#!/usr/bin/env python3
"""
A PyTorch twin of a unetc model, built from the model's IR JSON (`unetc check SPEC --emit-ir OUT.json`),
for benchmarks only (PyTorch is never a dependency of unetc or its tests).

The twin mirrors the semantics of src/runtime (blocks.ts, layers.ts, lora.ts, embedding.ts) and of
the IR -> runtime mapping in src/emit/descriptors.ts, in NCHW:
  - residual blocks: [dropout,] GroupNorm/LayerNorm, [modulation,] SiLU (pre or post order),
    resampling of the first conv's input ([1, 1] FIR: 2x2 average pool / nearest x2), convs with
    PyTorch padding floor((k - 1) / 2), shift / scale_shift by a Linear (or MLP) of v at the block
    input, after conv0 or on norm1, a skip 1x1 conv, the output scale, an optional attention block;
  - attention: norm, [adaLN,] qkv 1x1 conv, softmax(q k^T / sqrt(d)) v with EDM's channel layout
    (channel = head * 3d + i * 3 + s), 1x1 projection, residual add;
  - resampling steps: stride-2 conv, nearest + conv, transposed conv (k, stride 2, padding
    (k - 2) / 2), nearest, average pool;
  - the embedding network: table / sinusoidal / positional / fourier noise embedding, label
    (embedding or linear, at input or output), augment linear, the MLP with SiLU between layers,
    optional SiLU at the end;
  - UC-LoRA / TimeLoRA / ClassLoRA computed through the down projection (kxk conv to m*r channels),
    the per-sample composition weights omega repeated r times (basis-major), the up projection
    (m*r -> C_out), plus omega_rep @ Bias and the scale for UC-LoRA.

Layers are built from module *attributes* (cin, cout, kernel, groups, din, dout, rank, bases, ...),
not copied from the IR's parameter shapes; the twin then asserts that its parameter count equals
the sum over the IR's parameter shapes, module by module. That is the check that it is the same
architecture. It also checks after one backward pass that every trainable parameter received a
gradient (i.e. the forward walk reaches every layer), and compares the forward FLOPs of its conv
and linear layers against the IR's per-module FLOPs. Initialisation differs from unetc's (PyTorch
defaults), so outputs are not numerically comparable; architecture and FLOPs are.

Usage:
  /usr/bin/python3 bench/torch_twin.py --ir IR.json [--batch 64] [--warmup 3] [--steps 10]
      [--threads 2] [--profile] [--json]
  /usr/bin/python3 bench/torch_twin.py --check IR.json [IR.json ...]   (architecture checks only)

Run with OPENBLAS_NUM_THREADS=1 (BLAS threads fight torch's own threads).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the TS benchmarks check this first and skip with a message
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
# Layers, one per IR module, built from its attributes.


MAX_PATCH_BYTES = 64 * 2**20


def per_sample_weights_cheaper(cin, cout, pixels, kernel, batch):
    """The runtime's choice of formulation for a conv with LoRA layers (src/runtime/model/lora.ts)."""
    k2 = kernel * kernel
    if kernel > 1 and batch * pixels * k2 * cin * 4 > MAX_PATCH_BYTES:
        return False
    return k2 * cin * cout < pixels * (k2 * cin + cout)


class LoraLayer(nn.Module):
    """time_lora / class_lora / uc_lora on a conv with input channels cin, output cout, kernel k."""

    def __init__(self, kind, attrs, T=None, classes=None):
        super().__init__()
        self.kind = kind
        cin, cout, k, r = int(attrs["cin"]), int(attrs["cout"]), int(attrs["kernel"]), int(attrs["rank"])
        if kind == "time_lora":
            m = int(attrs["bases"])
        elif kind == "class_lora":
            m = int(attrs.get("classes", classes))
        else:
            m = int(attrs["bases"])
        self.m, self.r, self.k = m, r, k
        self.pad = (k - 1) // 2
        self.down = nn.Conv2d(cin, m * r, k, 1, self.pad, bias=False)  # the stacked A_i
        self.up = nn.Conv2d(m * r, cout, 1, bias=False)  # the stacked B_i as a 1x1 map
        if kind == "time_lora":
            self.omega = nn.Parameter(torch.zeros(int(attrs["T"]), m))
        if kind == "uc_lora":
            self.has_bias = attrs.get("bias") is True
            if self.has_bias:
                self.bias = nn.Parameter(torch.zeros(m * r, cout))
            self.trainable_scale = attrs.get("scale") == "trainable"
            if self.trainable_scale:
                self.scale = nn.Parameter(torch.ones(1))

    def delta(self, x, omega):
        # x: [N, Cin, H, W]; omega: [N, m]
        n = x.shape[0]
        rep = omega.repeat_interleave(self.r, dim=1)  # [N, m r], basis-major
        down = self.down(x)  # [N, m r, H, W]
        d = self.up(down * rep.view(n, -1, 1, 1))
        if self.kind == "uc_lora":
            if self.has_bias:
                d = d + (rep @ self.bias).view(n, -1, 1, 1)
            if self.trainable_scale:
                d = d * self.scale
        return d


def build_layer(m, ir):
    kind, a = m["kind"], m["attrs"]
    names = [p["name"] for p in m["params"]]
    if kind == "conv2d":
        return nn.Conv2d(int(a["cin"]), int(a["cout"]), int(a["kernel"]), int(a.get("stride", 1)), (int(a["kernel"]) - 1) // 2, bias="bias" in names)
    if kind == "conv_transpose2d":
        k = int(a["kernel"])
        return nn.ConvTranspose2d(int(a["cin"]), int(a["cout"]), k, int(a.get("stride", 2)), (k - 2) // 2, bias="bias" in names)
    if kind == "linear":
        return nn.Linear(int(a["din"]), int(a["dout"]), bias="bias" in names)
    if kind == "group_norm":
        return nn.GroupNorm(int(a["groups"]), int(a["channels"]), eps=float(a["eps"]), affine=len(names) > 0)
    if kind == "layer_norm":
        return nn.LayerNorm([int(a["channels"]), int(a["height"]), int(a["width"])], eps=float(a["eps"]), elementwise_affine=len(names) > 0)
    if kind == "embedding_table":
        return nn.Embedding(int(a["rows"]), int(a["dim"]))
    if kind in ("time_lora", "class_lora", "uc_lora"):
        return LoraLayer(kind, a, classes=ir["input"]["classes"])
    if kind in ("noise_embedding", "attention_core", "resample"):
        return None
    raise ValueError(f"{m['path']}: unknown module kind {kind}")


# ----------------------------------------------------------------------------------------------
# Functional pieces with the runtime's semantics.


def fir_resample(x, mode, filt):
    """layers.ts resample(): [1, 1] is 2x2 average pooling / nearest x2; otherwise EDM's FIR."""
    if len(filt) == 2 and filt[0] == filt[1]:
        return F.avg_pool2d(x, 2) if mode == "down" else F.interpolate(x, scale_factor=2, mode="nearest")
    c = x.shape[1]
    f = torch.tensor(filt, dtype=x.dtype)
    f = f / f.sum()
    f2 = torch.outer(f, f)
    k = len(filt)
    if mode == "down":
        w = f2.view(1, 1, k, k).repeat(c, 1, 1, 1)
        p = (k - 1) // 2
        return F.conv2d(x, w, stride=2, padding=p, groups=c)
    # up: zero-insert then a depthwise conv with gain 4 and TF's 'same' padding
    n, _, h, wd = x.shape
    z = torch.zeros(n, c, 2 * h, 2 * wd, dtype=x.dtype)
    z[:, :, ::2, ::2] = x
    w = (f2 * 4).view(1, 1, k, k).repeat(c, 1, 1, 1)
    lo, hi = (k - 1) // 2, k - 1 - (k - 1) // 2
    return F.conv2d(F.pad(z, (lo, hi, lo, hi)), w, groups=c)


def modulate(x, params, kind):
    n, c = x.shape[0], x.shape[1]
    if kind == "shift":
        return x + params.view(n, c, 1, 1)
    scale, shift = params.chunk(2, dim=1)
    return x * (scale.view(n, c, 1, 1) + 1) + shift.view(n, c, 1, 1)


def attention_core(qkv, heads):
    n, c3, h, w = qkv.shape
    c = c3 // 3
    d = c // heads
    t = h * w
    q, k, v = qkv.reshape(n * heads, d, 3, t).unbind(2)  # each [B, d, T]
    logits = torch.bmm(q.transpose(1, 2), k) * (1.0 / math.sqrt(d))  # [B, T, T]
    a = torch.bmm(torch.softmax(logits, dim=-1), v.transpose(1, 2))  # [B, T, d]
    return a.transpose(1, 2).reshape(n, c, h, w)


# ----------------------------------------------------------------------------------------------


class Twin(nn.Module):
    def __init__(self, ir):
        super().__init__()
        self.ir = ir
        self.path_only = False  # True: always the down/up LoRA path (FLOP counting)
        self.mods = {m["path"]: m for m in ir["modules"]}
        self.layers = nn.ModuleDict()
        self.key = {}
        for m in ir["modules"]:
            layer = build_layer(m, ir)
            if layer is None:
                continue
            k = m["path"].replace(".", "__")
            self.key[m["path"]] = k
            self.layers[k] = layer
            trainable = all(p["trainable"] for p in m["params"]) if m["params"] else True
            if not trainable:
                for p in layer.parameters():
                    p.requires_grad_(False)
        self.blocks = [self._plan(b) for b in ir["blocks"]]
        self.used = set()

    def L(self, path):
        self.used.add(path)
        return self.layers[self.key[path]]

    def has(self, path):
        return path in self.key

    # The descriptors of src/emit/descriptors.ts, read from the IR.
    def _norm_of(self, path):
        return path if self.has(path) else None

    def _loras_on(self, conds, layer_path):
        return [f"{layer_path}.{c['kind']}" for c in conds if f"{layer_path}.{c['kind']}" in self.mods and self.mods[f"{layer_path}.{c['kind']}"]["kind"].endswith("lora")]

    def _plan(self, b):
        p = b["path"]
        plan = {"b": b}
        if b["kind"] == "res":
            convs = []
            i = 0
            while f"{p}.conv{i}" in self.mods:
                convs.append(f"{p}.conv{i}")
                i += 1
            plan["convs"] = convs
            plan["norms"] = [self._norm_of(f"{p}.norm{i}") for i in range(len(convs))]
            mod = next((c for c in b["conditioning"]["residual"] if c["kind"] in ("shift", "scale_shift")), None)
            if mod:
                hidden = 0
                while f"{p}.emb{hidden}" in self.mods:
                    hidden += 1
                hidden = max(0, hidden - 1)
                at = mod["options"].get("at") or ("conv0" if mod["kind"] == "shift" else "norm1")
                plan["mod"] = {"kind": mod["kind"], "at": at, "hidden": hidden}
            plan["loras"] = [self._loras_on(b["conditioning"]["residual"], c) for c in convs]
            if b["attention"]:
                a = f"{p}.attn"
                plan["attn"] = {
                    "heads": b.get("heads", 1),
                    "norm": self._norm_of(f"{a}.norm"),
                    "adaln": f"{a}.adaln" in self.mods,
                    "qkv": self._loras_on(b["conditioning"]["attention"], f"{a}.qkv"),
                    "proj": self._loras_on(b["conditioning"]["attention"], f"{a}.proj"),
                }
        return plan

    # ------------------------------------------------------------------------------------------
    def omega(self, path, inp):
        lora = self.L(path)
        if lora.kind == "time_lora":
            return lora.omega[inp["t"].long()]
        if lora.kind == "class_lora":
            return inp["classes"]
        h = inp["v"]
        i = 0
        while f"{path}.mlp{i}_norm" in self.mods:
            h = F.silu(self.L(f"{path}.mlp{i}_norm")(self.L(f"{path}.mlp{i}")(h)))
            i += 1
        return self.L(f"{path}.mlp{i}")(h)

    def conv_with_lora(self, path, x, loras, inp):
        conv = self.L(path)
        n, cin, h, w = x.shape
        k = conv.kernel_size[0]
        if loras and not self.path_only and per_sample_weights_cheaper(cin, conv.out_channels, h * w, k, n):
            return self.conv_per_sample(conv, x, [(self.L(lp), self.omega(lp, inp)) for lp in loras])
        y = conv(x)
        for lp in loras:
            y = y + self.L(lp).delta(x, self.omega(lp, inp))
        return y

    def conv_per_sample(self, conv, x, loras):
        """The runtime's other exact formulation (lora.ts convWithLoraWeights): per-sample weights
        W_n = W + s sum_l A_l diag(rep_l[n]) B_l, run here as one grouped conv (groups = N)."""
        n, cin, h, w = x.shape
        k, cout = conv.kernel_size[0], conv.out_channels
        weights = conv.weight.unsqueeze(0)  # [1, C_out, C_in, k, k]
        extra = None
        for lora, omega in loras:
            rep = omega.repeat_interleave(lora.r, dim=1)  # [N, m r]
            a = lora.down.weight.reshape(1, -1, cin * k * k) * rep.unsqueeze(2)  # [N, m r, C_in k k]
            dw = torch.matmul(lora.up.weight[:, :, 0, 0], a).reshape(n, cout, cin, k, k)
            db = (rep @ lora.bias) if lora.kind == "uc_lora" and lora.has_bias else None
            if lora.kind == "uc_lora" and lora.trainable_scale:
                dw = dw * lora.scale
                db = db * lora.scale if db is not None else None
            weights = weights + dw
            if db is not None:
                extra = db if extra is None else extra + db
        pad = (k - 1) // 2
        y = F.conv2d(x.reshape(1, n * cin, h, w), weights.reshape(n * cout, cin, k, k), padding=pad, groups=n).reshape(n, cout, h, w)
        if conv.bias is not None:
            y = y + conv.bias.view(1, -1, 1, 1)
        if extra is not None:
            y = y + extra.view(n, -1, 1, 1)
        return y

    def norm(self, path, x):
        return self.L(path)(x)

    def mod_params(self, path, v, hidden):
        h = v
        for i in range(hidden):
            h = F.silu(self.L(f"{path}{i}")(h))
        return self.L(f"{path}{hidden}" if hidden > 0 else path)(h)

    def res_block(self, plan, x, v, inp):
        b = plan["b"]
        p = b["path"]
        st = b["style"]
        mod = plan.get("mod")
        resample = b.get("resample")
        filt = self.ir["resampleFilter"]
        inp_x = modulate(x, self.mod_params(f"{p}.emb", v, mod["hidden"]), mod["kind"]) if mod and mod["at"] == "input" else x
        h = inp_x
        for i, cpath in enumerate(plan["convs"]):
            if i > 0 and st["dropout"] > 0:
                h = F.dropout(h, st["dropout"], self.training)
            if plan["norms"][i]:
                h = self.norm(plan["norms"][i], h)
            if mod and mod["at"] == "norm1" and i == 1:
                h = modulate(h, self.mod_params(f"{p}.emb", v, mod["hidden"]), mod["kind"])
            if st["order"] == "pre":
                h = F.silu(h)
            if i == 0 and resample:
                h = fir_resample(h, resample, filt)
            h = self.conv_with_lora(cpath, h, plan["loras"][i], inp)
            if st["order"] == "post":
                h = F.silu(h)
            if mod and mod["at"] == "conv0" and i == 0:
                h = modulate(h, self.mod_params(f"{p}.emb", v, mod["hidden"]), mod["kind"])
        if st["residual"]:
            skip = fir_resample(inp_x, resample, filt) if resample else inp_x
            if self.has(f"{p}.skip"):
                skip = self.L(f"{p}.skip")(skip)
            h = h + skip
        if st["outputScale"] != 1:
            h = h * st["outputScale"]
        if "attn" in plan:
            h = self.attention(f"{p}.attn", plan["attn"], h, v, st["outputScale"], inp)
        return h

    def attention(self, p, o, x, v, output_scale, inp):
        h = self.norm(o["norm"], x) if o["norm"] else F.group_norm(x, 1, eps=1e-5)
        if o["adaln"]:
            h = modulate(h, self.L(f"{p}.adaln")(v), "scale_shift")
        qkv = self.conv_with_lora(f"{p}.qkv", h, o["qkv"], inp)
        a = attention_core(qkv, o["heads"])
        out = self.conv_with_lora(f"{p}.proj", a, o["proj"], inp)
        y = x + out
        return y * output_scale if output_scale != 1 else y

    def resample_step(self, b, x):
        p = b["path"]
        conv = self.mods.get(f"{p}.conv")
        res = self.mods.get(f"{p}.resample")
        if conv and conv["kind"] == "conv_transpose2d":
            return self.L(f"{p}.conv")(x)
        if conv and res:
            return self.L(f"{p}.conv")(F.interpolate(x, scale_factor=2, mode="nearest"))
        if conv:
            return self.L(f"{p}.conv")(x)
        if res and res["attrs"].get("mode") == "avgpool":
            return F.avg_pool2d(x, 2)
        return F.interpolate(x, scale_factor=2, mode="nearest")

    def head(self, b, x):
        p = b["path"]
        h = F.silu(self.norm(f"{p}.norm", x)) if self.has(f"{p}.norm") else x
        return self.L(f"{p}.conv")(h)

    # embedding.ts
    def noise_embedding(self, x):
        o = self.ir["embedding"]["noise"]
        if o["kind"] == "table":
            return self.L("emb.noise")(x.long())
        half = o["dim"] // 2
        i = torch.arange(half, dtype=torch.float32)
        if o["kind"] == "sinusoidal":
            freqs = torch.exp(i * (-math.log(o["maxPositions"]) / half))
        elif o["kind"] == "positional":
            freqs = (1.0 / o["maxPositions"]) ** (i / (half - (1 if o["endpoint"] else 0)))
        else:  # fourier: fixed random frequencies
            g = torch.Generator().manual_seed(0)
            freqs = torch.randn(half, generator=g) * o["scale"] * 2 * math.pi
        a = torch.outer(x.float(), freqs)
        parts = [torch.cos(a), torch.sin(a)]
        if o["flip"]:
            parts.reverse()
        return torch.cat(parts, dim=1)

    def embedding(self, cond):
        e_o = self.ir["embedding"]
        e = self.noise_embedding(cond["noise"])
        label = e_o["label"]

        def label_in(c):
            layer = self.L("emb.label")
            return c @ layer.weight if isinstance(layer, nn.Embedding) else layer(c)

        if label["kind"] != "none" and label["at"] == "input" and "classes" in cond and self.has("emb.label"):
            e = e + label_in(cond["classes"])
        if e_o["augment"]["kind"] == "linear" and "augment" in cond and self.has("emb.augment"):
            e = e + self.L("emb.augment")(cond["augment"])
        for i in range(len(e_o["mlp"])):
            e = self.L(f"emb.mlp{i}")(e)
            if i < len(e_o["mlp"]) - 1:
                e = F.silu(e)
        if label["kind"] != "none" and label["at"] == "output" and "classes" in cond and self.has("emb.label"):
            e = e + label_in(cond["classes"])
        return F.silu(e) if e_o["outAct"] else e

    def forward(self, x, cond):
        v = self.embedding(cond) if self.ir["embedDim"] > 0 else None
        inp = {"t": cond["noise"], "classes": cond.get("classes"), "v": v}
        skips = []
        h = x
        for plan in self.blocks:
            b = plan["b"]
            if b["kind"] == "embedding":
                continue
            hin = torch.cat([h, skips.pop()], dim=1) if b.get("skipIn") is not None else h
            if b["kind"] == "stem":
                h = self.L(f"{b['path']}.conv")(hin)
            elif b["kind"] == "res":
                h = self.res_block(plan, hin, v, inp)
            elif b["kind"] in ("down", "up"):
                h = self.resample_step(b, hin)
            elif b["kind"] == "head":
                h = self.head(b, hin)
            if b["pushSkip"]:
                skips.append(h)
        return h


# ----------------------------------------------------------------------------------------------
# Checks: parameter count per module, gradients reach everything, conv/linear FLOPs.


def check_params(ir, twin):
    bad = []
    total_ir = 0
    total_twin = 0
    for m in ir["modules"]:
        n_ir = sum(numel(p["shape"]) for p in m["params"])
        total_ir += n_ir
        n_twin = sum(p.numel() for p in twin.layers[twin.key[m["path"]]].parameters()) if m["path"] in twin.key else 0
        if n_ir != n_twin:
            bad.append(f"{m['path']} ({m['kind']}): IR {n_ir}, twin {n_twin}")
    total_twin = sum(p.numel() for p in twin.parameters())
    if bad or total_ir != total_twin:
        raise AssertionError(f"{ir['name']}: parameter count differs: IR {total_ir:,}, twin {total_twin:,}\n  " + "\n  ".join(bad))
    trainable_ir = sum(numel(p["shape"]) for m in ir["modules"] for p in m["params"] if p["trainable"])
    trainable_twin = sum(p.numel() for p in twin.parameters() if p.requires_grad)
    assert trainable_ir == trainable_twin, f"trainable: IR {trainable_ir}, twin {trainable_twin}"
    return total_ir, trainable_ir


def make_inputs(ir, n, gen):
    size, ch = ir["input"]["size"], ir["input"]["channels"]
    d = ir["diffusion"]
    x0 = torch.rand(n, ch, size, size, generator=gen) * 2 - 1
    cond = {}
    if d.get("process") == "edm":
        cond["noise"] = torch.randn(n, generator=gen)  # c_noise = ln(sigma) / 4
    else:
        T = int(d.get("T", 1000))
        cond["noise"] = torch.randint(0, T, (n,), generator=gen)
    if ir["input"]["classes"] > 0:
        cond["classes"] = F.one_hot(torch.randint(0, ir["input"]["classes"], (n,), generator=gen), ir["input"]["classes"]).float()
    if ir["input"]["augment"] > 0:
        cond["augment"] = torch.zeros(n, ir["input"]["augment"])
    return x0, cond


def loss_fn(ir, twin, x0, cond, gen):
    """The process's loss, with the same tensor work as unetc's (epsilon MSE / EDM weighted MSE)."""
    noise = torch.randn(x0.shape, generator=gen)
    d = ir["diffusion"]
    n = x0.shape[0]
    if d.get("process") == "edm":
        sigma = torch.exp(torch.randn(n, generator=gen) * 1.2 - 1.2).view(n, 1, 1, 1)
        sd = 0.5
        c_skip = sd**2 / (sigma**2 + sd**2)
        c_out = sigma * sd / torch.sqrt(sigma**2 + sd**2)
        c_in = 1 / torch.sqrt(sd**2 + sigma**2)
        xn = x0 + noise * sigma
        cond = dict(cond, noise=torch.log(sigma.view(n)) / 4)
        f = twin(xn * c_in, cond)
        dn = c_skip * xn + c_out * f[:, : x0.shape[1]]
        w = (sigma**2 + sd**2) / (sigma * sd) ** 2
        return torch.mean(w * (dn - x0) ** 2)
    T = int(d.get("T", 1000))
    betas = torch.linspace(1e-4, 0.02, T)
    abar = torch.cumprod(1 - betas, 0)[cond["noise"].long()].view(n, 1, 1, 1)
    xt = torch.sqrt(abar) * x0 + torch.sqrt(1 - abar) * noise
    out = twin(xt, cond)
    eps = out[:, : x0.shape[1]]
    return torch.mean((noise - eps) ** 2)


def flops_check(ir, twin, x0, cond):
    """Forward FLOPs (2 x MACs at batch 1) of every conv / linear / transposed conv vs the IR."""
    counts = {}
    hooks = []
    for path, key in twin.key.items():
        layer = twin.layers[key]
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):

            def hook(mod, inputs, out, path=path):
                if isinstance(mod, nn.Linear):
                    f = 2 * mod.in_features * mod.out_features
                elif isinstance(mod, nn.Conv2d):
                    f = 2 * mod.in_channels * mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1] * out.shape[2] * out.shape[3]
                else:  # ConvTranspose2d: every input pixel meets the whole kernel
                    x = inputs[0]
                    f = 2 * mod.in_channels * mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1] * x.shape[2] * x.shape[3]
                counts[path] = counts.get(path, 0) + f  # per sample (run at batch 1 below)

            hooks.append(layer.register_forward_hook(hook))
    # The conv modules run as modules only on the down/up path (per-sample weights call F.conv2d
    # with their weight: the same conv FLOPs, by construction), so count on that path.
    twin.path_only = True
    with torch.no_grad():
        twin.eval()
        twin(x0[:1], {k: v[:1] for k, v in cond.items()})
        twin.train()
    twin.path_only = False
    for h in hooks:
        h.remove()
    ir_f = {m["path"]: m["flops"] for m in ir["modules"] if m["kind"] in ("conv2d", "linear", "conv_transpose2d")}
    diffs = [f"{p}: IR {ir_f[p]:,} twin {counts.get(p, 0):,}" for p in ir_f if counts.get(p, 0) != ir_f[p]]
    return sum(counts.get(p, 0) for p in ir_f), sum(ir_f.values()), diffs


def check_grads(twin):
    missing = [n for n, p in twin.named_parameters() if p.requires_grad and (p.grad is None)]
    return [m.replace("__", ".") for m in missing]


def build(ir_path):
    with open(ir_path) as f:
        ir = json.load(f)
    torch.manual_seed(0)
    twin = Twin(ir)
    total, trainable = check_params(ir, twin)
    return ir, twin, total, trainable


def run_checks(paths):
    ok = True
    for p in paths:
        try:
            ir, twin, total, trainable = build(p)
            gen = torch.Generator().manual_seed(1)
            x0, cond = make_inputs(ir, 2, gen)
            twin_f, ir_f, diffs = flops_check(ir, twin, x0, cond)
            loss = loss_fn(ir, twin, x0, cond, gen)
            loss.backward()
            missing = check_grads(twin)
            status = "ok" if not missing and not diffs else "MISMATCH"
            ok = ok and status == "ok"
            print(f"{ir['name']:32} params {total:>12,} (trainable {trainable:,}) = IR   conv/linear FLOPs twin {twin_f:,} IR {ir_f:,}   {status}")
            for d in diffs[:5]:
                print(f"    flops {d}")
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
    twin_f, ir_f, diffs = flops_check(ir, twin, x0, cond)
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
        rows = []
        for e in pr.key_averages():
            rows.append({"name": e.key, "self_ms": e.self_cpu_time_total / 1000, "calls": e.count})
        rows.sort(key=lambda r: -r["self_ms"])
        prof = rows[:25]
    out = {
        "name": ir["name"],
        "params": total,
        "trainable": trainable,
        "param_check": "twin parameter count equals the IR's, module by module",
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ir")
    ap.add_argument("--check", nargs="*")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--show-config", action="store_true")
    args = ap.parse_args()
    if args.show_config:
        print(json.dumps({"torch_version": torch.__version__, "torch_config": torch.__config__.show(), "python": sys.version.split()[0]}))
        return
    if args.check:
        sys.exit(0 if run_checks(args.check) else 1)
    if not args.ir:
        ap.error("--ir or --check is required")
    bench(args)


if __name__ == "__main__":
    main()
