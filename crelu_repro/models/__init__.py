"""Every network of the paper's tables, by name: `build_model(name, num_classes)`.

The names and their descriptions are the files `configs/model/<name>.yaml` (see `variants.py`); the families'
layer tables are Python (`families.py`); `builder.py` turns the two into modules.
"""

from __future__ import annotations

from dataclasses import replace

from omegaconf import DictConfig

from .builder import SpecNet, Variant, build, resolve
from .shapes import Shapes, expected_layout, layout, layout_changes, trace
from .variants import FAMILIES, MODEL_NAMES, baseline, label, load_variant, variant_of


def build_model(
    name: str, num_classes: int, batchnorm: bool | None = None, crelu_base: str | None = None
) -> SpecNet:
    """Build the paper model `name` for `num_classes` classes; `batchnorm` / `crelu_base` override its
    config."""
    variant = load_variant(name)
    changes = {k: v for k, v in (("batchnorm", batchnorm), ("crelu_base", crelu_base)) if v is not None}
    return build_variant(replace(variant, **changes), num_classes)


def build_variant(variant: Variant | DictConfig, num_classes: int) -> SpecNet:
    """Build any description: a Variant, or a composed `model` config node (`cfg.model`)."""
    variant = variant if isinstance(variant, Variant) else variant_of(variant)
    return build(FAMILIES[variant.family], variant, num_classes)


def check_variant(variant: Variant | DictConfig, num_classes: int) -> Variant:
    """Raise ConfigError (valid choices listed) unless the description builds for `num_classes` classes,
    its classifier giving exactly that many scores (`trace` then checks an image size)."""
    variant = variant if isinstance(variant, Variant) else variant_of(variant)
    resolve(FAMILIES[variant.family], variant, num_classes)
    return variant


__all__ = [
    "FAMILIES", "MODEL_NAMES", "Shapes", "SpecNet", "Variant", "baseline", "build_model", "build_variant",
    "check_variant", "expected_layout", "label", "layout", "layout_changes", "load_variant", "trace",
    "variant_of",
]  # fmt: skip
