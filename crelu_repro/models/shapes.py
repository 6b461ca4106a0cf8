"""A network's shapes at an image size, traced on the meta device (no memory, no arithmetic): whether a
description can take the dataset's images, its parameter count and the size of its activations, known
before any data is read or any folder made (run/checks.py `validate`); and from them, whether one training
step can fit its device (`check_fits`).

Will a run fit its device? `check_fits` is a lower bound of what one training step needs, against the
device's memory: what cannot fit is refused before any data is read, naming the numbers, instead of an
allocator traceback asking for hundreds of GB mid-run. The bound counts only what a step surely holds at
the end of its forward pass: the fp32 weights and SGD's momentum (the gradients may not exist yet), and the
output of every conv / fc block but the classifier for the batch (each is kept by the next layer for the
backward pass), at 2 bytes under bf16 autocast and 4 otherwise. The data, BN's buffers, cuDNN's workspace
and the allocator's slack come on top, so a refusal is never wrong; a run that passes can still be too big.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..core.errors import ConfigError
from .builder import ConvBlock, FCBlock, SpecNet, Variant, build
from .variants import FAMILIES

MAX_TRIED = 1024  # the largest image side searched for the sizes a family takes (an error message's range)


@dataclass(frozen=True)
class Shapes:
    params: int  # trainable parameters
    activations: int  # elements per image: the conv / fc blocks' outputs, each kept by the next layer for the
    # backward pass (the classifier's, the scores, is not counted)
    out: tuple[int, ...]  # the network's output for one image: (num_classes,)


def trace(variant: Variant, num_classes: int, size: int) -> Shapes:
    """The shapes of `variant` on (1, 3, size, size) images; ConfigError, naming the layer that cannot take
    its input and the image sizes the network does take, when it fails."""
    net = _meta_net(variant, num_classes)
    x = torch.empty(1, 3, size, size, device="meta")
    blocks = []  # each conv / fc block's output size
    for name, layer in net.layers.named_children():
        try:
            y = layer(x)
        except RuntimeError as err:  # a map smaller than a kernel, features that do not match a fc layer
            raise ConfigError(_cannot_take(variant, net, size, name, x, err)) from None
        if isinstance(layer, ConvBlock | FCBlock):
            blocks.append(y.numel())
        x = y
    activations = sum(blocks[:-1])  # the scores need not be kept (a global pool's backward needs no input)
    out = tuple(x.flatten(1).shape[1:])
    if out != (num_classes,):  # the builder keeps the classifier's maps; this is the last word on it
        raise ConfigError(
            f"model {variant.name!r} outputs {out} per image, not the {num_classes} class scores"
        )
    return Shapes(sum(p.numel() for p in net.parameters()), activations, out)


def layout(net: nn.Module) -> dict[str, list[int]]:
    """The network's structure fingerprint: each state_dict entry's shape (what a checkpoint must match)."""
    return {name: list(t.shape) for name, t in net.state_dict().items()}


def expected_layout(variant: Variant, num_classes: int) -> dict[str, list[int]]:
    """`layout` of the network this code builds for `variant` (on the meta device: no memory)."""
    return layout(_meta_net(variant, num_classes))


def layout_changes(saved: dict, now: dict, most: int = 3) -> list[str]:
    """How two layouts differ, at most `most` entries: ['layers.conv1.conv.weight: [48, 3, 3, 3] in the
    checkpoint, [96, 3, 3, 3] now', 'layers.conv9...: only in the checkpoint']."""
    changes = []
    for key in [*saved, *(k for k in now if k not in saved)]:
        if key not in now:
            changes.append(f"{key}: only in the checkpoint")
        elif key not in saved:
            changes.append(f"{key}: only in this code's network")
        elif list(saved[key]) != list(now[key]):
            changes.append(f"{key}: {list(saved[key])} in the checkpoint, {list(now[key])} now")
    more = f" (and {len(changes) - most} more)" if len(changes) > most else ""
    return changes[:most] + ([more.strip(" ()")] if more else [])


def _meta_net(variant: Variant, num_classes: int) -> SpecNet:
    with torch.device("meta"):  # parameters without storage: any width costs nothing here
        net = build(FAMILIES[variant.family], variant, num_classes)
    return net.eval()  # BN in eval mode: a 1-image batch is fine


def _fits(net: SpecNet, size: int) -> bool:
    try:
        net(torch.empty(1, 3, size, size, device="meta"))
    except RuntimeError:
        return False
    return True


def sizes_taken(net: SpecNet) -> tuple[int, int] | None:
    """(smallest, largest) square image side in [1, MAX_TRIED] the network takes (largest: MAX_TRIED when
    it takes that too), or None. The sizes a spec table takes form one range: no pool or kernel ever
    accepts a map and refuses a larger one, and a fully connected layer fixes the size from above."""
    low = next((s for s in range(1, MAX_TRIED + 1) if _fits(net, s)), None)
    if low is None:
        return None
    lo, hi = low, MAX_TRIED
    while lo < hi:  # the largest size that fits, by bisection
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if _fits(net, mid) else (lo, mid - 1)
    return low, lo


def _cannot_take(
    variant: Variant, net: SpecNet, size: int, name: str, x: torch.Tensor, err: Exception
) -> str:
    taken = sizes_taken(net)
    if taken is None:
        sizes = f"no image size up to {MAX_TRIED} px fits it"
    elif taken[1] >= MAX_TRIED:
        sizes = f"it takes images of {taken[0]} px and more"
    else:
        sizes = f"it takes images of {taken[0]} to {taken[1]} px"
    return (
        f"model {variant.name or variant.family!r} ({variant.family}) cannot take {size}x{size} images: "
        f"{_why(name, getattr(net.layers, name), x, err)}; {sizes}. Pick another model or dataset "
        "(dataset.image_size sets ImageNet's crop)"
    )


def _why(name: str, layer: nn.Module, x: torch.Tensor, err: Exception) -> str:
    """What `layer` was given that it cannot take."""
    side = "x".join(map(str, x.shape[2:]))
    if isinstance(layer, ConvBlock):
        k, pad = layer.conv.kernel_size[0], layer.conv.padding[0]
        return f"{name} ({k}x{k} kernel, padding {pad}) gets a {side} map"
    if isinstance(layer, nn.MaxPool2d | nn.AvgPool2d):
        return f"{name} ({layer.kernel_size}x{layer.kernel_size} pool) gets a {side} map"
    if isinstance(layer, FCBlock):
        return f"{name} takes {layer.fc.in_features} features and gets {x.flatten(1).shape[1]}"
    return f"{name} fails on a {tuple(x.shape[1:])} input ({str(err).splitlines()[0]})"


# One training step's memory against the device (see the module's docstring).


GB = 1e9


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
    acts = activations * per_process_batch * (2 if bf16 else 4)
    have, where = capacity(kind, local_rank, local_world)
    need = state + acts
    if need > have:
        raise ConfigError(
            f"{what} needs at least {need / GB:.1f} GB for one training step: {state / GB:.1f} GB of "
            f"weights and momentum ({params:,} parameters) and {acts / GB:.1f} GB of activations "
            f"({per_process_batch} images per process); {where} has {have / GB:.1f} GB. Lower "
            "trainer.batch_size, the width factors (model.widths) or dataset.image_size"
        )
