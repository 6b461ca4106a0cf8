"""One builder for every network: (layer spec table, per-layer activation, per-layer width) -> nn.Module.

A family is a tuple of `Conv` / `Pool` / `Dropout` / `Linear` rows transcribed from the paper's layer
tables, with the baseline activation of each layer. A `Variant` (read from configs/model/<name>.yaml) names
the layers whose activation or width differs from the baseline ("conv1-7": "crelu"). Layers are numbered
from 1 over convolutions and fully connected layers together, as the slides do: conv1 ... conv13, fc14.
Nothing here knows about a particular paper row.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from ..core.errors import ConfigError
from .activations import BASES, get_activation, make_activation

CLASSES = -1  # placeholder for "num_classes" in a spec's filter count
# ours: 16x a layer's filters is far past anything that trains on one GPU (the memory estimate in
# crelu_repro/models/shapes.py check_fits refuses, naming the cost, what would not fit below that)
MAX_WIDTH = 16.0


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
    """A model's description, as its Hydra config gives it (configs/model/<name>.yaml): a family's layer
    table plus the layers whose activation or width factor differs from the table's baseline."""

    family: str  # convpool | vgg | allcnnb
    acts: dict[str, str] = field(default_factory=dict)  # "conv1-7" -> "crelu"; later keys win
    widths: dict[str, float] = field(default_factory=dict)  # "conv1-7" -> 0.5; later keys win
    batchnorm: bool = True
    crelu_base: str = "relu"  # the element-wise function inside CReLU
    name: str = ""  # the config's name (a label is derived when the description is not a named one)
    note: str = ""  # what the slides leave ambiguous and how we read it


@dataclass(frozen=True)
class Layer:
    """One weighted layer of a built network, as the variant resolves it."""

    name: str  # conv1, ..., fc15: the slides' numbering (weighted layers counted from 1)
    act: str
    width: float
    filters: int  # after the width factor (before CReLU doubles the maps)


def layer_names(rows: tuple[Row, ...]) -> list[str]:
    """conv1, conv2, ..., fc14, fc15: weighted layers numbered from 1, by kind."""
    weighted = [r for r in rows if isinstance(r, Conv | Linear)]
    return [f"{'conv' if isinstance(r, Conv) else 'fc'}{i}" for i, r in enumerate(weighted, start=1)]


def select(selector: str, names: list[str]) -> list[str]:
    """'conv1-7' / 'conv3' / 'conv1,4,7' -> the layer names it covers; an unknown layer raises ConfigError
    listing the layers there are."""
    m = re.fullmatch(r"(conv|fc)(\d+)(?:-(\d+))?|(conv|fc)(\d+(?:,\d+)+)", selector)
    if m and m.group(1):
        kind, first, last = m.group(1), int(m.group(2)), int(m.group(3) or m.group(2))
        wanted = [f"{kind}{i}" for i in range(first, last + 1)] if first <= last else []
    elif m:
        wanted = [f"{m.group(4)}{i}" for i in m.group(5).split(",")]
    else:
        wanted = []
    missing = [w for w in wanted if w not in names]
    if not wanted or missing:
        why = f" ({missing[0]} does not exist)" if missing else ""
        raise ConfigError(
            f"unknown layer {selector!r}{why}; this family has {_ranges(names)}. Write a layer (conv3), a "
            "range (conv1-7) or, in YAML, a quoted list ('conv1,4,7')"
        )
    return wanted


def _ranges(names: list[str]) -> str:
    kinds = dict.fromkeys(re.match(r"[a-z]+", n).group() for n in names)
    parts = []
    for kind in kinds:
        numbers = [int(n[len(kind) :]) for n in names if n.startswith(kind) and n[len(kind) :].isdigit()]
        parts.append(f"{kind}{numbers[0]}" + (f"-{kind}{numbers[-1]}" if len(numbers) > 1 else ""))
    return " and ".join(parts)


def assignments(rows: tuple[Row, ...], variant: Variant) -> list[tuple[str, str, float]]:
    """(layer name, activation, width factor) of each weighted layer: the table's baseline activation and
    width 1, then the variant's entries in order (later keys win). Raises ConfigError for an unknown layer,
    activation or CReLU base, naming the valid ones."""
    if variant.crelu_base not in BASES:
        raise ConfigError(f"unknown model.crelu_base {variant.crelu_base!r}; valid: {', '.join(BASES)}")
    weighted = [r for r in rows if isinstance(r, Conv | Linear)]
    names = layer_names(rows)
    acts = {n: r.act for n, r in zip(names, weighted, strict=True)}
    widths = dict.fromkeys(names, 1.0)
    for table, target in ((variant.acts, acts), (variant.widths, widths)):
        for selector, value in table.items():
            for n in select(str(selector), names):
                target[n] = value
    for act in acts.values():
        get_activation(act)  # an unknown name raises, listing the registry
    return [(n, acts[n], float(widths[n])) for n in names]


