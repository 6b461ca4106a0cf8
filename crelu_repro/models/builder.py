"""One builder for every network: (layer spec table, per-layer activation, per-layer width) -> nn.Module.

A family is a tuple of `Conv` / `Pool` / `Dropout` / `Linear` rows transcribed from the paper's layer
tables, with the baseline activation of each layer. A `Variant` names the layers whose activation or
width differs from the baseline ("conv1-7": "crelu"). Layer numbers count convolutions (and fully
connected layers) from 1, as the slides do. Nothing here knows about a particular paper row.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from ..activations import get_activation, make_activation
from ..errors import ConfigError

CLASSES = -1  # placeholder for "num_classes" in a spec's filter count


@dataclass(frozen=True)
class Conv:
    filters: int  # output filters before the activation (CReLU doubles the maps after it)
    kernel: int
    stride: int = 1
    padding: int = 0
    act: str = "relu"  # baseline activation


@dataclass(frozen=True)
class Linear:
    features: int
    act: str = "relu"


@dataclass(frozen=True)
class Pool:
    kind: str  # "max" | "avg" | "global_avg"
    kernel: int = 0
    stride: int = 0
    padding: int = 0
    ceil_mode: bool = False


@dataclass(frozen=True)
class Dropout:
    p: float


Row = Conv | Linear | Pool | Dropout


@dataclass(frozen=True)
class Variant:
    """A paper row: a family plus the layers whose activation / width factor differs from baseline."""

    family: str
    acts: dict[str, str] = field(default_factory=dict)  # "conv1-7" -> "crelu"
    widths: dict[str, float] = field(default_factory=dict)  # "conv1-7" -> 0.5; later keys win
    note: str = ""


def _layers(spec: str) -> range | list[int]:
    """'conv1-7' -> 1..7, 'conv3' -> [3], 'layer1,4,7' -> [1, 4, 7]."""
    m = re.fullmatch(r"[a-z]+(\d+)(?:-(\d+))?", spec)
    if m:
        first = int(m.group(1))
        return range(first, int(m.group(2) or first) + 1)
    m = re.fullmatch(r"[a-z]+([\d,]+)", spec)
    if not m:
        raise ValueError(f"bad layer selector {spec!r}")
    return [int(i) for i in m.group(1).split(",")]


def _per_layer(table: dict, index: int, default):
    value = default
    for spec, v in table.items():
        if index in _layers(spec):
            value = v
    return value


class ConvBlock(nn.Sequential):
    """conv -> (BN) -> activation. Bias only without BN (BN's shift makes it redundant)."""

    def __init__(self, cin: int, cout: int, row: Conv, act: str, batchnorm: bool, crelu_base: str):
        layers: list[tuple[str, nn.Module]] = [
            ("conv", nn.Conv2d(cin, cout, row.kernel, row.stride, row.padding, bias=not batchnorm))
        ]
        if batchnorm:
            layers.append(("bn", nn.BatchNorm2d(cout)))
        layers.append(("act", make_activation(act, crelu_base)))
        super().__init__(OrderedDict(layers))


class FCBlock(nn.Sequential):
    """linear -> (BN) -> activation; the classifier (last row) has neither BN nor activation."""

    def __init__(self, cin: int, cout: int, act: str, batchnorm: bool, crelu_base: str, last: bool):
        layers: list[tuple[str, nn.Module]] = [("fc", nn.Linear(cin, cout, bias=last or not batchnorm))]
        if not last:
            if batchnorm:
                layers.append(("bn", nn.BatchNorm1d(cout)))
            layers.append(("act", make_activation(act, crelu_base)))
        super().__init__(OrderedDict(layers))


class SpecNet(nn.Module):
    """The network built from a spec table. `layers` is an ordered container named conv1, pool1, ...,
    so analysis code can walk it (`features`) and address a layer by its paper name."""

    def __init__(self, layers: OrderedDict[str, nn.Module], name: str) -> None:
        super().__init__()
        self.name = name
        self.layers = nn.Sequential(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, H, W) -> (N, classes)
        return self.layers(x).flatten(1)

    def features(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """Every layer's output, in order (for analysis and map-size checks)."""
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        for name, layer in self.layers.named_children():
            x = layer(x)
            out[name] = x
        return out


def build(
    name: str,
    rows: tuple[Row, ...],
    variant: Variant,
    num_classes: int,
    batchnorm: bool = True,
    crelu_base: str = "relu",
) -> SpecNet:
    """Turn a spec table into modules, tracking input channels through each activation's multiplier."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels, index, n_pool, n_drop, flat = 3, 0, 0, 0, False
    weighted = [r for r in rows if isinstance(r, Conv | Linear)]
    for row in rows:
        if isinstance(row, Pool):
            n_pool += 1
            layers[f"pool{n_pool}"] = _pool(row)
            continue
        if isinstance(row, Dropout):
            n_drop += 1
            layers[f"drop{n_drop}"] = nn.Dropout(row.p)
            continue
        index += 1
        act = _per_layer(variant.acts, index, row.act)
        width = _per_layer(variant.widths, index, 1.0)
        base = row.filters if isinstance(row, Conv) else row.features
        cout = _scaled(num_classes if base == CLASSES else base, width, name, index)
        if isinstance(row, Conv):
            layers[f"conv{index}"] = ConvBlock(channels, cout, row, act, batchnorm, crelu_base)
        else:
            if not flat:  # (N, C, 1, 1) -> (N, C) before the first fully connected layer
                layers["flatten"], flat = nn.Flatten(1), True
            last = row is weighted[-1]
            layers[f"fc{index}"] = FCBlock(channels, cout, act, batchnorm, crelu_base, last)
        channels = cout * get_activation(act).multiplier
    model = SpecNet(layers, name)
    if not batchnorm:
        _he_init(model)
    return model


def _he_init(model: nn.Module) -> None:
    """He et al. (2015) initialization for nets without BN: it keeps the signal scale through ReLU/CReLU
    layers, where PyTorch's default conv init shrinks it layer by layer and stalls training. With BN we
    keep PyTorch's default (what the reference recipe used): BN makes the scale irrelevant."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
        if isinstance(m, nn.Conv2d | nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


def _scaled(filters: int, width: float, name: str, index: int) -> int:
    scaled = filters * width
    if abs(scaled - round(scaled)) > 1e-9:
        raise ConfigError(f"model {name!r}: width {width} of layer {index} gives {scaled} filters, not whole")
    return int(round(scaled))


def _pool(row: Pool) -> nn.Module:
    if row.kind == "max":
        return nn.MaxPool2d(row.kernel, row.stride, row.padding, ceil_mode=row.ceil_mode)
    if row.kind == "avg":
        return nn.AvgPool2d(row.kernel, row.stride, row.padding, ceil_mode=row.ceil_mode)
    if row.kind == "global_avg":
        return nn.AdaptiveAvgPool2d(1)
    raise ValueError(f"unknown pool kind {row.kind!r}")
