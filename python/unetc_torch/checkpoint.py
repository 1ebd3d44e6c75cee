"""
unetc checkpoints (src/runtime/train/checkpoint.ts): `checkpoints/step-NNNNNNN.safetensors` with
`model.<name>` and `ema.<name>` for every parameter, `adam_m.<name>` / `adam_v.<name>` for the
trainable ones, all float32 in PyTorch's layout (the names are the model's state_dict() keys), and
the run state in the metadata: format, step, seed, batch, dataPosition, adamStep, spec; a CRC-32
per tensor. Written only from finite values, atomically; the newest `keep` are kept.
"""
import math
import os
import re

import numpy as np
import torch

from . import safetensors

CHECKPOINT_FORMAT = "unetc-checkpoint-1"
STATE_KEYS = ("step", "seed", "batch", "dataPosition", "adamStep")


def checkpoint_name(step):
    return f"step-{step:07d}.safetensors"


def list_checkpoints(folder):
    if not os.path.isdir(folder):
        return []
    return sorted(f for f in os.listdir(folder) if re.fullmatch(r"step-\d+\.safetensors", f))


class NonFiniteWeights(Exception):
    pass


def save_checkpoint(folder, state, parts, keep=3):
    """parts: {"model": {name: tensor}, "ema": ..., "adam_m": ..., "adam_v": ...}; state: STATE_KEYS + spec."""
    os.makedirs(folder, exist_ok=True)
    tensors = {}
    for prefix, named in parts.items():
        for name, t in named.items():
            a = t.detach().to("cpu", torch.float32).contiguous().numpy()
            if not np.isfinite(a).all():
                raise NonFiniteWeights(f"{prefix}.{name}: {int((~np.isfinite(a)).sum())} non-finite values")
            tensors[f"{prefix}.{name}"] = a
    meta = {"format": CHECKPOINT_FORMAT, **{k: str(v) for k, v in state.items()}}
    path = os.path.join(folder, checkpoint_name(state["step"]))
    safetensors.write_atomic(path, safetensors.encode(tensors, meta, checksums=True))
    up_to = [f for f in list_checkpoints(folder) if f <= checkpoint_name(state["step"])]
    for old in up_to[: max(0, len(up_to) - keep)]:
        os.remove(os.path.join(folder, old))
    return path


def read_checkpoint(path):
    """(tensors, state) of a unetc checkpoint; refuses other files and non-finite weights."""
    tensors, meta = safetensors.read(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise safetensors.SafetensorsError(path, f"not a unetc checkpoint (format {meta.get('format')!r})")
    state = {}
    for k in STATE_KEYS:
        try:
            state[k] = int(float(meta[k]))
        except (KeyError, ValueError):
            raise safetensors.SafetensorsError(path, f"metadata '{k}' is missing or not a number")
    state["spec"] = meta.get("spec", "")
    for name, a in tensors.items():
        if a.dtype == np.float32 and not np.isfinite(a).all():
            raise safetensors.SafetensorsError(path, f'tensor "{name}" holds non-finite values (NaN or Inf): these weights diverged')
    return tensors, state


def latest_checkpoint(folder):
    """(path, tensors, state, skipped) of the newest readable checkpoint, or None; damaged newer files are skipped."""
    skipped = []
    for f in reversed(list_checkpoints(folder)):
        path = os.path.join(folder, f)
        try:
            tensors, state = read_checkpoint(path)
            return path, tensors, state, skipped
        except safetensors.SafetensorsError as e:
            if "non-finite" in e.problem:
                raise
            skipped.append(f"{f}: {e.problem}")
    if skipped:
        raise safetensors.SafetensorsError(folder, "no readable checkpoint:\n  " + "\n  ".join(skipped))
    return None


def load_checkpoint(model, path, weights="ema"):
    """Loads the `ema` (default) or `model` weights of a unetc checkpoint (a file, or a run folder:
    its newest checkpoint) into `model`; every name and shape must match. Returns the run state."""
    if weights not in ("ema", "model"):
        raise ValueError(f'weights is "ema" or "model", got {weights!r}')
    if os.path.isdir(path):
        folder = os.path.join(path, "checkpoints") if os.path.isdir(os.path.join(path, "checkpoints")) else path
        found = latest_checkpoint(folder)
        if not found:
            raise safetensors.SafetensorsError(path, "holds no checkpoint")
        path, tensors, state, _ = found
    else:
        tensors, state = read_checkpoint(path)
    own = model.state_dict()
    prefix = weights + "."
    given = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    missing = sorted(set(own) - set(given))
    extra = sorted(set(given) - set(own))
    if missing or extra:
        raise safetensors.SafetensorsError(path, f"is a checkpoint of another model ({state['spec']}): missing {missing[:5]}, unknown {extra[:5]}")
    with torch.no_grad():
        for k, t in own.items():
            if list(given[k].shape) != list(t.shape):
                raise safetensors.SafetensorsError(path, f"{prefix}{k} has shape {list(given[k].shape)} there but {list(t.shape)} in this model")
            t.copy_(torch.from_numpy(np.ascontiguousarray(given[k])))
    return state
