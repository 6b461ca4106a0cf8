"""The dataset registry, by layout: every module of this package that exports `ENTRIES` ({`dataset.name`:
`DatasetEntry`}) is a plug-in, and configs/dataset/<name>.yaml holds its values. This file only collects
them, and turns a run's config into the plain calls of crelu_repro/data/.

A new dataset is one module here plus one YAML file (README "Extending"); one defined elsewhere (a test, a
project of yours) is `register(name, entry)`.
"""

from __future__ import annotations

import importlib
import pkgutil

import torch
from omegaconf import DictConfig

from ..data import Feeder, Loaders, RawData, Splits, hold_out, make_loaders, whole
from ..errors import ConfigError, DatasetError
from ..schema import choice
from .entry import DatasetEntry


def _collect() -> dict[str, DatasetEntry]:
    found: dict[str, DatasetEntry] = {}
    for module in pkgutil.iter_modules(__path__):
        found.update(getattr(importlib.import_module(f"{__name__}.{module.name}"), "ENTRIES", {}))
    return dict(sorted(found.items()))


DATASETS: dict[str, DatasetEntry] = _collect()


def register(name: str, entry: DatasetEntry) -> None:
    """Add a dataset defined outside this package (`dataset.name=<name>` then reads it)."""
    DATASETS[name] = entry


def get_dataset(name: str) -> DatasetEntry:
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    return DATASETS[name]


def load_splits(dataset: DictConfig, eval_cfg: DictConfig) -> Splits:
    """Read `dataset.name` (limits applied), then split it by the protocol (kfold: `eval.fold` held out)."""
    return split_by_protocol(get_dataset(dataset.name).read(dataset), dataset, eval_cfg)


def split_by_protocol(raw: RawData, dataset: DictConfig, eval_cfg: DictConfig) -> Splits:
    """`raw` (read for `dataset`) split by the protocol; its class count checked against the config's."""
    if raw.num_classes != dataset.num_classes:
        raise DatasetError(
            f"{dataset.name} under {dataset.root} has {raw.num_classes} classes, the config says "
            f"{dataset.num_classes}; set dataset.num_classes={raw.num_classes} if that is intended"
        )
    if choice(eval_cfg.protocol) == "kfold":
        return hold_out(raw, eval_cfg.folds, eval_cfg.fold, eval_cfg.split_seed)
    return whole(raw)


def feeder_for(
    splits: Splits, dataset: DictConfig, device: torch.device, dtype, channels_last: bool
) -> Feeder:
    """(split, train) -> the dataset's loader of `split` on `device` (CIFAR: normalized by the training
    split's statistics): the one way a loader is made, for a run or for one split alone."""
    return get_dataset(dataset.name).feeder(splits, dataset, device, dtype, channels_last)


def loaders_for(
    splits: Splits, dataset: DictConfig, device: torch.device, dtype, channels_last: bool, train_eval: int
) -> Loaders:
    """The run's loaders on `device`: augmented training batches, plain val / test / train-error passes."""
    return make_loaders(splits, feeder_for(splits, dataset, device, dtype, channels_last), train_eval)


__all__ = ["DATASETS", "DatasetEntry", "feeder_for", "get_dataset", "load_splits", "loaders_for", "register",
           "split_by_protocol"]  # fmt: skip
