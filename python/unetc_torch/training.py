"""
The training loop of an emitted train.py, with torch.distributed: one process per GPU (NCCL) or CPU
worker (gloo), configured from the standard environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT: torchrun, SLURM with those exported, or `unetc train --engine torch --nproc N`).

It follows src/runtime/train/loop.ts step for step: the global batch of step s is the data order's
samples s B .. (s + 1) B - 1 (rng.ts: seeded epoch permutations), split into contiguous shards, one
per rank; the timesteps / noise levels come from the same seeded host draws as the TypeScript loop;
the process's loss (its reduction as the spec says), gradients averaged over ranks by
DistributedDataParallel, unetc's Adam (warm-up, clipping), the EMA, and checkpoints in the same
safetensors format and run folder (checkpoints/, loss.jsonl), written by rank 0 only.

Across engines a run resumes with the same weights, EMA, Adam moments and step, the same data order
and the same timesteps / noise levels; the Gaussian noise images and dropout masks come from each
engine's own generator (torch's here, seeded from the same per-step seeds), so a run resumed on the
other engine is not bit-identical to one that stayed, only statistically the same.
"""
import argparse
import json
import os
import socket
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from .checkpoint import NonFiniteWeights, latest_checkpoint, save_checkpoint
from .data import DataError, load_dataset
from .diffusion import make_process
from .optim import Adam, Ema, ema_beta
from .rng import STREAM, BatchOrder, normals, step_seed, uniforms
from .safetensors import SafetensorsError


class TrainingError(Exception):
    pass


def parse_args(argv, config):
    tr = config["training"]
    ap = argparse.ArgumentParser(description=f"Train {config['name']} with torch.distributed (DDP).")
    ap.add_argument("--data", default="mnist", help="mnist or cifar10:PATH (default mnist)")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=int(tr.get("batch", 64)), help="the global batch, split over the processes")
    ap.add_argument("--out", default=os.path.join("runs", config["name"]))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N images")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--checkpoint-every", type=int, default=None)
    ap.add_argument("--keep", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads per process (CPU)")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line (rank 0)")
    return ap.parse_args(argv)


