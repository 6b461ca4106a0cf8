"""The neutral types every dataset shares: what a reader returns (`RawData`), a protocol's splits, and the
interface of a loader. A dataset module (crelu_repro/datasets/) imports these, never another dataset's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch


class Subset(Protocol):
    """A split's images, by whatever means a dataset holds them (arrays, file lists): labels and a subset."""

    labels: np.ndarray  # (N,) int64

    def __len__(self) -> int: ...

    def take(self, idx: Sequence[int] | np.ndarray) -> Subset: ...


@dataclass
class Split:
    """Images held in memory (CIFAR)."""

    images: np.ndarray  # (N, 3, H, W) uint8, C-contiguous
    labels: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, idx: Sequence[int] | np.ndarray) -> Split:
        idx = np.asarray(idx, dtype=np.int64)
        return Split(np.ascontiguousarray(self.images[idx]), self.labels[idx])


@dataclass
class RawData:
    """A dataset's own splits as read from its files (after limit_train / limit_test)."""

    train: Subset
    test: Subset
    num_classes: int
    warnings: list[str] = field(default_factory=list)  # differences from the official release
    fingerprint: dict = field(default_factory=dict)  # what the files were, not where (resume checks)


@dataclass
class Splits:
    """The protocol's splits of a dataset: `val` is the held-out fold under eval.protocol=kfold."""

    train: Subset
    val: Subset | None
    test: Subset
    num_classes: int
    warnings: list[str] = field(default_factory=list)
    fingerprint: dict = field(default_factory=dict)


Batches = Iterator[tuple[torch.Tensor, torch.Tensor]]  # (x (B, 3, H, W) normalized, y (B,) int64)


class Loader(Protocol):
    """What the trainer asks of a split's loader (DeviceLoader, ImageNetLoader, a plug-in's own)."""

    def __len__(self) -> int: ...

    def steps_per_epoch(self, global_batch: int) -> int: ...

    def train_epoch(
        self, global_batch: int, seed: int, epoch: int, rank: int = 0, world: int = 1, start_step: int = 0
    ) -> Batches: ...

    def eval_batches(self, batch_size: int, rank: int = 0, world: int = 1) -> Batches: ...


Feeder = Callable[[Subset, bool], Loader]  # (split, train) -> its loader (train: augmented)


@dataclass
class Loaders:
    train: Loader  # augmented
    val: Loader | None
    test: Loader
    train_eval: Loader  # the training images, plain, for the final train error

    def unreadable(self) -> list[str]:
        parts = (self.train, self.val, self.test, self.train_eval)
        return sorted({p for x in parts for p in getattr(x, "unreadable", [])})
