"""
Test helper for test/torchTarget.test.ts: imports an emitted model.py by path, loads weights (a
safetensors file of state_dict() names), runs one eval-mode forward pass on the given inputs and
writes the output (and, with a cotangent, the gradients of sum(output * cotangent) for every
trainable parameter) as safetensors.

  /usr/bin/python3 test/torchForward.py MODEL.py WEIGHTS.safetensors INPUTS.safetensors OUT.safetensors
  /usr/bin/python3 test/torchForward.py --init-stats MODEL.py   (mean, std, min, max of every initial tensor of Model(), as JSON)
"""
import importlib.util
import json
import sys

import numpy as np
import torch


def load(model_py):
    spec = importlib.util.spec_from_file_location("emitted_model", model_py)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def init_stats(model_py):
    torch.manual_seed(0)
    model = load(model_py).Model()
    out = {}
    for n, p in model.named_parameters():
        x = p.detach().double()
        out[n] = {"mean": float(x.mean()), "std": float(x.std(unbiased=False)), "min": float(x.min()), "max": float(x.max()), "size": x.numel()}
    print(json.dumps({"params": out}))


def main(model_py, weights, inputs, out):
    torch.set_num_threads(1)
    mod = load(model_py)
    from unetc_torch import safetensors

    model = mod.Model()
    w, _ = safetensors.read(weights)
    own = model.state_dict()
    if set(w) != set(own):
        raise SystemExit(f"names differ: {sorted(set(w) ^ set(own))[:5]}")
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in w.items()})
    model.eval()
    inp, _ = safetensors.read(inputs)
    t = lambda k: torch.from_numpy(np.ascontiguousarray(inp[k])) if k in inp else None
    noise = t("noise")
    if mod.CONFIG["diffusion"].get("process") != "edm":
        noise = noise.long()
    cot = t("cotangent")
    with torch.set_grad_enabled(cot is not None):
        y = model(t("x"), noise, t("classes"), t("augment"))
    res = {"output": y.detach().numpy().copy()}
    if cot is not None:
        torch.sum(y * cot).backward()
        res.update({f"grad.{n}": p.grad.numpy().copy() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None})
    # The same pass in float64: how far float32 rounding alone moves this output (the noise floor).
    with torch.no_grad():
        m64 = model.double()
        f64 = lambda v: v.double() if v is not None else None
        res["output64"] = m64(f64(t("x")), noise if noise.dtype == torch.long else f64(noise), f64(t("classes")), f64(t("augment"))).numpy()
        model.float()
    with open(out, "wb") as f:
        f.write(safetensors.encode(res))


if __name__ == "__main__":
    if sys.argv[1] == "--init-stats":
        init_stats(sys.argv[2])
    else:
        main(*sys.argv[1:5])