def setup_distributed():
    """(rank, world, device); a process group when WORLD_SIZE > 1 (gloo on CPU, NCCL with CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and os.environ.get("UNETC_TORCH_DEVICE", "") != "cpu"
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo", init_method="env://", rank=rank, world_size=world)
    return rank, world, device


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def take_lock(out):
    """The run folder's .lock (runFolder.ts's format), unless the launcher (`unetc train`) holds it."""
    if os.environ.get("UNETC_RUN_LOCKED") == "1":
        return lambda: None
    path = os.path.join(out, ".lock")
    me = {"pid": os.getpid(), "start": "", "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": " ".join(sys.argv)}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            try:
                with open(path) as f:
                    o = json.load(f)
            except (OSError, ValueError):
                o = None
            if o and (o.get("host") != socket.gethostname() or _alive(int(o["pid"]))):
                raise TrainingError(f"{out} is in use by process {o['pid']} on {o.get('host')} (since {o.get('since')}); wait for it to finish, or train into another folder with --out")
            os.remove(path)
            continue
        os.write(fd, (json.dumps(me) + "\n").encode())
        os.fsync(fd)
        os.close(fd)

        def release():
            try:
                with open(path) as f:
                    if json.load(f).get("pid") == os.getpid():
                        os.remove(path)
            except (OSError, ValueError):
                pass

        return release
    raise TrainingError(f"cannot take the lock {path}")


def existing_run(out):
    found = []
    ck = os.path.join(out, "checkpoints")
    if os.path.isdir(ck) and any(f.endswith(".safetensors") and f.startswith("step-") for f in os.listdir(ck)):
        found.append("checkpoints")
    if os.path.exists(os.path.join(out, "loss.jsonl")):
        found.append("loss.jsonl")
    return found


def read_loss_log(path, step):
    """The loss records up to `step` (a torn last line or later lines are dropped, as runFolder.ts does)."""
    if not os.path.exists(path):
        return []
    kept = []
    with open(path) as f:
        lines = f.read().split("\n")
    for line in lines:
        if not line:
            continue
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict) and isinstance(r.get("step"), (int, float)) and r["step"] <= step:
            kept.append(r)
    return kept


def train(model_cls, config, args):
    rank, world, device = setup_distributed()
    if args.threads:
        torch.set_num_threads(args.threads)
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if rank == 0 else (lambda s: None)
    tr, d = config["training"], config["diffusion"]
    batch, seed, out = args.batch, args.seed, args.out
    if batch % world:
        raise TrainingError(f"the batch ({batch}) must be a multiple of the number of processes ({world})")
    local = batch // world
    images, labels, classes = load_dataset(args.data, args.limit)
    n, c, h, w = images.shape
    if (c, h, w) != (config["channels"], config["image_size"], config["image_size"]):
        raise TrainingError(f"{args.data}: images are {h}x{w}x{c}, but {config['name']} takes {config['image_size']}x{config['image_size']}x{config['channels']}")
    if config["classes"] > 0 and classes > config["classes"]:
        raise TrainingError(f"{args.data} has {classes} classes, {config['name']} takes {config['classes']}")
    if batch > n:
        raise TrainingError(f"the batch ({batch}) is larger than the data set ({n} images); give --batch {n} or less")
    if float(tr.get("augment_p", 0) or 0) > 0:
        log(f"note: augment_p {tr['augment_p']}: the torch engine does not augment (the TypeScript engine does); training without augmentation")

    ck_dir = os.path.join(out, "checkpoints")
    # Every rank checks (read-only), so that none is left waiting for one that refused.
    if not args.resume and existing_run(out):
        raise TrainingError(f"{out} already holds a run ({', '.join(existing_run(out))}); nothing was changed. Continue it with --resume, or train into a new folder")
    if rank == 0:
        os.makedirs(ck_dir, exist_ok=True)
    release, refused = (lambda: None), None
    if rank == 0:
        try:
            release = take_lock(out)
        except TrainingError as e:
            refused = e
    if world > 1:
        # Every rank learns whether rank 0 got the lock, so none waits in a collective for a rank that quit.
        ok = torch.tensor([0 if refused else 1])
        dist.broadcast(ok, 0)
        if not int(ok):
            dist.destroy_process_group()
            raise refused or TrainingError(f"{out}: rank 0 could not take the run folder's lock")
    if refused:
        raise refused
    try:
        return _train(model_cls, config, args, rank, world, device, log, images, labels, local, ck_dir)
    finally:
        release()
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train(model_cls, config, args, rank, world, device, log, images, labels, local, ck_dir):
    tr, d = config["training"], config["diffusion"]
    batch, seed, out = args.batch, args.seed, args.out
    torch.manual_seed(seed)
    model = model_cls().to(device)
    ramp = "before_step" if tr.get("ramp") == "before_step" else "after_step"
    adam = Adam(model.named_parameters(), lr=args.lr if args.lr is not None else float(tr.get("lr", 1e-4)), beta1=float(tr.get("beta1", 0.9)), beta2=float(tr.get("beta2", 0.999)), warmup=float(tr.get("warmup", 0)), grad_clip=tr.get("grad_clip"), ramp=ramp)
    ema = Ema(model.named_parameters())
    start = 0
    if args.resume:
        found = latest_checkpoint(ck_dir)
        if found is None:
            log(f"nothing to resume in {out}: it has no checkpoint; starting from step 0")
        else:
            path, tensors, state, skipped = found
            for s in skipped:
                log(f"skipping unreadable checkpoint {s}")
            if state["batch"] != batch or state["seed"] != seed:
                raise TrainingError(f"{path} was written with batch {state['batch']} and seed {state['seed']}; resume with the same (--batch {state['batch']} --seed {state['seed']})")
            own = dict(model.named_parameters())
            for name in own:
                if f"model.{name}" not in tensors:
                    raise TrainingError(f"{path} is a checkpoint of another model ({state['spec']}): it lacks {name}")
            with torch.no_grad():
                for name, p in own.items():
                    t = lambda k: torch.from_numpy(np.ascontiguousarray(tensors[k])).to(device)
                    if list(tensors[f"model.{name}"].shape) != list(p.shape):
                        raise TrainingError(f"{path}: model.{name} has shape {list(tensors['model.' + name].shape)} there but {list(p.shape)} in {config['name']}")
                    p.copy_(t(f"model.{name}"))
                    if f"ema.{name}" in tensors:
                        ema.shadow[name].copy_(t(f"ema.{name}"))
                    if name in adam.m and f"adam_m.{name}" in tensors:
                        adam.m[name].copy_(t(f"adam_m.{name}"))
                        adam.v[name].copy_(t(f"adam_v.{name}"))
            adam.step = state["adamStep"]
            start = state["step"]
            log(f"resumed from {path} at step {start}")
    loss_path = os.path.join(out, "loss.jsonl")
    history = read_loss_log(loss_path, start) if rank == 0 else []
    if rank == 0 and os.path.exists(loss_path):
        with open(loss_path, "w") as f:
            f.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in history))
    if start >= args.steps and args.resume:
        log(f"{out} is complete: it has done {start} of {args.steps} steps; nothing to do")
        return {"steps": start, "finalLoss": history[-1]["loss"] if history else None, "firstLoss": history[0]["loss"] if history else None, "complete": True, "checkpoint": None, "resumedFrom": start, "stoppedEarly": False}

    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    process = make_process(d)
    reduction = "sum_pixels" if tr.get("loss_reduction") == "sum_pixels" else "mean"
    loss_scale = images.shape[1] * images.shape[2] * images.shape[3] if reduction == "sum_pixels" else 1
    order = BatchOrder(len(images), seed)
    checkpoint_every = args.checkpoint_every or max(1, args.steps // 4)
    lo, hi = rank * local, (rank + 1) * local
    n_classes, n_aug = config["classes"], config["augment"]

    def save(step):
        if rank != 0:
            return None
        state = {"step": step, "seed": seed, "batch": batch, "dataPosition": step * batch, "adamStep": adam.step, "spec": config["name"]}
        parts = {"model": dict(model.named_parameters()), "ema": ema.shadow, "adam_m": adam.m, "adam_v": adam.v}
        try:
            return save_checkpoint(ck_dir, state, parts, args.keep)
        except NonFiniteWeights as e:
            raise TrainingError(f"the weights are not finite after step {step} ({e}); no checkpoint written")

    last, first, loss_value, step = None, None, float("nan"), start
    t0 = time.time()
    model.train()
    while step < args.steps:
        idx = order.indices(batch, step * batch)[lo:hi]
        x0 = torch.from_numpy(images[idx]).to(device)
        cls = F.one_hot(torch.from_numpy(labels[idx]), n_classes).float().to(device) if n_classes > 0 else None
        aug = torch.zeros(local, n_aug, device=device) if n_aug > 0 else None
        s = step_seed(seed, step, STREAM["timestep"])
        u = (uniforms(batch, s) if process.kind == "ddpm" or process.wants_uniform else normals(batch, s))[lo:hi]
        g = torch.Generator().manual_seed(step_seed(seed, step, STREAM["noise"]))
        noise = torch.randn((batch,) + tuple(images.shape[1:]), generator=g)[lo:hi].to(device)
        torch.manual_seed(step_seed(seed, step, STREAM["dropout"]) + rank)  # dropout masks
        net = lambda xt, nl: ddp(xt, nl, cls, aug)
        loss = process.loss(net, x0, u, noise, reduction)
        for p in model.parameters():
            p.grad = None
        loss.backward()
        lv = loss.detach().clone()
        if world > 1:
            dist.all_reduce(lv)
            lv /= world
        loss_value = float(lv) / loss_scale
        if not np.isfinite(loss_value):
            raise TrainingError(f"the loss is {loss_value} at step {step + 1}; stopping without saving. The last good checkpoint is {last or 'none'}")
        lr = adam.lr_at(adam.step)
        adam.apply()
        hl = tr.get("ema_halflife_kimg")
        ema.update(ema_beta(ema=tr.get("ema"), halflife_kimg=hl, batch=batch, step=step, warmup_ratio=0.05 if hl is not None else None, ramp=ramp, warmup=tr.get("ema_warmup") is not False))
        step += 1
        first = loss_value if first is None else first
        if rank == 0:
            rec = {"step": step, "loss": loss_value, "lr": lr}
            with open(os.path.join(out, "loss.jsonl"), "a") as f:
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            if step == start + 1 or step % 10 == 0 or step == args.steps:
                el = time.time() - t0
                log(f"step {step}/{args.steps}  loss {loss_value:.4f}  {el / (step - start):.2f} s/step  ({world} process{'es' if world > 1 else ''})")
        if step % checkpoint_every == 0 or step == args.steps:
            last = save(step) or last
    result = {"steps": step, "firstLoss": first, "finalLoss": loss_value, "checkpoint": last, "resumedFrom": start if args.resume and start else None, "stoppedEarly": False, "world": world}
    if world > 1:
        result["replicaMaxDiff"] = replica_difference(model)
        log(f"replicas after step {step}: largest difference of any weight between processes {result['replicaMaxDiff']:.3g}")
    return result


def replica_difference(model):
    """The largest |w_rank - w_0| over every weight and process (0 when DDP kept the replicas identical)."""
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    return max(float((g - gathered[0]).abs().max()) for g in gathered)


def main(model_cls, config, argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv, config)
    try:
        r = train(model_cls, config, args)
    except (TrainingError, DataError, SafetensorsError) as e:
        print(f"train.py: {e}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) == 0:
        if args.json:
            print(json.dumps(r))
        elif not r.get("complete"):
            print(f"trained {config['name']}: {r['steps']} steps, loss {r['firstLoss']:.4f} -> {r['finalLoss']:.4f}\n  checkpoint  {r['checkpoint']}")
    return 0
