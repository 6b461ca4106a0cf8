"""The ImageNet (ILSVRC-2012) plug-in, in the ImageFolder layout: file lists (scan.py) decoded in batches
(loader.py, jpeg.py, assemble.py, prefetch.py); tested on the center crop and on 10 patches, top-1 and
top-5, in one pass."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from ..evaluate import evaluate_ten_patch
from ..types import DatasetEntry, RawData, Splits
from .loader import ImageNetLoader
from .scan import FileSplit, locate_imagenet, scan_imagenet


def read_imagenet(dataset: DictConfig) -> RawData:
    """ImageNet's train/ and val/ file lists (a limit keeps images round-robin over classes)."""
    files = scan_imagenet(dataset.root, dataset.limit_train, dataset.limit_test)
    notes = [f"ImageNet: {path} skipped while scanning: {why}" for path, why in files.skipped.items()]
    return RawData(files.train, files.val, files.num_classes, notes, files.fingerprint)


def file_feeder(splits: Splits, dataset: DictConfig, device: torch.device, dtype, channels_last: bool):
    """split, train -> ImageNetLoader (random crops and flips for training, center crops otherwise)."""

    def loader(split: FileSplit, train: bool) -> ImageNetLoader:
        return ImageNetLoader(
            split.paths, split.labels, device, dtype, channels_last, train=train, crop=dataset.image_size,
            resize=dataset.resize, flip=dataset.flip, num_workers=dataset.num_workers,
            max_pixels=dataset.max_pixels,
        )  # fmt: skip

    return loader


def check(dataset: DictConfig) -> list[str]:
    if dataset.resize >= dataset.image_size:
        return []
    return [
        f"dataset.resize={dataset.resize}: must be >= dataset.image_size={dataset.image_size} (crops are cut "
        "from the resized image)"
    ]


# Crops come from the loader, not from padding.
ENTRIES = {
    "imagenet": DatasetEntry(
        read_imagenet,
        file_feeder,
        evaluate_ten_patch,
        ignores=("crop_padding",),
        check=check,
        locate=lambda dataset: locate_imagenet(dataset.root),
    )
}
