"""The evaluation loops: top-1 error and softmax scores over a split, and ImageNet's single-crop + 10-patch
test with top-k errors. The statistics over finished runs (Vote, Welch) live in `stats.py`; `vote` is
re-exported here because `crelu_repro.evaluate.vote` is part of the documented API.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .data.crops import ten_crops
from .stats import error_rate, vote

__all__ = [
    "evaluate", "evaluate_ten_patch", "ten_patch_from_logits", "ten_patch_scores", "topk_errors", "vote",
]  # fmt: skip


def ten_patch_from_logits(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N * 10, classes) logits of `ten_crops` -> (center softmax, mean of the 10), each (N, classes)."""
    probs = logits.float().softmax(-1).unflatten(0, (-1, 10))  # (N, 10, classes)
    return probs[:, 4], probs.mean(1)


def ten_patch_scores(model: torch.nn.Module, images: torch.Tensor, crop: int = 224) -> torch.Tensor:
    """(N, 3, H, W) resized, normalized images -> (N, classes): softmax averaged over the 10 patches."""
    return ten_patch_from_logits(model(ten_crops(images, crop)))[1]


def topk_errors(scores: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """{k: % of rows whose label is not among the k highest scores}; k is capped at the class count."""
    ranked = scores.topk(min(max(ks), scores.shape[-1]), -1).indices  # (N, kmax)
    hit = ranked == labels.view(-1, 1).to(ranked.device)
    return {k: 100.0 * (1.0 - hit[:, :k].any(1).double().mean().item()) for k in ks}


def _gathered(parts: list[torch.Tensor], rt) -> torch.Tensor:
    from .distributed import gather_rows

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
def evaluate_ten_patch(
    model: torch.nn.Module, loader, batch_size: int, rt
) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """ImageNet test: {test_error, test_error_top5, test_error_10patch, test_error_top5_10patch} (%), the
    center-crop scores (N, classes) and the labels (N,), from one pass over the 10 crops of each image."""
    model.eval()
    center, ten, labels = [], [], []
    for x, y in loader.eval_batches(batch_size, rt.dist.rank, rt.dist.world, ten_patch=True):
        with rt.autocast():
            logits = model(x)  # (B * 10, classes)
        c, t = ten_patch_from_logits(logits)
        center.append(c)
        ten.append(t)
        labels.append(y)
    center, ten, labels = (_gathered(p, rt).cpu() for p in (center, ten, labels))
    single, patched = topk_errors(center, labels), topk_errors(ten, labels)
    errors = {
        "test_error": single[1],
        "test_error_top5": single[5],
        "test_error_10patch": patched[1],
        "test_error_top5_10patch": patched[5],
    }
    return errors, center, labels
