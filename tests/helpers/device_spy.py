"""A dispatch spy for CUDA-only behaviour checked on the CPU: the "device" is `meta`, so every op that turns a
CPU tensor into a device tensor is a host-to-device copy (blocking or not on CUDA) and can be counted."""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class HostToDevice(TorchDispatchMode):
    """Records every op that turns a CPU tensor into a device (here: meta) tensor, with its CPU inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: list = []  # the ops
        self.sources: list[list[torch.Tensor]] = []  # their CPU tensor arguments, cloned

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        if any(t.device.type == "cpu" for t in inputs) and any(
            isinstance(t, torch.Tensor) and t.is_meta for t in tree_leaves(out)
        ):
            self.copies.append(func)
            self.sources.append([t.clone() for t in inputs if t.device.type == "cpu"])
        return out


class OpCounter(TorchDispatchMode):
    """Counts the aten ops dispatched (each is at least one kernel launch on CUDA, views aside)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func)
        return func(*args, **(kwargs or {}))