def resolve(rows: tuple[Row, ...], variant: Variant, num_classes: int) -> list[Layer]:
    """Each weighted layer's activation, width factor and filter count (ConfigError when not whole, or when
    the classifier would not output `num_classes` scores)."""
    weighted = [r for r in rows if isinstance(r, Conv | Linear)]
    plan = assignments(rows, variant)
    _check_classifier(weighted[-1], *plan[-1], num_classes)
    layers = []
    for (name, act, width), row in zip(plan, weighted, strict=True):
        base = row.filters if isinstance(row, Conv) else row.features
        base = num_classes if base == CLASSES else base
        layers.append(Layer(name, act, width, _scaled(base, width, variant.name, name)))
    return layers


def _check_classifier(row: Conv | Linear, name: str, act: str, width: float, num_classes: int) -> None:
    """The last weighted layer gives the class scores: a change there that alters their number, or that has
    no effect (an activation on the fully connected classifier, which has none), is refused, naming it."""
    keep = f"leave {name} out of model.acts and model.widths"
    if isinstance(row, Linear) and act != row.act:
        raise ConfigError(
            f"{name} is the classifier: a fully connected classifier has no activation (its outputs are the "
            f"class scores), so {act} there would have no effect; {keep}"
        )
    multiplier = get_activation(act).multiplier if isinstance(row, Conv) else 1
    maps = num_classes * width * multiplier
    if maps != num_classes:
        change = " and ".join(
            [f"width {width:g}"] * (width != 1) + [f"{act} (x{multiplier} maps)"] * (multiplier != 1)
        )
        half = f"{1 / multiplier:g}"  # the width that keeps the maps (CReLU: 0.5)
        pair = f", or pair {act} with width {half} there as allcnnb_crelu_all_half does" * (multiplier > 1)
        raise ConfigError(
            f"{name} is the classifier: it must output the {num_classes} class scores, and {change} there "
            f"would make {maps:g}; {keep}{pair}"
        )


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


def build(rows: tuple[Row, ...], variant: Variant, num_classes: int) -> SpecNet:
    """Turn a spec table into modules, tracking input channels through each activation's multiplier."""
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    plan = iter(resolve(rows, variant, num_classes))
    channels, n_pool, n_drop, flat = 3, 0, 0, False
    last = [r for r in rows if isinstance(r, Conv | Linear)][-1]
    bn, base = variant.batchnorm, variant.crelu_base
    for row in rows:
        if isinstance(row, Pool):
            n_pool += 1
            modules[f"pool{n_pool}"] = _pool(row)
        elif isinstance(row, Dropout):
            n_drop += 1
            modules[f"drop{n_drop}"] = nn.Dropout(row.p)
        elif isinstance(row, Conv):
            layer = next(plan)
            modules[layer.name] = ConvBlock(channels, layer.filters, row, layer.act, bn, base)
            channels = layer.filters * get_activation(layer.act).multiplier
        else:
            layer = next(plan)
            if not flat:  # (N, C, 1, 1) -> (N, C) before the first fully connected layer
                modules["flatten"], flat = nn.Flatten(1), True
            modules[layer.name] = FCBlock(channels, layer.filters, layer.act, bn, base, row is last)
            channels = layer.filters * get_activation(layer.act).multiplier
    model = SpecNet(modules, variant.name)
    if not bn:
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


def _scaled(filters: int, width: float, model: str, layer: str) -> int:
    scaled = filters * float(width)
    if not 0 < width <= MAX_WIDTH or abs(scaled - round(scaled)) > 1e-9:
        raise ConfigError(
            f"model {model!r}: width {width} at {layer} gives {scaled:g} filters; a width factor must be > 0 "
            f"and give a whole number of filters, at most {MAX_WIDTH:g}x ({layer} has {filters}: e.g. 0.25, "
            "0.5, 2 where whole)"
        )
    return int(round(scaled))


def _pool(row: Pool) -> nn.Module:
    if row.kind == "max":
        return nn.MaxPool2d(row.kernel, row.stride, row.padding, ceil_mode=row.ceil_mode)
    if row.kind == "avg":
        return nn.AvgPool2d(row.kernel, row.stride, row.padding, ceil_mode=row.ceil_mode)
    if row.kind == "global_avg":
        return nn.AdaptiveAvgPool2d(1)
    raise ValueError(f"unknown pool kind {row.kind!r}")
