"""Will a run fit its device? A lower bound of what one training step needs, from the network's traced
shapes (models/shapes.py), against the device's memory: what cannot fit is refused before any data is read,
naming the numbers, instead of an allocator traceback asking for hundreds of GB mid-run.

The bound counts only what a step surely holds at the end of its forward pass: the fp32 weights and SGD's
momentum (the gradients may not exist yet), and the output of every conv / fc block but the classifier for
the batch (each is kept by the next layer for the backward pass), at 2 bytes under bf16 autocast and 4
otherwise. The data, BN's buffers, cuDNN's workspace and the allocator's slack come on top, so
a refusal is never wrong; a run that passes can still be too big.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..core.errors import ConfigError

GB = 1e9


def device_kind(want: str) -> str:
    """The device a run of `trainer.device=want` uses: "cuda" when asked for (or auto) and present."""
    return "cuda" if want in ("cuda", "auto") and torch.cuda.is_available() else "cpu"


def capacity(kind: str, local_rank: int, local_world: int) -> tuple[int, str]:
    """(bytes, what they are) one process may use: its GPU's memory, or its share of the host's (the
    smaller of the physical memory and a cgroup limit, split between the processes of this host)."""
    if kind == "cuda":
        props = torch.cuda.get_device_properties(local_rank)
        return props.total_memory, f"cuda:{local_rank} ({props.name})"
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = Path("/sys/fs/cgroup/memory.max")  # cgroup v2: a container's limit ("max" when none)
    text = limit.read_text().strip() if limit.is_file() else "max"
    if text.isdigit():
        total = min(total, int(text))
    share = f", shared by {local_world} processes" if local_world > 1 else ""
    return total // local_world, f"this host's memory{share}"


def check_fits(
    params: int,
    activations: int,
    *,
    per_process_batch: int,
    bf16: bool,
    momentum: bool,
    kind: str,
    local_rank: int = 0,
    local_world: int = 1,
    what: str = "this run",
) -> None:
    """ConfigError when one training step surely needs more than the device has. `activations`: elements
    per image (models.shapes.Shapes)."""
    state = params * 4 * (2 if momentum else 1)  # fp32 weights and momentum buffers
    acts = activations * per_process_batch * (2 if bf16 and kind == "cuda" else 4)
    have, where = capacity(kind, local_rank, local_world)
    need = state + acts
    if need > have:
        raise ConfigError(
            f"{what} needs at least {need / GB:.1f} GB for one training step: {state / GB:.1f} GB of "
            f"weights and momentum ({params:,} parameters) and {acts / GB:.1f} GB of activations "
            f"({per_process_batch} images per process); {where} has {have / GB:.1f} GB. Lower "
            "trainer.batch_size, the width factors (model.widths) or dataset.image_size"
        )
