"""
The base of every emitted model.py: an nn.Module whose blocks sit at their IR paths (nested
ModuleDicts: block `enc.16x16.block0` is `self.enc["16x16"].block0`), so `state_dict()` keys are
the unetc checkpoint names. The emitted subclass adds its blocks and writes forward() out.
"""
import torch
import torch.nn as nn

from .blocks import Block


class UNet(nn.Module):
    def __init__(self, config, params):
        super().__init__()
        self.config = config
        # {block path: [(relative name, shape, init, trainable), ...]}: the parameter table.
        self.param_table = params

    def params_of(self, path):
        return self.param_table.get(path, [])

    def add_block(self, path, block):
        """Places `block` at its path (the parents are ModuleDicts)."""
        *parents, leaf = path.split(".")
        mod = self
        for seg in parents:
            if seg not in mod._modules:
                mod.add_module(seg, nn.ModuleDict())
            mod = mod._modules[seg]
        mod.add_module(leaf, block)
        return block

    def reset_parameters(self):
        """Draws every parameter from its Init (torch's global generator), block by block in table order."""
        for m in self.modules():
            if isinstance(m, Block):
                m.reset_parameters()

    def check_names(self):
        """The state_dict keys are exactly the table's names (the checkpoint names)."""
        want = {f"{b}.{n}" for b, rows in self.param_table.items() for n, *_ in rows}
        have = set(self.state_dict().keys())
        if want != have:
            raise AssertionError(f"{self.config['name']}: parameter names differ from the table: {sorted(want ^ have)[:5]}")

    @property
    def param_count(self):
        return sum(p.numel() for p in self.parameters())


def cat(h, skip):
    """A decoder block's input: h and the skip connection, concatenated along channels."""
    return torch.cat([h, skip], dim=1)
