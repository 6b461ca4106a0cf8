"""The paper's evaluation protocols: Average ± std over models, Vote, a Welch interval for differences,
and ImageNet's 10-patch test with top-k errors.

Vote: each model votes for its top-1 class; the plurality wins; a tie is broken by the summed softmax
scores of the models (restricted to the tied classes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


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


@dataclass(frozen=True)
class Difference:
    """mean(a) - mean(b) with a 95% Welch interval."""

    delta: float
    low: float
    high: float
    df: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


def welch_difference(a: list[float], b: list[float], confidence: float = 0.95) -> Difference | None:
    """Welch's t interval for mean(a) - mean(b); None when either side has fewer than 2 values."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    delta = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return Difference(delta, delta, delta, float("inf"))
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile(0.5 + confidence / 2, df) * se
    return Difference(delta, delta - half, delta + half, float(df))


def _t_cdf(t: float, df: float) -> float:
    """Student t CDF through the regularized incomplete beta function (continued fraction)."""
    x = df / (df + t * t)
    tail = 0.5 * _betainc(df / 2, 0.5, x)
    return 1 - tail if t > 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """I_x(a, b) by Lentz's continued fraction (Numerical Recipes 6.4)."""
    if x <= 0 or x >= 1:
        return float(x >= 1)
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast only below this point: use symmetry
        return 1 - _betainc(b, a, 1 - x)
    tiny, c, d = 1e-300, 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1) < 1e-12:
            break
    return front * f / a


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df degrees of freedom (bisection on the CDF; no SciPy needed)."""
    low, high = -1e3, 1e3
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if _t_cdf(mid, df) < p else (low, mid)
    return (low + high) / 2


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
    return torch.stack(views, 1).flatten(0, 1)  # (N, 10, C, crop, crop) -> (N * 10, ...)


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
