"""
The conditioning LoRA layers (DESIGN.md section 3), mirroring src/runtime/model/lora.ts. A conv
with LoRA layers computes W x + sum_l delta_l(x), with

    delta(x) = s [ up( omega_rep * down(x) ) + omega_rep @ Bias ]

where down is the stacked A_i as a k x k conv to m r channels, omega_rep each composition weight
repeated r times (basis-major: channel i r + j belongs to basis i) and up the stacked B_i:
  TimeLoRA   omega = table[t]   (the timestep's row of a trainable T x m table)
  ClassLoRA  omega = c          (the class vector: one basis per class)
  UC-LoRA    omega = MLP(v)     (Linear, GroupNorm, SiLU per hidden layer, then Linear)
Like the TypeScript runtime, a stride-1 conv whose per-sample weights W + s A diag(omega_rep) B cost
less to compose than the down/up path (per_sample_weights_cheaper) runs as one grouped conv with
those weights; both formulations compute the same function (the choice is only about cost).
"""
import torch
import torch.nn.functional as F

from .layers import conv, linear, norm

# Patches larger than this (bytes, whole batch) keep a k x k conv on the down/up path (lora.ts MAX_PATCH_BYTES).
MAX_PATCH_BYTES = 64 * 2**20


def per_sample_weights_cheaper(cin, cout, pixels, kernel=1, batch=1):
    """lora.ts perSampleWeightsCheaper: compose when k^2 C_in C_out < H W (k^2 C_in + C_out)."""
    k2 = kernel * kernel
    if kernel > 1 and batch * pixels * k2 * cin * 4 > MAX_PATCH_BYTES:
        return False
    return k2 * cin * cout < pixels * (k2 * cin + cout)


def composition_weights(w, l, inp):
    """omega [N, m]: TimeLoRA's table row for t, ClassLoRA's class vector, UC-LoRA's MLP(v)."""
    if l["kind"] == "time_lora":
        return w(l["omega"])[inp.t.long()]
    if l["kind"] == "class_lora":
        return inp.classes
    h = inp.v
    for layer in l["hidden"]:
        h = F.silu(norm(w, linear(w, h, layer["linear"]), layer["norm"]))
    return linear(w, h, l["out"])


def lora_scale(w, l):
    """UC-LoRA's scale s (a trainable scalar or a fixed number); None for 1."""
    if l["kind"] != "uc_lora":
        return None
    if isinstance(l["scale"], str):
        return w(l["scale"])
    return None if l["scale"] == 1 else l["scale"]


def lora_bias_term(w, l, rep):
    return rep @ w(l["bias"]) if l["kind"] == "uc_lora" and l.get("bias") else None


def lora_delta(w, x, c, l, inp):
    """s [up(omega_rep * down(x)) + omega_rep @ Bias]."""
    rep = composition_weights(w, l, inp).repeat_interleave(l["rank"], dim=1)  # [N, m r]
    n = x.shape[0]
    a = w(l["down"])  # [m r, C_in k k]
    down = F.conv2d(x, a.view(a.shape[0], c["cin"], c["kernel"], c["kernel"]), stride=c["stride"], padding=c["pad"])
    delta = torch.einsum("om,nmhw->nohw", w(l["up"]), down * rep.view(n, -1, 1, 1))
    bias_term = lora_bias_term(w, l, rep)
    if bias_term is not None:
        delta = delta + bias_term.view(n, -1, 1, 1)
    s = lora_scale(w, l)
    return delta * s if s is not None else delta


def conv_with_lora_weights(w, x, c, inp):
    """Per-sample weights W_n = W + sum_l s_l B_l diag(omega_rep_l[n]) A_l, run as one grouped conv
    (groups = N), plus the per-sample bias terms."""
    n, cin, h, wd = x.shape
    k, cout = c["kernel"], c["cout"]
    weights = w(c["weight"]).unsqueeze(0)  # [1, C_out, C_in, k, k]
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
    if c.get("bias"):
        y = y + w(c["bias"]).view(1, -1, 1, 1)
    if extra is not None:
        y = y + extra.view(n, -1, 1, 1)
    return y


def conv_with_lora(w, x, c, inp):
    """A conv plus its LoRA layers, in the formulation that costs less for these shapes."""
    if not c["lora"]:
        return conv(w, x, c)
    n, _, h, wd = x.shape
    if c["stride"] == 1 and per_sample_weights_cheaper(c["cin"], c["cout"], h * wd, c["kernel"], n):
        return conv_with_lora_weights(w, x, c, inp)
    y = conv(w, x, c)
    for l in c["lora"]:
        y = y + lora_delta(w, x, c, l, inp)
    return y
