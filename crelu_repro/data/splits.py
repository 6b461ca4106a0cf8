"""A dataset's splits under a protocol, and the four loaders a run needs: plain values in, no config."""

from __future__ import annotations

import numpy as np

from ..core.errors import ConfigError
from .types import Feeder, Loaders, RawData, Splits


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
