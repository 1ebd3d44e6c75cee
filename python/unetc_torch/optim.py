"""
Adam and the EMA exactly as src/runtime/train/optimizer.ts: learning-rate warm-up (`after_step`:
step k has lr min(1, (k + 1) / warmup); `before_step`, EDM's, min(1, k / warmup)), global-norm
gradient clipping, moments named by parameter (so checkpoints carry them), and the EMA decay from a
fixed decay (warmed up as (1 + step) / (10 + step) unless ema_warmup is false) or EDM's half-life.
"""
import math

import torch


class Adam:
    def __init__(self, named_params, lr, beta1=0.9, beta2=0.999, eps=1e-8, warmup=0, grad_clip=None, ramp="after_step"):
        self.params = {n: p for n, p in named_params if p.requires_grad}
        self.m = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.v = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.warmup, self.grad_clip, self.ramp = warmup, grad_clip, ramp
        self.step = 0

    def lr_at(self, step):
        seen = step if self.ramp == "before_step" else step + 1
        return self.lr * min(1, seen / self.warmup) if self.warmup > 0 else self.lr

    @torch.no_grad()
    def apply(self):
        """One update from the parameters' .grad; returns the global gradient norm."""
        t = self.step + 1
        lr = self.lr_at(self.step)
        grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)) for n, p in self.params.items()}
        norm = math.sqrt(sum(float(torch.sum(g.double() * g.double())) for g in grads.values()))
        clip = self.grad_clip / norm if self.grad_clip and norm > self.grad_clip else 1
        bc1, bc2 = 1 - self.beta1**t, 1 - self.beta2**t
        for n, p in self.params.items():
            g = grads[n] * clip if clip != 1 else grads[n]
            m, v = self.m[n], self.v[n]
            m.mul_(self.beta1).add_(g * (1 - self.beta1))
            v.mul_(self.beta2).add_(g * g * (1 - self.beta2))
            p.sub_((m / bc1) / (torch.sqrt(v / bc2) + self.eps) * lr)
        self.step = t
        return norm


class Ema:
    """ema = beta ema + (1 - beta) p for the trainable parameters (frozen ones are copied once)."""

    def __init__(self, named_params):
        self.params = dict(named_params)
        self.shadow = {n: p.detach().clone() for n, p in self.params.items()}

    @torch.no_grad()
    def update(self, beta):
        for n, s in self.shadow.items():
            p = self.params[n]
            if p.requires_grad:
                s.mul_(beta).add_(p.detach() * (1 - beta))


def ema_beta(ema=None, halflife_kimg=None, batch=1, step=0, warmup_ratio=None, ramp="after_step", warmup=True):
    if halflife_kimg is not None:
        hl = halflife_kimg * 1000
        seen = step if ramp == "before_step" else step + 1
        if warmup_ratio:
            hl = min(hl, seen * batch * warmup_ratio)
        return 0.5 ** (batch / max(hl, 1e-8))
    ema = 0.999 if ema is None else ema
    return ema if warmup is False else min(ema, (1 + step) / (10 + step))
