"""Activation registry: name -> (module factory, channel multiplier, whether it takes a base).

The multiplier is what the model builder needs to track channels: CReLU doubles the number of maps
(it keeps both phases), every element-wise activation keeps it. An activation that takes a base is built
around `model.crelu_base` (one of BASES), and only where one is used does the base belong to the network's
identity. A new activation is one entry in ACTIVATIONS (docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..core.errors import ConfigError

# Element-wise bases that CReLU can wrap. The paper: "The element-wise ReLU non-linearity after
# concatenation can be substituted by other activation functions (e.g., Leaky ReLU)".
BASES: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),  # PyTorch's default slope
    "elu": nn.ELU,
}


class AVR(nn.Module):
    """Absolute value rectification, max(0, x) + max(0, -x) = |x|. Gradient at 0 is 0 (sign(0))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.abs()


class CReLU(nn.Module):
    """Concatenated ReLU: cat([f(x), f(-x)], dim=1) with f = ReLU by default.

    Positive phase first, exactly like `tf.nn.crelu(x, axis=1)` and Chainer's `crelu`.
    (N, C, ...) -> (N, 2C, ...). With f = ReLU the gradient at x = 0 is 0 for both halves.
    """

    def __init__(self, base: str = "relu") -> None:
        super().__init__()
        self.base_name = base
        self.base = _lookup(BASES, base, "CReLU base activation")()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One cat then one element-wise op: a single fused kernel under torch.compile.
        return self.base(torch.cat([x, -x], dim=1))

    def extra_repr(self) -> str:
        return f"base={self.base_name}"


@dataclass(frozen=True)
class Activation:
    factory: Callable[..., nn.Module]  # () -> module, or (base name) -> module when `takes_base`
    multiplier: int  # output channels per input channel
    takes_base: bool = False  # built around model.crelu_base (an element-wise function of BASES)


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(nn.Identity, 1),  # the slides' "Linear" (All-CNN-B conv12)
    "relu": Activation(nn.ReLU, 1),
    "avr": Activation(AVR, 1),
    "leaky_relu": Activation(BASES["leaky_relu"], 1),
    "elu": Activation(nn.ELU, 1),
    "crelu": Activation(CReLU, 2, takes_base=True),
}


def _lookup(table: dict, name: str, what: str):
    if name not in table:
        raise ConfigError(f"unknown {what} {name!r}; valid: {', '.join(sorted(table))}")
    return table[name]


def get_activation(name: str) -> Activation:
    """The registry entry for `name`; an unknown name raises ConfigError listing the valid ones."""
    return _lookup(ACTIVATIONS, name, "activation")


def make_activation(name: str, crelu_base: str = "relu") -> nn.Module:
    """A fresh module for `name`; `crelu_base` is the element-wise function inside one that takes a base."""
    entry = get_activation(name)
    return entry.factory(crelu_base) if entry.takes_base else entry.factory()
