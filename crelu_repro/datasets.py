"""The dataset registry: for each `dataset=<name>`, how its files are read, how its batches are fed, and what
its test reports. Its class count lives in configs/dataset/<name>.yaml (`config.dataset_classes`).

To add a dataset: a reader (files -> `RawData`), a feeder (split -> a loader with `train_epoch`,
`eval_batches`, `steps_per_epoch`), a test (model, loader -> metrics), an entry here and a config file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from .data import (
    Loader,
    Loaders,
    RawData,
    Splits,
    cifar_feeder,
    imagenet_feeder,
    make_loaders,
    read_cifar,
    read_imagenet,
    split_by_protocol,
)
from .errors import ConfigError
from .evaluate import evaluate, evaluate_ten_patch

# (model, test loader, batch size, runtime) -> ({result field: error %}, scores (N, classes), labels (N,))
TestMetrics = Callable[
    [torch.nn.Module, Loader, int, object], tuple[dict[str, float], torch.Tensor, torch.Tensor]
]


@dataclass(frozen=True)
class DatasetEntry:
    read: Callable[[DictConfig], RawData]
    # (splits, dataset cfg, device, dtype, channels_last) -> (split, train) -> loader
    feeder: Callable[..., Callable]
    test_metrics: TestMetrics


def single_crop(
    model: torch.nn.Module, loader: Loader, batch: int, rt
) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Top-1 test error of the whole images (CIFAR)."""
    error, scores, labels = evaluate(model, loader, batch, rt)
    return {"test_error": error}, scores, labels


DATASETS: dict[str, DatasetEntry] = {
    "cifar10": DatasetEntry(read_cifar, cifar_feeder, single_crop),
    "cifar100": DatasetEntry(read_cifar, cifar_feeder, single_crop),
    # Single center crop and 10-patch, top-1 and top-5, in one pass over the 10 crops of each image.
    "imagenet": DatasetEntry(read_imagenet, imagenet_feeder, evaluate_ten_patch),
}


def get_dataset(name: str) -> DatasetEntry:
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    return DATASETS[name]


def load_splits(dataset: DictConfig, eval_cfg: DictConfig) -> Splits:
    """Read `dataset.name` (limits applied), then split it by the protocol (kfold: a held-out fold)."""
    return split_by_protocol(get_dataset(dataset.name).read(dataset), dataset, eval_cfg)


def feeder_for(splits: Splits, dataset: DictConfig, device, dtype, channels_last: bool) -> Callable:
    """(split, train) -> the dataset's loader of `split` on `device` (CIFAR: normalized by the training
    split's statistics): the one way a loader is made, for a run or for one split alone."""
    return get_dataset(dataset.name).feeder(splits, dataset, device, dtype, channels_last)


def loaders_for(
    splits: Splits, dataset: DictConfig, device, dtype, channels_last: bool, train_eval: int
) -> Loaders:
    """The run's loaders on `device`: augmented training batches, plain val / test / train-error passes."""
    return make_loaders(splits, feeder_for(splits, dataset, device, dtype, channels_last), train_eval)
