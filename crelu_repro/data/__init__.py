"""Files and batches: the dataset readers (cifar.py, imagenet_scan.py), the loaders that feed batches to the
trainer (device_loader.py, imagenet.py), and a protocol's splits (splits.py), over the neutral types of
types.py. Plain values in: which config reads which dataset is crelu_repro/datasets/.
"""

from .cifar import CIFAR_NAMES, load_cifar
from .device_loader import DeviceLoader, channel_stats
from .imagenet import ImageNetLoader
from .imagenet_scan import FileSplit, scan_imagenet
from .splits import hold_out, kfold_indices, make_loaders, whole
from .types import Feeder, Loader, Loaders, RawData, Split, Splits, Subset

__all__ = [
    "CIFAR_NAMES", "DeviceLoader", "Feeder", "FileSplit", "ImageNetLoader", "Loader", "Loaders", "RawData",
    "Split", "Splits", "Subset", "channel_stats", "hold_out", "kfold_indices", "load_cifar", "make_loaders",
    "scan_imagenet", "whole",
]  # fmt: skip
