"""The CIFAR-10 and CIFAR-100 plug-in: the canonical "python version" files (reader.py, pickle.py), held on
the device as uint8 and augmented there (data/device_loader.py); tested on whole images."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from omegaconf import DictConfig

from ...core.errors import DatasetError
from ..device_loader import DeviceLoader, channel_stats
from ..evaluate import single_crop
from ..types import DatasetEntry, RawData, Split, Splits
from .reader import CIFAR_NAMES, load_cifar, locate_cifar


def read_cifar(dataset: DictConfig) -> RawData:
    """CIFAR-10/100 files, the first limit_train / limit_test images (0 = all)."""
    with warnings.catch_warnings():  # the differences come back in `data.warnings`; the trainer logs them
        warnings.simplefilter("ignore", UserWarning)
        data = load_cifar(dataset.name, dataset.root, download=dataset.download)
    train, test = data.train, data.test
    if dataset.limit_train:
        train = train.take(np.arange(min(dataset.limit_train, len(train.labels))))
    if dataset.limit_test:
        test = test.take(np.arange(min(dataset.limit_test, len(test.labels))))
    return RawData(train, test, data.num_classes, list(data.warnings), data.fingerprint)


def device_feeder(splits: Splits, dataset: DictConfig, device: torch.device, dtype, channels_last: bool):
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


# CIFAR images are 32x32, used whole: the ImageNet loader's keys mean nothing here.
CIFAR = DatasetEntry(
    read_cifar,
    device_feeder,
    single_crop,
    ignores=("image_size", "resize", "num_workers", "max_pixels"),
    locate=lambda d: locate_cifar(d.name, d.root, download=d.download),
)
ENTRIES = dict.fromkeys(CIFAR_NAMES, CIFAR)
