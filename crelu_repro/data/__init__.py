"""Files and batches, and the dataset plug-ins that turn a run's config into them.

A plug-in is a module or package of this folder that exports `ENTRIES` ({`dataset.name`: `DatasetEntry`});
configs/dataset/<name>.yaml holds its values. `cifar/` serves cifar10 and cifar100, `imagenet/` imagenet.
A plug-in is imported when its dataset is chosen, never before: a CIFAR run reads no ImageNet code. Its
module's name starts its datasets' names (cifar -> cifar10), which is where the registry looks first; a
plug-in named otherwise is still found, by searching every module. A dataset defined elsewhere (a test, a
project of yours) is `register(name, entry)`. docs/extending.md walks through adding one.

The rest is shared by every dataset: the neutral types (types.py), a protocol's splits (here: hold_out,
whole), the on-device uint8 loader (device_loader.py), the evaluation protocols (evaluate.py).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, MutableMapping

import numpy as np
import torch
from omegaconf import DictConfig

from ..core.errors import ConfigError, DatasetError
from ..core.schema import choice
from .types import DatasetEntry, Feeder, Loader, Loaders, RawData, Split, Splits, Subset


class DatasetRegistry(MutableMapping[str, DatasetEntry]):
    """`dataset.name` -> its plug-in's entry, importing a plug-in only when one of its names is asked for.
    Listing every name (an error message, a test) imports them all."""

    def __init__(self) -> None:
        self._entries: dict[str, DatasetEntry] = {}
        self._searched: set[str] = set()  # plug-in modules already imported

    def __getitem__(self, name: str) -> DatasetEntry:
        if name not in self._entries:
            modules = sorted(_plugin_modules(), key=lambda m: not name.startswith(m))  # likely first
            for module in modules:
                self._import(module)
                if name in self._entries:
                    break
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        for module in _plugin_modules():
            self._import(module)
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(list(iter(self)))

    def __setitem__(self, name: str, entry: DatasetEntry) -> None:
        self._entries[name] = entry

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def _import(self, module: str) -> None:
        if module not in self._searched:
            self._searched.add(module)
            found = getattr(importlib.import_module(f"{__name__}.{module}"), "ENTRIES", {})
            self._entries.update({k: v for k, v in found.items() if k not in self._entries})


def _plugin_modules() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(__path__) if m.name not in _SHARED]


_SHARED = {"types", "device_loader", "evaluate"}  # no ENTRIES: never searched
DATASETS = DatasetRegistry()


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


def kfold_indices(labels: np.ndarray, folds: int, fold: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices: a seeded partition into `folds` folds, stratified by class; `fold` is val.

    Within each class the images are shuffled and dealt round-robin, so every fold has the class mix of
    the whole set (to within one image per class) and the folds cover the training set exactly once.
    """
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(labels), dtype=np.int64)
    offset = 0  # continue the deal across classes so fold sizes differ by at most one overall
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        assignment[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)
    return np.flatnonzero(assignment != fold), np.flatnonzero(assignment == fold)


def whole(raw: RawData) -> Splits:
    """Every training image trains (eval.protocol=seeds): no validation split."""
    return Splits(raw.train, None, raw.test, raw.num_classes, raw.warnings, raw.fingerprint)


def hold_out(raw: RawData, folds: int, fold: int, seed: int) -> Splits:
    """The paper's protocol: fold `fold` of a seeded, stratified `folds`-fold partition validates."""
    train_idx, val_idx = kfold_indices(raw.train.labels, folds, fold, seed)
    if not len(val_idx) or not len(train_idx):
        raise ConfigError(
            f"eval.folds={folds} leaves fold {fold} with {len(val_idx)} validation and {len(train_idx)} "
            f"training images (of {len(raw.train.labels)}); use fewer folds"
        )
    train, val = raw.train.take(train_idx), raw.train.take(val_idx)
    return Splits(train, val, raw.test, raw.num_classes, raw.warnings, raw.fingerprint)


def make_loaders(splits: Splits, feeder: Feeder, train_eval_limit: int) -> Loaders:
    """The four loaders a run needs; the clean train-error pass covers the first `train_eval_limit` images."""
    train_eval = splits.train
    if train_eval_limit and train_eval_limit < len(splits.train.labels):
        train_eval = splits.train.take(np.arange(train_eval_limit))
    val = feeder(splits.val, False) if splits.val is not None else None
    return Loaders(feeder(splits.train, True), val, feeder(splits.test, False), feeder(train_eval, False))


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


__all__ = [
    "DATASETS", "DatasetEntry", "Feeder", "Loader", "Loaders", "RawData", "Split", "Splits", "Subset",
    "feeder_for", "get_dataset", "load_splits", "loaders_for", "register", "split_by_protocol",
]  # fmt: skip
