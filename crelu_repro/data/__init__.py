"""Datasets as host arrays, split by protocol. The trainer moves them onto the device (device_loader.py)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from omegaconf import DictConfig

from ..config import choice
from ..errors import ConfigError, DatasetError
from .cifar import CIFAR_NAMES, Split, load_cifar


@dataclass
class Splits:
    train: Split
    val: Split | None  # the held-out fold under eval.protocol=kfold
    test: Split
    num_classes: int
    warnings: list[str] = field(default_factory=list)


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


def _take(split: Split, idx: np.ndarray | slice) -> Split:
    return Split(np.ascontiguousarray(split.images[idx]), split.labels[idx])


def load_splits(dataset: DictConfig, eval_cfg: DictConfig) -> Splits:
    """Load `dataset.name`, apply limit_train / limit_test, then the protocol's train/val split."""
    if dataset.name == "imagenet":
        raise ConfigError(
            "dataset=imagenet: the ImageNet loader (JPEG folders, 10-patch testing) is not in this version "
            "yet; it arrives with the protocols-and-tables work. Use dataset=cifar10 or dataset=cifar100."
        )
    if dataset.name not in CIFAR_NAMES:
        raise ConfigError(f"unknown dataset {dataset.name!r}; valid: {', '.join(CIFAR_NAMES)}, imagenet")
    with warnings.catch_warnings():  # the differences come back in `warnings`; the trainer logs them once
        warnings.simplefilter("ignore", UserWarning)
        data = load_cifar(dataset.name, dataset.root, download=dataset.download)
    if data.num_classes != dataset.num_classes:
        raise DatasetError(
            f"{dataset.name} has {data.num_classes} classes, config says {dataset.num_classes}"
        )
    train, test = data.train, data.test
    if dataset.limit_train:
        train = _take(train, slice(0, dataset.limit_train))
    if dataset.limit_test:
        test = _take(test, slice(0, dataset.limit_test))
    val = None
    if choice(eval_cfg.protocol) == "kfold":
        train_idx, val_idx = kfold_indices(train.labels, eval_cfg.folds, eval_cfg.fold, eval_cfg.split_seed)
        train, val = _take(train, train_idx), _take(train, val_idx)
    return Splits(train, val, test, data.num_classes, list(data.warnings))
