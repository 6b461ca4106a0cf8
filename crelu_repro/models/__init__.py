"""Every network of the paper's tables, by name: `build_model(name, num_classes)`."""

from __future__ import annotations

from ..activations import BASES
from ..errors import ConfigError
from . import allcnnb, convpool, vgg
from .builder import SpecNet, Variant, build

FAMILIES = {
    "convpool": convpool.CONVPOOL_CNN_C,
    "vgg": vgg.VGG_13C_2FC,
    "allcnnb": allcnnb.ALL_CNN_B,
}
VARIANTS: dict[str, Variant] = {**convpool.VARIANTS, **vgg.VARIANTS, **allcnnb.VARIANTS}
MODEL_NAMES: tuple[str, ...] = tuple(VARIANTS)


def build_model(name: str, num_classes: int, batchnorm: bool = True, crelu_base: str = "relu") -> SpecNet:
    """Build the paper model `name` for `num_classes` classes (BN after each conv unless disabled)."""
    if name not in VARIANTS:
        raise ConfigError(f"unknown model {name!r}; valid: {', '.join(MODEL_NAMES)}")
    if crelu_base not in BASES:
        raise ConfigError(f"unknown crelu_base {crelu_base!r}; valid: {', '.join(BASES)}")
    variant = VARIANTS[name]
    return build(name, FAMILIES[variant.family], variant, num_classes, batchnorm, crelu_base)


__all__ = ["MODEL_NAMES", "VARIANTS", "FAMILIES", "build_model", "SpecNet", "Variant"]
