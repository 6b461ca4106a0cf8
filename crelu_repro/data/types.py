"""The neutral types every dataset shares: what a reader returns (`RawData`), a protocol's splits, the
interface of a loader, and what a dataset plug-in provides (`DatasetEntry`). A plug-in
(crelu_repro/data/cifar/, data/imagenet/, or a module of yours) imports these, never another dataset's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from omegaconf import DictConfig


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


# (model, test loader, batch size, runtime) -> ({result field: error %}, scores (N, classes), labels (N,))
TestMetrics = Callable[
    [torch.nn.Module, Loader, int, object], tuple[dict[str, float], torch.Tensor, torch.Tensor]
]
# (splits, dataset cfg, device, dtype, channels_last) -> (split, train) -> loader
MakeFeeder = Callable[[Splits, DictConfig, torch.device, torch.dtype, bool], Feeder]


def no_checks(dataset: DictConfig) -> list[str]:
    return []


@dataclass(frozen=True)
class DatasetEntry:
    """What a dataset plug-in provides: a module of crelu_repro/data/ exports `ENTRIES`, {`dataset.name`:
    entry}, and configs/dataset/<name>.yaml gives its values (class count, root, ...)."""

    read: Callable[[DictConfig], RawData]  # the dataset node -> its files' splits (limits applied)
    feeder: MakeFeeder
    test_metrics: TestMetrics
    # Keys of the dataset node it never reads: they must keep its file's value (else they would be recorded
    # in the run's identity yet change nothing), and run.checks.validate says so.
    ignores: tuple[str, ...] = ()
    check: Callable[[DictConfig], list[str]] = no_checks  # its own combinations of values: one line each
    # The dataset node -> returns when its files are there (fetching them first if it may), else raises
    # DatasetError: asked before a run's folder is made, so it must be cheap (no reading of the images).
    locate: Callable[[DictConfig], object] = no_checks
