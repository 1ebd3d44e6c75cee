"""
unetc's PyTorch runtime: what emitted model.py / train.py files import (torch, numpy and the
standard library only; torch 1.13 and 2.x).

  layers.py, lora.py, blocks.py   the math of each block op (src/ir/ops.ts), as the TypeScript runtime
  network.py                      UNet, the base of an emitted Model
  init.py                         initial values from a parameter's Init
  safetensors.py, checkpoint.py   unetc checkpoints (load_checkpoint for users)
  diffusion.py                    DDPM/IDDPM and EDM losses and samplers
  rng.py, data.py, optim.py       seeded draws and data order as the TypeScript loop, data sets, Adam and EMA
  training.py                     the torch.distributed (DDP) training loop of an emitted train.py
"""
from .blocks import Block, Embedding, Head, LoraInputs, Resample, ResBlock, Stem
from .checkpoint import load_checkpoint
from .network import UNet, cat

__all__ = ["Block", "Embedding", "Head", "LoraInputs", "Resample", "ResBlock", "Stem", "UNet", "cat", "load_checkpoint"]
