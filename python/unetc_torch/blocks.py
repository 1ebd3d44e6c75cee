"""
The blocks of a U-Net as nn.Modules, each holding the parameters its op names (src/ir/ops.ts) at
their names relative to the block, so that a model's `state_dict()` keys are the unetc checkpoint
names (`enc.16x16.block0.conv0.uc_lora.down`). Mirrors src/runtime/model/blocks.ts and
embedding.ts; the math of each fragment is in layers.py and lora.py.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .init import init_tensor
from .layers import attention_core, conv, conv_transpose, dropout, linear, mlp, modulate, norm, resample
from .lora import conv_with_lora


class LoraInputs:
    """What the LoRA layers read: the timestep t (TimeLoRA), the class vector (ClassLoRA), v (UC-LoRA)."""

    def __init__(self, t, classes, v):
        self.t, self.classes, self.v = t, classes, v


class Block(nn.Module):
    """A block: its op and its parameters, given as rows (relative name, PyTorch-layout shape,
    Init, trainable). Names are registered in nested containers, so `conv0.uc_lora.down` is
    `self.conv0.uc_lora.down`."""

    def __init__(self, op, params):
        super().__init__()
        self.op = op
        self.inits = {}
        for name, shape, init, trainable in params:
            *parents, leaf = name.split(".")
            mod = self
            for seg in parents:
                if seg not in mod._modules:
                    mod.add_module(seg, nn.Module())
                mod = mod._modules[seg]
            mod.register_parameter(leaf, nn.Parameter(torch.zeros(shape), requires_grad=trainable))
            self.inits[name] = init

    def w(self, ref):
        """The parameter an op's Ref names."""
        return self.get_parameter(ref)

    def reset_parameters(self):
        with torch.no_grad():
            for name, init in self.inits.items():
                p = self.get_parameter(name)
                p.copy_(init_tensor(list(p.shape), init))


class ResBlock(Block):
    """conv_i(drop_i(act(mod_i(norm_i(h))))) for each conv i (post order: the activation after the
    conv); dropout before every conv but the first; resampling before conv 0 and on the skip; then
    the residual path, the output scale and attention."""

    def forward(self, x, v, lora, training):
        op, w = self.op, self.w
        mod = op.get("modulation")

        def modulated(h, at):
            return modulate(h, mlp(w, v, mod["mlp"]), mod["kind"]) if mod and mod["at"] == at else h

        rs = op.get("resample")
        x = modulated(x, "input")
        h = x
        for i, c in enumerate(op["convs"]):
            if op["norms"][i]:
                h = norm(w, h, op["norms"][i])
            if i == 1:
                h = modulated(h, "norm1")
            if op["order"] == "pre":
                h = F.silu(h)
            if i > 0:
                h = dropout(h, op["dropout"], training)
            if i == 0 and rs:
                h = resample(h, rs["mode"], rs["filter"])
            h = conv_with_lora(w, h, c, lora)
            if op["order"] == "post":
                h = F.silu(h)
            if i == 0:
                h = modulated(h, "conv0")
        if op["residual"]:
            skip = resample(x, rs["mode"], rs["filter"]) if rs else x
            if op.get("skip"):
                skip = conv(w, skip, op["skip"])
            h = h + skip
        if op["outputScale"] != 1:
            h = h * op["outputScale"]
        a = op.get("attention")
        if a:
            # x + proj(attention(qkv(adaLN(norm(x))))), times the output scale.
            y = norm(w, h, a["norm"]) if a["norm"] else h
            if a.get("adaln"):
                y = modulate(y, linear(w, v, a["adaln"]), "scale_shift")
            y = attention_core(conv_with_lora(w, y, a["qkv"], lora), a["heads"], a["layout"])
            h = h + conv_with_lora(w, y, a["proj"], lora)
            if a["outputScale"] != 1:
                h = h * a["outputScale"]
        return h


class Stem(Block):
    def forward(self, x):
        return conv(self.w, x, self.op["conv"])


class Resample(Block):
    """A resampling step between levels: strided conv, transposed conv, nearest (+ conv), average pooling."""

    def forward(self, x):
        op, w = self.op, self.w
        mode = op["mode"]
        if mode == "conv":
            return conv(w, x, op["conv"])
        if mode == "conv_transpose":
            return conv_transpose(w, x, op["conv"])
        if mode == "nearest_conv":
            return conv(w, resample(x, "up", [1, 1]), op["conv"])
        if mode == "nearest":
            return resample(x, "up", [1, 1])
        return resample(x, "down", [1, 1])


class Head(Block):
    """[norm, SiLU,] conv."""

    def forward(self, x):
        op = self.op
        h = F.silu(norm(self.w, x, op["norm"])) if op["norm"] else x
        return conv(self.w, h, op["conv"])


def _trig(x, freqs, flip):
    a = torch.outer(x, freqs.to(x.dtype))
    parts = [torch.cos(a), torch.sin(a)]
    if flip:
        parts.reverse()
    return torch.cat(parts, dim=1)


class Embedding(Block):
    """v from the noise level / timestep, class labels and augmentation labels."""

    def __init__(self, op, params):
        super().__init__(op, params)
        o = op["noise"]
        if o["kind"] == "fourier":
            # EDM's FourierEmbedding: fixed random frequencies N(0, scale^2) (not in the checkpoint,
            # and not the TypeScript runtime's numbers: no spec here uses it).
            self.register_buffer("freqs", torch.randn(o["dim"] // 2) * o["scale"], persistent=False)

    def noise_embedding(self, x):
        o = self.op["noise"]
        half = o["dim"] // 2
        if o["kind"] == "table":
            return self.w(o["table"])[x.long()]
        # In the parameters' dtype (float32, or float64 after model.double()).
        dtype = next((p.dtype for p in self.parameters()), torch.float32)
        t = x.to(dtype) * o["inputScale"] if o["inputScale"] != 1 else x.to(dtype)
        i = torch.arange(half, dtype=dtype, device=t.device)
        if o["kind"] == "sinusoidal":  # IDDPM's timestep_embedding: f_i = max_positions^(-i / half)
            return _trig(t, torch.exp(i * (-math.log(o["maxPositions"]) / half)), o["flip"])
        if o["kind"] == "positional":  # EDM's PositionalEmbedding: f_i = (1 / max_positions)^(i / (half - endpoint))
            return _trig(t, (1.0 / o["maxPositions"]) ** (i / (half - (1 if o["endpoint"] else 0))), o["flip"])
        return _trig(t, self.freqs * (2 * math.pi), o["flip"])

    def forward(self, noise, class_labels=None, augment_labels=None):
        op, w = self.op, self.w
        e = self.noise_embedding(noise)
        lbl = op.get("label")

        def label_in(c):
            x = c * lbl["scale"] if lbl["scale"] != 1 else c
            return x @ w(lbl["table"]) if lbl.get("table") else linear(w, x, lbl["linear"])

        if lbl and lbl["at"] == "input" and class_labels is not None:
            e = e + label_in(class_labels)
        if op.get("augment") and augment_labels is not None:
            e = e + linear(w, augment_labels, op["augment"])
        e = mlp(w, e, op["mlp"])
        if lbl and lbl["at"] == "output" and class_labels is not None:
            e = e + label_in(class_labels)
        return F.silu(e) if op["outAct"] else e
