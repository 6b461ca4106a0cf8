"""The paper's published numbers (tables.yaml, transcribed from the slides): references to compare with."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

TABLES_YAML = Path(__file__).with_name("tables.yaml")


@functools.cache
def tables() -> dict:
    with open(TABLES_YAML) as f:
        return yaml.safe_load(f)


def parse_count(text: str | None) -> int | None:
    """'1.4M' -> 1_400_000 (the paper prints rounded millions)."""
    if text is None:
        return None
    text = str(text).strip()
    scale = {"M": 1e6, "K": 1e3}.get(text[-1], 1)
    return int(round(float(text.rstrip("MK")) * scale))


def reported_models() -> list[tuple[str, str, str | None]]:
    """(model, dataset, printed params) for every (row, dataset) a paper table reports."""
    t = tables()
    rows = []
    for table in ("convpool_cifar", "vgg_cifar"):
        for model, entry in t[table].items():
            rows += [(model, ds, entry.get("params")) for ds in ("cifar10", "cifar100")]
    rows += [(m, "imagenet", e.get("params")) for m, e in t["allcnnb_imagenet"].items()]
    return rows
