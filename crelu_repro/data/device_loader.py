"""Batches from a split held on the training device as uint8, augmented there in whole batches.

As in airbench: no per-image Python and no host->device copy in the hot loop. Each epoch's order and
augmentation parameters are drawn from a generator seeded by (seed, epoch), for the *global* batch, and
each rank takes its slice: N processes see exactly the batches one process would, and a resumed run
replays an epoch exactly from any step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class EpochPlan:
    order: torch.Tensor  # (steps, global_batch) int64 image indices
    dy: torch.Tensor  # (steps, global_batch) crop offsets in [0, 2 * pad]
    dx: torch.Tensor
    flip: torch.Tensor  # (steps, global_batch) bool


class DeviceLoader:
    """One split on `device`: `train_epoch` yields augmented batches, `eval_batches` plain ones."""

    def __init__(
        self,
        images: np.ndarray,  # (N, 3, H, W) uint8
        labels: np.ndarray,  # (N,) int64
        mean: torch.Tensor,  # (3,) in pixel units: the training split's per-channel statistics
        std: torch.Tensor,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        crop_padding: int = 0,
        flip: bool = False,
    ) -> None:
        self.device, self.dtype, self.channels_last = device, dtype, channels_last
        self.pad, self.flip = crop_padding, flip
        self.images = torch.from_numpy(np.ascontiguousarray(images)).to(device)  # (N, 3, H, W) uint8
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)  # (N,)
        self.mean = mean.to(device, torch.float32).view(1, 3, 1, 1)
        self.std = std.to(device, torch.float32).view(1, 3, 1, 1)
        # Pad once and keep the mirror image beside it, both viewed as W-long runs: a random crop, flipped
        # or not, is then a single gather (a flipped crop is a crop of the mirror at column 2p - dx).
        padded = torch.nn.functional.pad(self.images, (self.pad,) * 4)  # (N, 3, H+2p, W+2p)
        w = self.images.shape[-1]
        self.runs = torch.stack([padded, padded.flip(-1)]).unfold(-1, w, 1)  # (2, N, 3, H+2p, 2p+1, W) view
        self._rows = torch.arange(self.images.shape[-2], device=device)  # (H,)
        self._chan = torch.arange(3, device=device)  # (3,)

    def __len__(self) -> int:
        return self.labels.numel()

    def steps_per_epoch(self, global_batch: int) -> int:
        return len(self) // global_batch  # drop_last: static shapes for torch.compile / CUDA graphs

    def plan(self, global_batch: int, seed: int, epoch: int) -> EpochPlan:
        """The epoch's order, crop offsets and flips, each (steps, global_batch), on this loader's device.

        Drawn on the CPU from (seed, epoch) whatever the device, then copied in one transfer: a checkpoint
        written on one device and resumed mid-epoch on another replays the same batches (a CUDA generator
        draws a different stream from the same seed)."""
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        steps = self.steps_per_epoch(global_batch)
        shape = (steps, global_batch)
        order = torch.randperm(len(self), generator=gen)[: steps * global_batch].view(shape)
        offsets = torch.randint(0, 2 * self.pad + 1, (2, *shape), generator=gen)
        flip = torch.rand(shape, generator=gen) < 0.5
        packed = torch.stack([order, offsets[0], offsets[1], flip.long()])  # (4, steps, global_batch) int64
        if self.device.type == "cuda":  # pinned: the one copy per epoch does not stall the host
            packed = packed.pin_memory()
        order, dy, dx, flip = packed.to(self.device, non_blocking=True).unbind(0)
        return EpochPlan(order, dy, dx, flip.bool())

    def train_epoch(
        self, global_batch: int, seed: int, epoch: int, rank: int = 0, world: int = 1, start_step: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Augmented (x, y) for this rank, from `start_step` on. x: (B/world, 3, H, W) normalized."""
        plan = self.plan(global_batch, seed, epoch)
        local = slice(rank * global_batch // world, (rank + 1) * global_batch // world)
        flips = plan.flip & self.flip  # (steps, global_batch)
        cols = torch.where(flips, 2 * self.pad - plan.dx, plan.dx)  # column of the crop in its source image
        for step in range(start_step, plan.order.shape[0]):
            idx, flip = plan.order[step, local], flips[step, local]  # (B,)
            rows = (plan.dy[step, local, None] + self._rows)[:, None, :]  # (B, 1, H)
            col = cols[step, local, None, None]  # (B, 1, 1)
            x = self.runs[flip.long()[:, None, None], idx[:, None, None], self._chan[:, None], rows, col]
            yield self._normalize(x), self.labels[idx]  # x: (B, 3, H, W) uint8 before normalizing

    def eval_batches(
        self, batch_size: int, rank: int = 0, world: int = 1
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Plain (x, y) over this rank's contiguous shard, in dataset order (shards may differ by one)."""
        bounds = np.arange(world + 1) * len(self) // world  # exact integer shard edges
        for start in range(bounds[rank], bounds[rank + 1], batch_size):
            stop = min(start + batch_size, bounds[rank + 1])
            yield self._normalize(self.images[start:stop]), self.labels[start:stop]

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().sub_(self.mean).div_(self.std).to(self.dtype)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


def channel_stats(images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std (pixel units) of a (N, 3, H, W) uint8 split, in float64 for accuracy."""
    stats = [(c.mean(dtype=np.float64), c.std(dtype=np.float64)) for c in np.moveaxis(images, 1, 0)]
    mean, std = zip(*stats, strict=True)
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
