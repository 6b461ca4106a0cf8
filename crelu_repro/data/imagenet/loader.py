"""ImageNet (ILSVRC-2012) from JPEG folders: a loader with DeviceLoader's interface, 10-patch test.

Augmentation (AlexNet-style, ours: the paper is silent): shorter side -> 256, random 224 crop, random flip.
Evaluation: shorter side -> 256, center 224 crop; 10-patch: corners + center and mirrors, as TenCrop.
As in DeviceLoader, an epoch's order and augmentation are drawn from (seed, epoch) for the *global* batch
and each rank takes its slice; crop positions are fractions of the free range (sizes are unknown until
decoded). decode="device" (CUDA default): workers read bytes, whole batches are decoded (nvJPEG), resized
and cropped on the device, in a background thread one batch ahead of the loop (prefetch.py; on CUDA on a
side stream), crops and flips in whole groups (assemble.py). decode="workers": workers decode, resize and
crop; uint8 crops come back pinned.
Unreadable files (and images whose header claims more than max_pixels pixels: never decoded) are
skipped, logged and listed in `loader.unreadable`, each one's reason in `loader.unreadable_reasons`. In
training the slot takes a copy of the next readable image of the rank's batch (crop, flip and label):
static shapes, aligned labels. In evaluation the batch shrinks (a duplicate would bias the error). More
than 0.1% unreadable among the files seen -> DatasetError; one bad file alone never stops a run (a small
sample says nothing about the rate).
Scanning the folders lives in scan.py, reading and decoding files in jpeg.py.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ...core.errors import DENIED, ConfigError, DatasetError
from .assemble import Job, assemble
from .jpeg import MAX_PIXELS, decode_batch, decode_cpu, read_checked
from .prefetch import prefetch
from .scan import JPEG_SUFFIXES, LAYOUT, FileSplit, ImageNetFiles, scan_imagenet

__all__ = [  # the scanning names stay importable from here
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "JPEG_SUFFIXES",
    "LAYOUT",
    "MAX_UNREADABLE",
    "FileSplit",
    "ImageNetFiles",
    "ImageNetLoader",
    "scan_imagenet",
]

log = logging.getLogger("crelu_repro")

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # torchvision's (0.485, 0.456, 0.406) x 255: RGB, pixel units
IMAGENET_STD = (58.395, 57.12, 57.375)  # (0.229, 0.224, 0.225) x 255
MAX_UNREADABLE = 0.001


class _Batches(Dataset):
    """Item k = job k, with {position: reason} for its unusable files (unreadable, or a header above
    max_pixels: refused before any decode). decode="device": (all its files' bytes in one flat uint8
    tensor, (b,) sizes, -1 = refused, reasons): one shared-memory handle per batch, not one per file (those
    run out of descriptors). decode="workers": (uint8 crops, rows, reasons), crops from `assemble`."""

    def __init__(
        self,
        paths: np.ndarray,  # (N,) fsencoded bytes
        jobs: list[Job],
        decode_here: bool,
        resize: int,
        crop: int,
        train: bool,
        max_pixels: int,
    ):
        self.paths, self.jobs, self.decode_here = paths, jobs, decode_here
        self.resize, self.crop, self.train, self.max_pixels = resize, crop, train, max_pixels

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, k: int):
        read = [read_checked(os.fsdecode(self.paths[i]), self.max_pixels) for i in self.jobs[k].idx]
        data = [d for d, _ in read]
        reasons = {i: why for i, (_, why) in enumerate(read) if why}
        if not self.decode_here:
            sizes = np.array([-1 if d is None else d.size for d in data])
            flat = np.concatenate([d for d in data if d is not None] + [np.empty(0, np.uint8)])
            return torch.from_numpy(flat), sizes, reasons
        images = []
        for i, d in enumerate(data):
            im, why = decode_cpu(d, self.max_pixels) if d is not None else (None, None)
            images.append(im)
            if why:
                reasons[i] = why
        x, rows = assemble(images, self.jobs[k], self.resize, self.crop, self.train)
        return x, rows, reasons


def _listing(reasons: dict[str, str]) -> str:
    return "; ".join(f"{path} ({why})" for path, why in reasons.items())


def _advice(reasons: Iterable[str]) -> str:
    """What to do about unreadable files: a permission problem is fixed by permissions, not deletion."""
    denied = [why.startswith(DENIED) for why in reasons]
    if all(denied):
        return "Make those files readable by the user running this (fix their permissions), then rerun."
    return (
        "The copy looks damaged: re-extract or re-copy those folders (check free disk space), or delete the "
        "damaged files" + ("; make the permission-denied ones readable." if any(denied) else ".")
    )


def _identity(batch):  # module level: picklable for worker processes
    return batch


class ImageNetLoader:
    """One split of JPEG files: `train_epoch` yields augmented batches, `eval_batches` center/10-patch."""

    def __init__(
        self,
        files: Sequence[str],
        labels: np.ndarray,  # (N,) int64
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        train: bool = True,
        crop: int = 224,
        resize: int = 256,
        mean: Sequence[float] = IMAGENET_MEAN,  # pixel units, RGB
        std: Sequence[float] = IMAGENET_STD,
        num_workers: int | None = None,  # None: min(8, CPU count)
        flip: bool = True,  # training only
        decode: str | None = None,  # "device" | "workers"; None: "device" on CUDA, else "workers"
        max_pixels: int = MAX_PIXELS,  # a file whose header claims more pixels counts as unreadable
    ) -> None:
        if len(files) != len(labels):
            raise DatasetError(f"ImageNetLoader: {len(files)} files but {len(labels)} labels")
        if max_pixels < 1:
            raise ConfigError(f"dataset.max_pixels={max_pixels} must be >= 1")
        self.paths, self.labels = list(files), np.asarray(labels, dtype=np.int64)
        # One bytes buffer for the workers: indexing a list of 1.28M str objects in forked workers touches
        # their refcounts and slowly copies the whole list into every worker (pytorch issue 13246).
        self._encoded = np.array([os.fsencode(p) for p in self.paths])
        self.device, self.dtype, self.channels_last = device, dtype, channels_last
        self.train, self.flip, self.crop, self.resize = train, flip, crop, resize
        self.max_pixels = max_pixels
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.num_workers = min(8, os.cpu_count() or 1) if num_workers is None else num_workers
        self.decode = decode or ("device" if device.type == "cuda" else "workers")
        if self.decode not in ("device", "workers"):
            raise ValueError(f"decode must be 'device' or 'workers', not {self.decode!r}")
        self.unreadable: list[str] = []  # paths of the unreadable files seen so far
        self.unreadable_reasons: dict[str, str] = {}  # path -> why ("permission denied ...", "N x M ...")
        self._seen, self._bad = np.zeros(len(self), bool), np.zeros(len(self), bool)
        self._num_seen = 0

    def __len__(self) -> int:
        return len(self.paths)

    def steps_per_epoch(self, global_batch: int) -> int:
        return len(self) // global_batch  # drop_last: static shapes for torch.compile / CUDA graphs

    def plan(self, global_batch: int, seed: int, epoch: int) -> tuple[torch.Tensor, ...]:
        """(order, uy, ux, flip), each (steps, global_batch): drawn on the CPU, the same on every device."""
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        steps = self.steps_per_epoch(global_batch)
        order = torch.randperm(len(self), generator=gen)[: steps * global_batch].view(steps, global_batch)
        u = torch.rand((2, steps, global_batch), generator=gen, dtype=torch.float64)
        return order, u[0], u[1], torch.rand((steps, global_batch), generator=gen) < 0.5

    def train_epoch(
        self, global_batch: int, seed: int, epoch: int, rank: int = 0, world: int = 1, start_step: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Augmented (x, y) for this rank from `start_step` on. x: (B/world, 3, crop, crop) normalized."""
        order, uy, ux, flip = (t.numpy() for t in self.plan(global_batch, seed, epoch))
        local = slice(rank * global_batch // world, (rank + 1) * global_batch // world)
        jobs = [
            Job(order[s, local], uy[s, local], ux[s, local], flip[s, local] if self.flip else None)
            if self.train
            else Job(order[s, local])  # train=False: center crops, no flips
            for s in range(start_step, order.shape[0])
        ]
        return self._batches(jobs, train=True)

    def eval_batches(
        self, batch_size: int, rank: int = 0, world: int = 1, ten_patch: bool = False
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x, y) over this rank's contiguous shard in dataset order; unreadable images are dropped.

        x: (b, 3, crop, crop) center crops, or with `ten_patch` (b * 10, 3, crop, crop): rows 10i..10i+9
        are image i's `ten_crops`; `ten_patch_from_logits(model(x))` gives both center and 10-patch scores.
        """
        bounds = np.arange(world + 1) * len(self) // world  # exact integer shard edges, as DeviceLoader
        starts = range(bounds[rank], bounds[rank + 1], batch_size)
        jobs = [Job(np.arange(s, min(s + batch_size, bounds[rank + 1])), ten=ten_patch) for s in starts]
        return self._batches(jobs, train=False)

    def _batches(self, jobs: list[Job], train: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Workers read (and with decode="workers" decode and crop) each batch; a background thread makes
        the device batch one step ahead of the caller (prefetch.py): decode, crops, labels, normalization."""
        here = self.decode == "workers"
        reader = DataLoader(
            _Batches(self._encoded, jobs, here, self.resize, self.crop, train, self.max_pixels),
            batch_size=None,  # items are whole batches already
            num_workers=self.num_workers,
            collate_fn=_identity,
            pin_memory=here and self.device.type == "cuda",
        )
        items = zip(jobs, iter(reader), strict=True)  # the workers start here, in the caller's thread
        yield from prefetch(items, lambda item: self._device_batch(*item, train), self.device)

    def _device_batch(self, job: Job, item: tuple, train: bool) -> tuple[torch.Tensor, torch.Tensor] | None:
        """A worker's item -> normalized (x, y) on the device, or None (an evaluation batch with nothing
        readable). Runs in the prefetch thread."""
        if self.decode == "workers":
            x, rows, reasons = item
            x = x.to(self.device, non_blocking=True)
        else:
            flat, sizes, reasons = item
            images = decode_batch(flat, sizes, self.device, reasons, self.max_pixels)
            x, rows = assemble(images, job, self.resize, self.crop, train)
        self._count(job.idx, reasons)
        if not len(rows):
            if train:
                raise DatasetError(
                    f"ImageNet: every image of a training batch is unreadable: {self.unreadable}"
                )
            return None
        y = torch.from_numpy(self.labels[job.idx[rows]])  # (b',) int64
        # Pinned on CUDA: the copy is asynchronous, so the host never waits for the GPU step here.
        y = (
            y.pin_memory().to(self.device, non_blocking=True)
            if self.device.type == "cuda"
            else y.to(self.device)
        )
        return self._normalize(x), y

    def _count(self, idx: np.ndarray, reasons: dict[int, str]) -> None:
        """Record the files seen and the unreadable ones (positions in `idx` -> reason); warn about new
        ones; raise above the budget."""
        self._num_seen += int((~self._seen[idx]).sum())
        self._seen[idx] = True
        new = {int(idx[k]): why for k, why in reasons.items() if not self._bad[idx[k]]}
        if not new:
            return
        self._bad[list(new)] = True
        listed = {self.paths[i]: why for i, why in new.items()}
        self.unreadable += list(listed)
        self.unreadable_reasons.update(listed)
        log.warning("ImageNet: skipped %d unreadable image file(s): %s", len(new), _listing(listed))
        if len(self.unreadable) > max(1.0, MAX_UNREADABLE * self._num_seen):
            first = {p: self.unreadable_reasons[p] for p in self.unreadable[:10]}
            raise DatasetError(
                f"ImageNet: {len(self.unreadable)} of the {self._num_seen} files read so far are unreadable "
                f"(more than {MAX_UNREADABLE:.1%}): {_listing(first)}. {_advice(first.values())}"
            )

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x.float() - self.mean) / self.std).to(self.dtype)  # (B, 3, c, c)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
