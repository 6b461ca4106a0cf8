"""The evaluation protocols: the Vote of several models, top-1 error and softmax scores over a split, and
ImageNet's single-crop + 10-patch test with top-k errors (each plug-in names its own test: DatasetEntry).
Each loop keeps only what its figures need: `top1_error` one flag per image (a 1.28M-image training pass
would otherwise hold 1.28M x 1000 scores, 5 GB), the ImageNet test its per-image top-k hits and the
center-crop scores that `test_scores.npy` stores. `vote` and `ten_patch_scores` are the documented API
(`from crelu_repro import vote, ten_patch_scores`); the intervals over finished runs are evidence/stats/.

Vote: each model votes for its top-1 class; the plurality wins; a tie is broken by the summed softmax
scores of the models (restricted to the tied classes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..core.results import TEST_ERRORS

__all__ = [
    "evaluate", "evaluate_ten_patch", "hit_errors", "single_crop", "ten_patch_from_logits",
    "ten_patch_scores", "top1_error", "topk_errors", "topk_hits", "vote", "vote_error", "error_rate",
]  # fmt: skip


# Crop geometry shared by the ImageNet loader and the 10-patch test: torchvision's five/ten crops.
PATCHES = 10  # crops per image in the 10-patch test: TenCrop's four corners and center, and mirrors


def five_spots(h: int, w: int, crop: int) -> tuple[tuple[int, int], ...]:
    """Top-left corners of torchvision's five_crop: four corners, then the center (its rounding)."""
    center = (int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0)))
    return (0, 0), (0, w - crop), (h - crop, 0), (h - crop, w - crop), center


def ten_crops(images: torch.Tensor, crop: int = 224) -> torch.Tensor:
    """(N, C, H, W) -> (N * 10, C, crop, crop): per image, TenCrop's order (corners, center, mirrored)."""
    spots = five_spots(*images.shape[-2:], crop)
    # Mirrored crops are taken from the mirrored image, as TenCrop does (not the mirror of each crop:
    # they differ for the center crop when W - crop is odd).
    views = [im[..., y : y + crop, x : x + crop] for im in (images, images.flip(-1)) for y, x in spots]
    return torch.stack(views, 1).flatten(0, 1)  # (N, PATCHES, C, crop, crop) -> (N * 10, ...)


def vote(scores: np.ndarray) -> np.ndarray:
    """(models, N, classes) softmax scores -> (N,) labels: plurality of top-1 votes, ties by summed scores."""
    scores = np.asarray(scores, dtype=np.float64)
    models, n, classes = scores.shape
    picks = scores.argmax(-1)  # (models, N)
    counts = np.zeros((n, classes), dtype=np.int64)
    np.add.at(counts, (np.broadcast_to(np.arange(n), picks.shape), picks), 1)  # (N, classes)
    tied = counts == counts.max(-1, keepdims=True)  # (N, classes): the classes with the most votes
    return np.where(tied, scores.sum(0), -np.inf).argmax(-1)


def error_rate(labels_pred: np.ndarray, labels_true: np.ndarray) -> float:
    """Top-1 error in percent."""
    return float(100.0 * np.mean(np.asarray(labels_pred) != np.asarray(labels_true)))


def vote_error(scores: np.ndarray, labels: np.ndarray) -> float:
    return error_rate(vote(scores), labels)


