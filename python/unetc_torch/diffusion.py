"""
The diffusion processes, as src/runtime/diffusion/ (ddpm.ts, edm.ts, schedule.ts) and
src/runtime/train/process.ts define them, on NCHW tensors: the training losses take their random
draws from the caller (per-sample uniforms or normals in float64, and the noise), so the training
loop decides the seeds; samplers: DDIM and ancestral (discrete), Heun (EDM). Constants are float64
on the host.
"""
import math

import numpy as np
import torch

VP = {"beta_d": 19.9, "beta_min": 0.1, "M": 1000, "eps_t": 1e-5}


def betas_for(kind, T):
    if kind == "linear":  # scaled so that any T behaves like DDPM's 1000-step schedule
        scale = 1000 / T
        lo, hi = scale * 1e-4, scale * 0.02
        return np.array([lo] if T == 1 else [lo + (hi - lo) * i / (T - 1) for i in range(T)])
    abar = lambda t: math.cos((t + 0.008) / 1.008 * (math.pi / 2)) ** 2
    return np.array([min(1 - abar((i + 1) / T) / abar(i / T), 0.999) for i in range(T)])


class Schedule:
    def __init__(self, betas, timesteps):
        T = len(betas)
        self.T, self.betas, self.timesteps = T, betas, timesteps
        self.abar = np.cumprod(1 - betas)
        self.abar_prev = np.concatenate([[1.0], self.abar[:-1]])
        self.post_var = betas * (1 - self.abar_prev) / (1 - self.abar)
        self.coef1 = betas * np.sqrt(self.abar_prev) / (1 - self.abar)
        self.coef2 = (1 - self.abar_prev) * np.sqrt(1 - betas) / (1 - self.abar)
        pv = self.post_var.copy()
        if T > 1:
            pv[0] = pv[1]
        self.post_logvar_clipped = np.log(pv)

    @staticmethod
    def full(kind, T):
        return Schedule(betas_for(kind, T), np.arange(T))

    def respaced(self, count):
        n = max(1, min(count, self.T))
        use = sorted({round(i * (self.T - 1) / max(1, n - 1)) for i in range(n)})
        betas, last = [], 1.0
        for t in use:
            betas.append(1 - self.abar[t] / last)
            last = self.abar[t]
        return Schedule(np.array(betas), self.timesteps[use])


def _col(values, like):
    return torch.as_tensor(np.asarray(values, dtype=np.float32), device=like.device).view(-1, 1, 1, 1)


def _normal_kl(m1, lv1, m2, lv2):
    return 0.5 * (-1 + lv2 - lv1 + torch.exp(lv1 - lv2) + (m1 - m2) ** 2 * torch.exp(-lv2))


def _approx_cdf(x):
    return 0.5 * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _discretized_gaussian_log_likelihood(x, mean, log_scale):
    centered = x - mean
    inv_std = torch.exp(-log_scale)
    cdf_plus = _approx_cdf(inv_std * (centered + 1 / 255))
    cdf_min = _approx_cdf(inv_std * (centered - 1 / 255))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1 - cdf_min).clamp(min=1e-12))
    log_delta = torch.log((cdf_plus - cdf_min).clamp(min=1e-12))
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_delta))


class Ddpm:
    """DDPM / IDDPM: epsilon prediction; with a learned variance the hybrid loss L_simple + lambda T L_t."""

    kind = "ddpm"

    def __init__(self, d):
        self.T = int(d.get("T", 1000))
        self.schedule = Schedule.full(d.get("schedule", "linear"), self.T)
        self.learn_sigma = d.get("learn_sigma") is True
        self.hybrid = self.learn_sigma and d.get("loss") == "hybrid"
        self.vlb_weight = float(d.get("vlb_weight", 0.001))

    def timesteps(self, u):
        """Timestep indices from per-sample uniforms (process.ts: min(T - 1, floor(u T)))."""
        return np.minimum(self.T - 1, np.floor(u * self.T)).astype(np.int64)

    def _p_mean(self, s, out, xt, idx, clip, eps=None):
        c = xt.shape[1]
        if eps is None:
            eps = out[:, :c] if self.learn_sigma else out
        if self.learn_sigma:
            frac = (out[:, c:] + 1) / 2
            log_var = frac * _col(np.log(s.betas[idx]), xt) + (1 - frac) * _col(s.post_logvar_clipped[idx], xt)
        else:
            large = np.log(np.where((np.arange(s.T) == 0) & (s.T > 1), s.post_var[1] if s.T > 1 else 0, s.betas))
            log_var = _col(large[idx], xt) * torch.ones_like(xt)
        x0 = _col(np.sqrt(1 / s.abar[idx]), xt) * xt - _col(np.sqrt(1 / s.abar[idx] - 1), xt) * eps
        if clip:
            x0 = x0.clamp(-1, 1)
        mean = _col(s.coef1[idx], xt) * x0 + _col(s.coef2[idx], xt) * xt
        return mean, log_var, x0

    def loss(self, net, x0, u, noise, reduction="mean"):
        per_sample = (lambda l: l.sum((1, 2, 3))) if reduction == "sum_pixels" else (lambda l: l.mean((1, 2, 3)))
        t = self.timesteps(u)
        s = self.schedule
        xt = _col(np.sqrt(s.abar[t]), x0) * x0 + _col(np.sqrt(1 - s.abar[t]), x0) * noise
        out = net(xt, torch.as_tensor(t, device=x0.device))
        c = x0.shape[1]
        eps = out[:, :c] if self.learn_sigma else out
        mse = torch.mean(per_sample((noise - eps) ** 2))
        if not self.hybrid:
            return mse
        mean, log_var, _ = self._p_mean(s, out, xt, t, False, eps.detach())
        true_mean = _col(s.coef1[t], x0) * x0 + _col(s.coef2[t], x0) * xt
        kl = per_sample(_normal_kl(true_mean, _col(s.post_logvar_clipped[t], x0), mean, log_var)) / math.log(2)
        nll = per_sample(-_discretized_gaussian_log_likelihood(x0, mean, 0.5 * log_var)) / math.log(2)
        vb = torch.where(torch.as_tensor(t == 0, device=x0.device), nll, kl)
        return mse + self.vlb_weight * self.T * torch.mean(vb)

    @torch.no_grad()
    def sample(self, net, shape, steps=50, sampler="ddim", generator=None):
        """DDIM (eta 0) over `steps` evenly spaced timesteps, or ancestral sampling (all T unless fewer steps)."""
        s = self.schedule.respaced(steps) if sampler == "ddim" or (steps and steps < self.T) else self.schedule
        x = torch.randn(shape, generator=generator)
        n = shape[0]
        for i in range(s.T - 1, -1, -1):
            idx = np.full(n, i)
            out = net(x, torch.full((n,), int(s.timesteps[i]), dtype=torch.long))
            mean, log_var, x0 = self._p_mean(s, out, x, idx, True)
            if sampler == "ddim":
                ab, abp = s.abar[i], s.abar_prev[i]
                eps = (math.sqrt(1 / ab) * x - x0) / math.sqrt(1 / ab - 1)
                x = math.sqrt(abp) * x0 + math.sqrt(1 - abp) * eps
            else:
                x = mean if i == 0 else mean + torch.exp(0.5 * log_var) * torch.randn(shape, generator=generator)
        return x


