"""The variants: every `configs/model/<name>.yaml` describes one, and nothing else does.

A variant's YAML gives its family (whose layer table lives in Python: the paper's tables) and the layers
whose activation or width differs from that table. Hydra composes the same files for `train.py model=<name>`;
`load_variant(name)` reads them here without Hydra (also from an installed package: they ship inside it).

A run's model can also be a description no file names (`model=relu 'model.acts={conv1-4: crelu}'`). `label`
then derives a name that says what it is (`relu+crelu@conv1-4`), and gives the registered name whenever the
description equals one (`model=relu 'model.acts={conv1-7: crelu}'` is `crelu`).
"""

from __future__ import annotations

import functools

from omegaconf import DictConfig, OmegaConf

from ..core.errors import ConfigError
from ..core.paths import load_group_file, open_tables, options
from ..core.schema import ModelConfig
from .activations import get_activation
from .builder import Variant, assignments
from .families import FAMILIES

# Every file not starting with "_" is a variant ("_shared.yaml" holds what they all share).
MODEL_NAMES: tuple[str, ...] = options("model")


@functools.cache
def load_variant(name: str) -> Variant:
    """The variant `configs/model/<name>.yaml` describes; an unknown name lists the valid ones."""
    if name not in MODEL_NAMES:
        raise ConfigError(f"unknown model {name!r}; valid: {', '.join(MODEL_NAMES)}")
    node = open_tables(OmegaConf.structured(ModelConfig))
    return variant_of(OmegaConf.merge(node, load_group_file("model", name)))


def variant_of(cfg: DictConfig | dict) -> Variant:
    """A Variant from a composed `model` config node (or its plain dict)."""
    plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    family = plain.get("family")
    if family not in FAMILIES:
        raise ConfigError(f"model.family={family!r}; valid: {', '.join(FAMILIES)}")
    return Variant(
        family=family,
        acts={str(k): str(v) for k, v in (plain.get("acts") or {}).items()},
        widths={str(k): _factor(k, v) for k, v in (plain.get("widths") or {}).items()},
        batchnorm=bool(plain.get("batchnorm", True)),
        crelu_base=str(plain.get("crelu_base", "relu")),
        name=str(plain.get("name") or ""),
        note=str(plain.get("note") or ""),
    )


def _factor(layer: object, value: object) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"model.widths.{layer}={value!r} is not a number; e.g. 0.5 or 2") from None


def signature(variant: Variant) -> tuple:
    """What decides the network: each layer's (activation, width), BN, and the base where an activation
    that takes one (CReLU) is used."""
    layers = tuple(assignments(FAMILIES[variant.family], variant))
    base = variant.crelu_base if any(get_activation(act).takes_base for _, act, _ in layers) else None
    return variant.family, layers, variant.batchnorm, base


def network(variant: Variant) -> dict:
    """The network a description builds, as plain JSON: the layers whose (activation, width) differ from
    the family's table, BN, and CReLU's base only where a CReLU layer uses it. Two descriptions of one
    network (`crelu`, `relu` + `acts={conv1-7: crelu}`; any `crelu_base` without CReLU) give the same."""
    family, layers, batchnorm, base = signature(variant)
    table = signature(Variant(family))[1]
    changed = [(name, act, w, act0, w0) for (name, act, w), (_, act0, w0) in zip(layers, table, strict=True)]
    return {
        "family": family,
        "acts": {name: act for name, act, _, act0, _ in changed if act != act0},
        "widths": {name: w for name, _, w, _, w0 in changed if w != w0},
        "batchnorm": batchnorm,
        "crelu_base": base,
    }


@functools.cache
def _named() -> dict[tuple, str]:
    """signature -> the registered name (the first in sorted order, should two files describe one net)."""
    named: dict[tuple, str] = {}
    for name in MODEL_NAMES:
        named.setdefault(signature(load_variant(name)), name)
    return named


def baseline(family: str) -> str:
    """The family's baseline row: the registered variant that changes nothing in the layer table."""
    plain = signature(Variant(family))
    if plain not in _named():
        raise ConfigError(f"no configs/model/*.yaml describes the plain {family} table (its baseline)")
    return _named()[plain]


def label(variant: Variant) -> str:
    """The variant's own name when it fits, else a registered name of this description, else the nearest
    registered name plus what differs. A name that is not registered is the user's label: kept as given.

    The layer table names the base: the registered variant with the same layers (`crelu+nobn`), else the
    family's baseline plus the changed layers grouped by what they do (`relu+crelu@conv1-4`,
    `vgg_relu+avr@conv1,3`, `relu+crelu_x0.5@conv1-7`). Then `+nobn` without BN, `+base_elu` for CReLU over
    ELU (the base is named only where a CReLU layer uses it).
    """
    sig = signature(variant)
    if variant.name and (variant.name not in MODEL_NAMES or _named().get(sig) == variant.name):
        return variant.name  # a registered name that fits, or the user's own (`model.name=mine`)
    if sig in _named():
        return _named()[sig]
    family, layers, batchnorm, base = sig
    same_layers = [
        n for s, n in _named().items() if s[:2] == (family, layers) and s[2] and s[3] in (None, "relu")
    ]
    parts = same_layers[:1] or [baseline(family), *_layer_changes(layers, signature(Variant(family))[1])]
    parts += ["nobn"] * (not batchnorm) + [f"base_{base}"] * (base not in (None, "relu"))
    return "+".join(parts)


def _layer_changes(layers: tuple, base_layers: tuple) -> list[str]:
    """['crelu@conv1-4', 'x0.5@conv5']: the layers whose (activation, width) differ, grouped by the change."""
    groups: dict[str, list[str]] = {}
    for (name, act, width), (_, act0, width0) in zip(layers, base_layers, strict=True):
        if (act, width) != (act0, width0):
            token = "_".join([act] * (act != act0) + [f"x{width:g}"] * (width != width0))
            groups.setdefault(token, []).append(name)
    return [f"{token}@{_compact(names)}" for token, names in groups.items()]


def _compact(names: list[str]) -> str:
    """['conv1', 'conv2', 'conv4', 'fc14'] -> 'conv1-2,4,fc14': runs of consecutive layers of one kind."""
    runs: list[tuple[str, int, int]] = []  # (kind, first, last)
    for name in names:
        kind = name.rstrip("0123456789")
        i = int(name[len(kind) :])
        if runs and runs[-1][0] == kind and i == runs[-1][2] + 1:
            runs[-1] = (kind, runs[-1][1], i)
        else:
            runs.append((kind, i, i))
    out = []
    for n, (kind, first, last) in enumerate(runs):
        prefix = kind if n == 0 or runs[n - 1][0] != kind else ""
        out.append(prefix + (f"{first}-{last}" if last > first else str(first)))
    return ",".join(out)
