"""Datasets split by protocol, and the loaders that feed them to the trainer.

CIFAR: host arrays, moved whole onto the device (device_loader.py). ImageNet: file lists, decoded in
batches (imagenet.py). Both loaders share one interface: `train_epoch`, `eval_batches`, `steps_per_epoch`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from omegaconf import DictConfig

from ..config import choice
from ..errors import ConfigError, DatasetError
from .cifar import CIFAR_NAMES, Split, load_cifar
from .device_loader import DeviceLoader, channel_stats
from .imagenet import FileSplit, ImageNetLoader, scan_imagenet


@dataclass
class Splits:
    train: Split | FileSplit
    val: Split | FileSplit | None  # the held-out fold under eval.protocol=kfold
    test: Split | FileSplit
    num_classes: int
    warnings: list[str] = field(default_factory=list)
    fingerprint: dict = field(default_factory=dict)  # what the data files were (CifarData/ImageNetFiles')


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


def _take(split: Split | FileSplit, idx: np.ndarray) -> Split | FileSplit:
    if isinstance(split, FileSplit):
        return split.take(idx)
    return Split(np.ascontiguousarray(split.images[idx]), split.labels[idx])


def load_splits(dataset: DictConfig, eval_cfg: DictConfig) -> Splits:
    """Load `dataset.name`, apply limit_train / limit_test, then the protocol's train/val split."""
    if dataset.name == "imagenet":
        files = scan_imagenet(dataset.root, dataset.limit_train, dataset.limit_test)
        train, test, classes, warnings_ = files.train, files.val, files.num_classes, []
        fingerprint = files.fingerprint
    elif dataset.name in CIFAR_NAMES:
        with warnings.catch_warnings():  # the differences come back in `warnings`; the trainer logs them
            warnings.simplefilter("ignore", UserWarning)
            data = load_cifar(dataset.name, dataset.root, download=dataset.download)
        train, test, classes, warnings_ = data.train, data.test, data.num_classes, list(data.warnings)
        fingerprint = data.fingerprint
        if dataset.limit_train:
            train = _take(train, np.arange(min(dataset.limit_train, len(train.labels))))
        if dataset.limit_test:
            test = _take(test, np.arange(min(dataset.limit_test, len(test.labels))))
    else:
        raise ConfigError(f"unknown dataset {dataset.name!r}; valid: {', '.join(CIFAR_NAMES)}, imagenet")
    if classes != dataset.num_classes:
        raise DatasetError(
            f"{dataset.name} under {dataset.root} has {classes} classes, the config says "
            f"{dataset.num_classes}; set dataset.num_classes={classes} if that is intended"
        )
    val = None
    if choice(eval_cfg.protocol) == "kfold":
        train_idx, val_idx = kfold_indices(train.labels, eval_cfg.folds, eval_cfg.fold, eval_cfg.split_seed)
        train, val = _take(train, train_idx), _take(train, val_idx)
    return Splits(train, val, test, classes, warnings_, fingerprint)


@dataclass
class Loaders:
    train: DeviceLoader | ImageNetLoader  # augmented
    val: DeviceLoader | ImageNetLoader | None
    test: DeviceLoader | ImageNetLoader
    train_eval: DeviceLoader | ImageNetLoader  # the training images, plain, for the final train error

    def unreadable(self) -> list[str]:
        return sorted(
            {
                p
                for x in (self.train, self.val, self.test, self.train_eval)
                for p in getattr(x, "unreadable", [])
            }
        )


def make_loaders(
    splits: Splits, dataset: DictConfig, device, dtype, channels_last: bool, train_eval_limit: int
) -> Loaders:
    """Loaders on `device`. CIFAR is normalized with its training split's statistics (no test leak)."""
    train_eval_split = splits.train
    if train_eval_limit and train_eval_limit < len(splits.train.labels):
        train_eval_split = _take(splits.train, np.arange(train_eval_limit))
    if dataset.name == "imagenet":

        def loader(split: FileSplit, train: bool) -> ImageNetLoader:
            return ImageNetLoader(
                split.paths,
                split.labels,
                device,
                dtype,
                channels_last,
                train=train,
                crop=dataset.image_size,
                resize=dataset.resize,
                flip=dataset.flip,
                num_workers=dataset.num_workers,
                max_pixels=dataset.max_pixels,
            )
    else:
        mean, std = channel_stats(splits.train.images)

        def loader(split: Split, train: bool) -> DeviceLoader:
            return DeviceLoader(
                split.images,
                split.labels,
                mean,
                std,
                device,
                dtype,
                channels_last,
                dataset.crop_padding if train else 0,
                dataset.flip and train,
            )

    return Loaders(
        loader(splits.train, True),
        loader(splits.val, False) if splits.val is not None else None,
        loader(splits.test, False),
        loader(train_eval_split, False),
    )