class Edm:
    """EDM: preconditioning `edm` (lognormal sigma) or `vp` (VPPrecond, t ~ U(eps_t, 1)), Heun sampling."""

    kind = "edm"

    def __init__(self, d):
        self.precond = d.get("precond", "edm")
        self.sd = float(d.get("sigma_data", 0.5))
        self.p_mean, self.p_std = float(d.get("P_mean", -1.2)), float(d.get("P_std", 1.2))
        self.sigma_min, self.sigma_max, self.rho = float(d.get("sigma_min", 0.002)), float(d.get("sigma_max", 80)), float(d.get("rho", 7))
        self.steps = int(d.get("steps", 18))
        self.wants_uniform = self.precond == "vp"

    def coefficients(self, sigma):
        sd = self.sd
        if self.precond == "vp":
            c_noise = (VP["M"] - 1) * (np.sqrt(VP["beta_min"] ** 2 + 2 * VP["beta_d"] * np.log(1 + sigma**2)) - VP["beta_min"]) / VP["beta_d"]
            return np.ones_like(sigma), -sigma, 1 / np.sqrt(sigma**2 + 1), c_noise
        return sd**2 / (sigma**2 + sd**2), sigma * sd / np.sqrt(sigma**2 + sd**2), 1 / np.sqrt(sd**2 + sigma**2), np.log(sigma) / 4

    def denoise(self, net, x, sigma):
        c_skip, c_out, c_in, c_noise = self.coefficients(sigma)
        f = net(_col(c_in, x) * x, torch.as_tensor(c_noise.astype(np.float32), device=x.device))
        return _col(c_skip, x) * x + _col(c_out, x) * f

    def training_sigmas(self, u):
        if self.precond == "vp":
            t = 1 + u * (VP["eps_t"] - 1)
            sigma = np.sqrt(np.exp(0.5 * VP["beta_d"] * t * t + VP["beta_min"] * t) - 1)
            return sigma, 1 / sigma**2
        sigma = np.exp(u * self.p_std + self.p_mean)
        return sigma, (sigma**2 + self.sd**2) / (sigma * self.sd) ** 2

    def loss(self, net, y, u, noise, reduction="mean"):
        sigma, weight = self.training_sigmas(u)
        d = self.denoise(net, y + noise * _col(sigma, y), sigma)
        l = _col(weight, y) * (d - y) ** 2
        return l.sum((1, 2, 3)).mean() if reduction == "sum_pixels" else l.mean()

    def sigma_steps(self, steps):
        a, b = self.sigma_max ** (1 / self.rho), self.sigma_min ** (1 / self.rho)
        return [(a + i / max(1, steps - 1) * (b - a)) ** self.rho for i in range(steps)] + [0.0]

    @torch.no_grad()
    def sample(self, net, shape, steps=None, sampler="heun", generator=None):
        steps = steps or self.steps
        t = self.sigma_steps(steps)
        n = shape[0]
        x = torch.randn(shape, generator=generator) * t[0]
        for i in range(steps):
            d = (x - self.denoise(net, x, np.full(n, t[i]))) / t[i]
            xn = x + d * (t[i + 1] - t[i])
            if t[i + 1] > 0:
                d2 = (xn - self.denoise(net, xn, np.full(n, t[i + 1]))) / t[i + 1]
                xn = x + (0.5 * d + 0.5 * d2) * (t[i + 1] - t[i])
            x = xn
        return x


def make_process(diffusion):
    return Edm(diffusion) if diffusion.get("process") == "edm" else Ddpm(diffusion)
