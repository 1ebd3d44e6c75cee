"""
Test helper for test/torchTarget.test.ts: imports an emitted model.py by path, loads weights (a
safetensors file of state_dict() names), runs one eval-mode forward pass on the given inputs and
writes the output (and, with a cotangent, the gradients of sum(output * cotangent) for every
trainable parameter) as safetensors.

  /usr/bin/python3 test/torchForward.py MODEL.py WEIGHTS.safetensors INPUTS.safetensors OUT.safetensors
"""
import importlib.util
import sys

import numpy as np
import torch


def main(model_py, weights, inputs, out):
    torch.set_num_threads(1)
    spec = importlib.util.spec_from_file_location("emitted_model", model_py)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
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
    res = {"output": y.detach().numpy()}
    if cot is not None:
        torch.sum(y * cot).backward()
        res.update({f"grad.{n}": p.grad.numpy() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None})
    with open(out, "wb") as f:
        f.write(safetensors.encode(res))


if __name__ == "__main__":
    main(*sys.argv[1:5])
