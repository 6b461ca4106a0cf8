"""ImageNet batch assembly: decoded images of any sizes -> one batch of uint8 crops, in whole groups.

Images of one decoded shape are stacked and resized together (a group's resize is each image's resize,
bit for bit), and every crop and flip of a group is one gather, driven by index tensors built on the host
and copied to the device in one transfer with the batch's row order. The kernels per batch grow with the
number of distinct shapes, not of images: the per-image loop took about 6 kernels an image (1,675 ops for
a batch of 256). Crop geometry (five/ten crops) lives in data/evaluate.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..evaluate import PATCHES, five_spots, ten_crops


@dataclass
class Job:
    """One rank's batch: image indices plus, for training, the crop fractions and flips."""

    idx: np.ndarray  # (b,) int64
    uy: np.ndarray | None = None  # (b,) float64 in [0, 1); None = center crop
    ux: np.ndarray | None = None
    flip: np.ndarray | None = None  # (b,) bool
    ten: bool = False  # 10-patch crops instead of one


def output_rows(good: np.ndarray, train: bool) -> np.ndarray:
    """rows[i] = the job position whose image and label fill output row i: in training every position, a
    bad one taking the next readable one (static shapes, aligned labels); in evaluation the readable ones."""
    ok = np.flatnonzero(good)
    return ok[np.searchsorted(ok, np.arange(len(good))) % len(ok)] if train else ok


def tv_resize(images: torch.Tensor, size: list[int], antialias: bool = True) -> torch.Tensor:
    """torchvision's resize, imported on first use (importing torchvision costs a process about 1.5 s; only
    ImageNet batches resize: see jpeg.py's decode_jpeg)."""
    from torchvision.transforms.v2.functional import resize

    return resize(images, size, antialias=antialias)


def assemble(
    images: Sequence[torch.Tensor | None], job: Job, resize: int, crop: int, train: bool
) -> tuple[torch.Tensor, np.ndarray]:
    """Decoded (3, H, W) uint8 images (None = unreadable) -> (crops (b', 3, c, c) or (b' * 10, ...), rows
    (b',)); see `output_rows`. Position r's crop uses r's offsets and flip, wherever it is copied."""
    good = np.array([im is not None for im in images], dtype=bool)
    if not good.any():
        return torch.empty(0, 3, crop, crop, dtype=torch.uint8), np.empty(0, np.int64)
    rows = output_rows(good, train)
    groups: dict[tuple[int, ...], list[int]] = {}  # decoded (H, W) -> positions used, ascending
    for r in np.unique(rows).tolist():
        groups.setdefault(tuple(images[r].shape[-2:]), []).append(r)
    resized = [  # (n, 3, H', W') per group: shorter side -> resize (a lone image: a view, no stack copy)
        tv_resize(torch.stack([images[r] for r in members]) if len(members) > 1 else images[members[0]][None],
                  [resize], antialias=True)
        for members in groups.values()
    ]  # fmt: skip
    order = [r for members in groups.values() for r in members]  # positions in the order of the crops made
    per = PATCHES if job.ten else 1
    slot = {r: k for k, r in enumerate(order)}
    perm = (np.array([slot[r] for r in rows])[:, None] * per + np.arange(per)).ravel()
    gathers = not job.ten and (job.uy is not None or job.flip is not None)  # per-image offsets or flips
    arrays = [np.arange(3)] if gathers else []  # the channel index, then per group: image, rows, columns
    for g, members in zip(resized, groups.values(), strict=True):
        arrays += _crop_index(g, members, job, crop) if gathers else []
    identity = np.array_equal(perm, np.arange(len(perm)))  # else the rows are put in order at the end
    index = _to_device(arrays + ([] if identity else [perm]), resized[0].device)
    parts = []
    for k, g in enumerate(resized):
        if job.ten:
            parts.append(ten_crops(g, crop))  # (n * 10, 3, c, c)
        elif gathers:  # one gather: (n, 3, c, c)
            chan, (n_idx, r_idx, c_idx) = index[0], index[1 + 3 * k : 4 + 3 * k]
            parts.append(
                g[
                    n_idx[:, None, None, None],
                    chan[None, :, None, None],
                    r_idx[:, None, :, None],
                    c_idx[:, None, None, :],
                ]
            )
        else:
            y, x = five_spots(*g.shape[-2:], crop)[4]  # the center crop: a view
            parts.append(g[:, :, y : y + crop, x : x + crop])
    x = torch.cat(parts) if len(parts) > 1 else parts[0].contiguous()  # (b' * per, 3, c, c) uint8
    return (x if identity else x[index[-1]]), rows


def _crop_index(group: torch.Tensor, members: list[int], job: Job, crop: int) -> list[np.ndarray]:
    """Host index arrays of one group's crops: image (n,), rows (n, c), columns (n, c); a flipped crop reads
    its columns right to left (the mirror of the crop, as the per-image `c.flip(-1)`)."""
    h, w = group.shape[-2:]
    pos = np.array(members)
    if job.uy is None:  # center crops (flipped or not)
        y0, x0 = five_spots(h, w, crop)[4]
        y, x = np.full(len(pos), y0), np.full(len(pos), x0)
    else:  # float64 fractions in [0, 1): the offset stays inside the free range (int() truncates)
        y, x = (
            (job.uy[pos] * (h - crop + 1)).astype(np.int64),
            (job.ux[pos] * (w - crop + 1)).astype(np.int64),
        )
    steps = np.arange(crop)
    flip = job.flip[pos] if job.flip is not None else np.zeros(len(pos), bool)
    cols = x[:, None] + np.where(flip[:, None], crop - 1 - steps, steps)  # (n, c)
    return [np.arange(len(pos)), y[:, None] + steps, cols]


def _to_device(arrays: list[np.ndarray], device: torch.device) -> list[torch.Tensor]:
    """int64 arrays -> tensors on `device` from one host buffer and one copy (pinned and asynchronous on
    CUDA: the host never waits for the device here)."""
    if not arrays:
        return []
    flat = torch.from_numpy(np.concatenate([a.ravel() for a in arrays]).astype(np.int64))
    if device.type == "cuda":
        flat = flat.pin_memory()
    flat = flat.to(device, non_blocking=True)
    return [t.view(a.shape) for t, a in zip(flat.split([a.size for a in arrays]), arrays, strict=True)]