def ten_patch_from_logits(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N * 10, classes) logits of `ten_crops` -> (center softmax, mean of the 10), each (N, classes)."""
    probs = logits.float().softmax(-1).unflatten(0, (-1, PATCHES))  # (N, 10, classes)
    return probs[:, 4], probs.mean(1)


def ten_patch_scores(model: torch.nn.Module, images: torch.Tensor, crop: int = 224) -> torch.Tensor:
    """(N, 3, H, W) resized, normalized images -> (N, classes): softmax averaged over the 10 patches."""
    return ten_patch_from_logits(model(ten_crops(images, crop)))[1]


def topk_hits(scores: torch.Tensor, labels: torch.Tensor, kmax: int = 5) -> torch.Tensor:
    """(N, classes) scores -> (N, min(kmax, classes)) bool: column j says whether the label ranks j-th."""
    ranked = scores.topk(min(kmax, scores.shape[-1]), -1).indices  # (N, k)
    return ranked == labels.view(-1, 1).to(ranked.device)


def hit_errors(hits: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """{k: % of rows with no hit among their first k columns} from `topk_hits`."""
    return {k: 100.0 * (1.0 - hits[:, :k].any(1).double().mean().item()) for k in ks}


def topk_errors(scores: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """{k: % of rows whose label is not among the k highest scores}; k is capped at the class count."""
    return hit_errors(topk_hits(scores, labels, max(ks)), ks)


def _gathered(parts: list[torch.Tensor], rt) -> torch.Tensor:
    from ..core.distributed import gather_rows

    return gather_rows(torch.cat(parts), rt.dist)


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader, batch_size: int, rt) -> tuple[float, torch.Tensor, torch.Tensor]:
    """(top-1 error %, softmax scores (N, classes) float32 on the CPU, labels (N,)) in dataset order, on
    every rank. `loader` is a DeviceLoader or ImageNetLoader (center crops); `rt` a trainer Runtime."""
    model.eval()
    probs, labels = [], []
    for x, y in loader.eval_batches(batch_size, rt.dist.rank, rt.dist.world):
        with rt.autocast():
            logits = model(x)  # (B, classes)
        probs.append(logits.float().softmax(1))
        labels.append(y)
    probs, labels = _gathered(probs, rt), _gathered(labels, rt)
    return error_rate(probs.argmax(1).cpu(), labels.cpu()), probs.cpu(), labels.cpu()


@torch.no_grad()
def single_crop(
    model: torch.nn.Module, loader, batch_size: int, rt
) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """CIFAR's test: the top-1 error of the whole images, as {test_error}; with the scores and labels."""
    error, scores, labels = evaluate(model, loader, batch_size, rt)
    return {"test_error": error}, scores, labels


def top1_error(model: torch.nn.Module, loader, batch_size: int, rt) -> float:
    """Top-1 error % over a split (center crops), on every rank, keeping one correctness flag per image."""
    model.eval()
    right = []
    for x, y in loader.eval_batches(batch_size, rt.dist.rank, rt.dist.world):
        with rt.autocast():
            logits = model(x)  # (B, classes)
        right.append((logits.float().argmax(1) == y).to(torch.uint8))  # (B,)
    return 100.0 * (1.0 - _gathered(right, rt).double().mean().item())


@torch.no_grad()
def evaluate_ten_patch(
    model: torch.nn.Module, loader, batch_size: int, rt
) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """ImageNet test: the top-1 and top-5 errors (%) of the center crop and of 10 patches, under their Result
    fields (results.TEST_ERRORS); the center-crop scores (N, classes) in float16 (the precision of
    test_scores.npy) and the labels (N,), from one pass over the 10 crops of each image. `batch_size` counts
    model inputs: a batch holds the crops of batch_size // 10 images, so trainer.eval_batch_size means the
    same memory for every dataset."""
    model.eval()
    center, hits, labels = [], [], []
    images = max(1, batch_size // PATCHES)
    for x, y in loader.eval_batches(images, rt.dist.rank, rt.dist.world, ten_patch=True):
        with rt.autocast():
            logits = model(x)  # (b * 10, classes)
        c, t = ten_patch_from_logits(logits)  # (b, classes) each
        center.append(c.half())
        hits.append(torch.cat([topk_hits(c, y), topk_hits(t, y)], 1).to(torch.uint8))  # (b, 2k)
        labels.append(y)
    center, hits, labels = (_gathered(p, rt).cpu() for p in (center, hits, labels))
    k = hits.shape[1] // 2
    single, patched = hit_errors(hits[:, :k].bool()), hit_errors(hits[:, k:].bool())
    errors = {key: (patched if ten_patch else single)[top] for (top, ten_patch), key in TEST_ERRORS.items()}
    return errors, center, labels
