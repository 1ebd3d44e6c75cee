#!/usr/bin/env python3
"""
One training step of an emitted PyTorch model (generated/<spec>/model.py on python/unetc_torch),
timed: the same loss (the spec's diffusion process), unetc's Adam (with its global gradient norm)
and EMA as the torch engine's training loop, at a given batch, on random data in [-1, 1].
Prints one JSON line: name, params, trainable, steps_ms, median_ms, threads, torch version/config.

  /usr/bin/python3 bench/torch_step.py generated/attn-unet-mnist-uc-lora/model.py [--batch 64]
      [--warmup 3] [--steps 10] [--threads 2] [--profile]
  /usr/bin/python3 bench/torch_step.py --show-config

Run with OPENBLAS_NUM_THREADS=1 (BLAS threads fight torch's own threads).
"""
import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # the TS benchmark checks this first and skips with a message
    print(json.dumps({"error": f"torch is not installed: {e}"}))
    sys.exit(3)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load_model_module(path):
    spec = importlib.util.spec_from_file_location("emitted_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_py", nargs="?")
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
    torch.set_num_threads(args.threads)
    mod = load_model_module(args.model_py)
    from unetc_torch.diffusion import make_process
    from unetc_torch.optim import Adam, Ema, ema_beta

    cfg = mod.CONFIG
    torch.manual_seed(0)
    model = mod.Model()
    model.train()
    n, c, s = args.batch, cfg["channels"], cfg["image_size"]
    gen = torch.Generator().manual_seed(1)
    rs = np.random.RandomState(1)
    x0 = torch.rand(n, c, s, s, generator=gen) * 2 - 1
    cls = F.one_hot(torch.randint(0, cfg["classes"], (n,), generator=gen), cfg["classes"]).float() if cfg["classes"] else None
    aug = torch.zeros(n, cfg["augment"]) if cfg["augment"] else None
    process = make_process(cfg["diffusion"])
    tr = cfg["training"]
    reduction = "sum_pixels" if tr.get("loss_reduction") == "sum_pixels" else "mean"
    adam = Adam(model.named_parameters(), lr=float(tr.get("lr", 1e-4)))
    ema = Ema(model.named_parameters())

    def step(i):
        u = rs.rand(n) if process.kind == "ddpm" or process.wants_uniform else rs.randn(n)
        noise = torch.randn(x0.shape, generator=gen)
        loss = process.loss(lambda xt, nl: model(xt, nl, cls, aug), x0, u, noise, reduction)
        for p in model.parameters():
            p.grad = None
        loss.backward()
        adam.apply()
        ema.update(ema_beta(ema=tr.get("ema"), batch=n, step=i))
        return float(loss)

    times = []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        step(i)
        dt = (time.perf_counter() - t0) * 1000
        if i >= args.warmup:
            times.append(dt)
        log(f"  torch {cfg['name']} step {i + 1}/{args.warmup + args.steps}: {dt:.0f} ms{' (warm-up)' if i < args.warmup else ''}")
    prof = None
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as pr:
            step(args.warmup + args.steps)
        rows = [{"name": e.key, "self_ms": e.self_cpu_time_total / 1000, "calls": e.count} for e in pr.key_averages()]
        rows.sort(key=lambda r: -r["self_ms"])
        prof = rows[:25]
    print(
        json.dumps(
            {
                "name": cfg["name"],
                "model": os.path.relpath(args.model_py),
                "params": sum(p.numel() for p in model.parameters()),
                "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
                "batch": n,
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
        )
    )


if __name__ == "__main__":
    main()
