"""Datasets split by protocol, and the loaders that feed them to the trainer.

CIFAR: host arrays, moved whole onto the device (device_loader.py). ImageNet: file lists, decoded in
batches (imagenet.py). Both loaders share one interface: `train_epoch`, `eval_batches`, `steps_per_epoch`.
Which dataset is read how is `crelu_repro.datasets` (the registry); this package knows files and batches.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from omegaconf import DictConfig

from ..config import choice
from ..errors import ConfigError, DatasetError
from .cifar import CIFAR_NAMES, Split, load_cifar
from .device_loader import DeviceLoader, channel_stats
from .imagenet import FileSplit, ImageNetLoader, scan_imagenet

Loader = DeviceLoader | ImageNetLoader


@dataclass
class RawData:
    """A dataset's own splits as read from its files (after limit_train / limit_test)."""

    train: Split | FileSplit
    test: Split | FileSplit
    num_classes: int
    warnings: list[str] = field(default_factory=list)  # differences from the official release
    fingerprint: dict = field(
        default_factory=dict
    )  # what the files were, not where (cifar.py, imagenet_scan.py)


@dataclass
class Splits:
    train: Split | FileSplit
    val: Split | FileSplit | None  # the held-out fold under eval.protocol=kfold
    test: Split | FileSplit
    num_classes: int
    warnings: list[str] = field(default_factory=list)
    fingerprint: dict = field(default_factory=dict)


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


def take(split: Split | FileSplit, idx: np.ndarray) -> Split | FileSplit:
    if isinstance(split, FileSplit):
        return split.take(idx)
    return Split(np.ascontiguousarray(split.images[idx]), split.labels[idx])


def read_cifar(dataset: DictConfig) -> RawData:
    """CIFAR-10/100 files, the first limit_train / limit_test images (0 = all)."""
    with warnings.catch_warnings():  # the differences come back in `data.warnings`; the trainer logs them
        warnings.simplefilter("ignore", UserWarning)
        data = load_cifar(dataset.name, dataset.root, download=dataset.download)
    train, test = data.train, data.test
    if dataset.limit_train:
        train = take(train, np.arange(min(dataset.limit_train, len(train.labels))))
    if dataset.limit_test:
        test = take(test, np.arange(min(dataset.limit_test, len(test.labels))))
    return RawData(train, test, data.num_classes, list(data.warnings), data.fingerprint)


def read_imagenet(dataset: DictConfig) -> RawData:
    """ImageNet's train/ and val/ file lists (a limit keeps images round-robin over classes)."""
    files = scan_imagenet(dataset.root, dataset.limit_train, dataset.limit_test)
    notes = [f"ImageNet: {path} skipped while scanning: {why}" for path, why in files.skipped.items()]
    return RawData(files.train, files.val, files.num_classes, notes, files.fingerprint)


def split_by_protocol(raw: RawData, dataset: DictConfig, eval_cfg: DictConfig) -> Splits:
    """The protocol's train/val split of the training files (kfold: fold `eval.fold` held out)."""
    if raw.num_classes != dataset.num_classes:
        raise DatasetError(
            f"{dataset.name} under {dataset.root} has {raw.num_classes} classes, the config says "
            f"{dataset.num_classes}; set dataset.num_classes={raw.num_classes} if that is intended"
        )
    train, val = raw.train, None
    if choice(eval_cfg.protocol) == "kfold":
        train_idx, val_idx = kfold_indices(train.labels, eval_cfg.folds, eval_cfg.fold, eval_cfg.split_seed)
        if not len(val_idx) or not len(train_idx):
            raise ConfigError(
                f"eval.folds={eval_cfg.folds} leaves fold {eval_cfg.fold} with {len(val_idx)} validation and "
                f"{len(train_idx)} training images (of {len(train.labels)}); use fewer folds"
            )
        train, val = take(train, train_idx), take(train, val_idx)
    return Splits(train, val, raw.test, raw.num_classes, raw.warnings, raw.fingerprint)


@dataclass
class Loaders:
    train: Loader  # augmented
    val: Loader | None
    test: Loader
    train_eval: Loader  # the training images, plain, for the final train error

    def unreadable(self) -> list[str]:
        parts = (self.train, self.val, self.test, self.train_eval)
        return sorted({p for x in parts for p in getattr(x, "unreadable", [])})


def cifar_feeder(splits: Splits, dataset: DictConfig, device, dtype, channels_last: bool) -> Callable:
    """split, train -> DeviceLoader; normalized with the training split's statistics (no test leak)."""
    mean, std = channel_stats(splits.train.images)
    flat = [f"{c} (all {m:g})" for c, m, s in zip("RGB", mean.tolist(), std.tolist(), strict=True) if s == 0]
    if flat:  # normalizing would divide by zero: every loss NaN from the first step
        raise DatasetError(
            f"the {dataset.name} training images under {dataset.root} have zero variance in channel "
            f"{', '.join(flat)}: all-zero or constant images, nothing to learn from and nothing to normalize "
            "by. Check the files (or dataset.limit_train)."
        )

    def loader(split: Split, train: bool) -> DeviceLoader:
        pad, flip = (dataset.crop_padding, dataset.flip) if train else (0, False)
        return DeviceLoader(split.images, split.labels, mean, std, device, dtype, channels_last, pad, flip)

    return loader


def imagenet_feeder(splits: Splits, dataset: DictConfig, device, dtype, channels_last: bool) -> Callable:
    """split, train -> ImageNetLoader (random crops and flips for training, center crops otherwise)."""

    def loader(split: FileSplit, train: bool) -> ImageNetLoader:
        return ImageNetLoader(
            split.paths, split.labels, device, dtype, channels_last, train=train, crop=dataset.image_size,
            resize=dataset.resize, flip=dataset.flip, num_workers=dataset.num_workers,
            max_pixels=dataset.max_pixels,
        )  # fmt: skip

    return loader


def make_loaders(splits: Splits, feeder: Callable[[Split | FileSplit, bool], Loader], train_eval_limit: int):
    """The four loaders a run needs; the clean train-error pass covers the first `train_eval_limit` images."""
    train_eval = splits.train
    if train_eval_limit and train_eval_limit < len(splits.train.labels):
        train_eval = take(splits.train, np.arange(train_eval_limit))
    val = feeder(splits.val, False) if splits.val is not None else None
    return Loaders(feeder(splits.train, True), val, feeder(splits.test, False), feeder(train_eval, False))


__all__ = [
    "CIFAR_NAMES", "DeviceLoader", "FileSplit", "ImageNetLoader", "Loader", "Loaders", "RawData", "Split",
    "Splits", "kfold_indices", "load_cifar", "make_loaders", "split_by_protocol", "take",
]  # fmt: skip
