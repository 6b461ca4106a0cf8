"""Intervals over test images, for Votes: exact binomial tests and their Clopper-Pearson inversions.

A Vote is one prediction per test image, so its uncertainty is that of the test set: had other images
been drawn from the same distribution, the error would differ. These intervals cover that and nothing
else (not training randomness: a Vote already averages over its models).

- Two Votes on the same images (`vote_difference`): only the discordant images (one Vote right, the other
  wrong) carry information about the difference. Conditional on their number n, the count b of images
  where only the left Vote errs is Binomial(n, pi); the error difference is (n / N)(2 pi - 1). The exact
  McNemar test is the binomial test of pi = 1/2, and the interval is the Clopper-Pearson interval for pi,
  mapped to points of error.
- A Vote against a quoted number (`error_vs_reference`): k errors of N images are Binomial(N, e); the
  Clopper-Pearson interval for e, minus the quoted error.
Both report `tails`, so Holm's adjustment (stats.holm) treats them like the t intervals.
"""

from __future__ import annotations

import math

import numpy as np

from . import Difference

_BISECTIONS = 64  # halvings of [0, 1]: far below any printed digit


def _log_choose(n: int) -> np.ndarray:
    """log C(n, k) for k = 0..n, shape (n + 1,)."""
    k = np.arange(1, n + 1, dtype=np.float64)
    return np.concatenate([[0.0], np.cumsum(np.log(n - k + 1) - np.log(k))])


def binom_tails(k: int, n: int, p: float, log_choose: np.ndarray | None = None) -> tuple[float, float]:
    """(P(X >= k), P(X <= k)) for X ~ Binomial(n, p), exact (summed in log space)."""
    if p <= 0.0:
        return float(k <= 0), 1.0
    if p >= 1.0:
        return 1.0, float(k >= n)
    lc = _log_choose(n) if log_choose is None else log_choose
    j = np.arange(n + 1, dtype=np.float64)
    pmf = np.exp(lc + j * math.log(p) + (n - j) * math.log1p(-p))  # (n + 1,)
    return float(min(1.0, pmf[k:].sum())), float(min(1.0, pmf[: k + 1].sum()))


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval for a binomial proportion from k successes in n trials."""
    tail = (1 - confidence) / 2
    lc = _log_choose(n)

    def solve(upper_tail: bool) -> float:
        # P(X >= k; p) grows with p, P(X <= k; p) falls: bisect for the p where the tail equals `tail`.
        low, high = 0.0, 1.0
        for _ in range(_BISECTIONS):
            mid = (low + high) / 2
            above, below = binom_tails(k, n, mid, lc)
            rising = above < tail if upper_tail else below > tail
            low, high = (mid, high) if rising else (low, mid)
        return (low + high) / 2

    return (0.0 if k == 0 else solve(True)), (1.0 if k == n else solve(False))


def vote_difference(wrong_left: np.ndarray, wrong_right: np.ndarray, confidence: float = 0.95) -> Difference:
    """error(left) - error(right) in points over the same N test images (exact McNemar, Clopper-Pearson).

    `wrong_*`: (N,) booleans, whether each Vote misclassified each image. n_a = n_b = N images.
    """
    wrong_left, wrong_right = np.asarray(wrong_left, bool), np.asarray(wrong_right, bool)
    if wrong_left.shape != wrong_right.shape or wrong_left.ndim != 1:
        raise ValueError(
            f"two Votes on the same images needed, got {wrong_left.shape} and {wrong_right.shape}"
        )
    images = len(wrong_left)
    only_left = int(np.sum(wrong_left & ~wrong_right))  # b: discordant, the left Vote errs
    discordant = only_left + int(np.sum(~wrong_left & wrong_right))
    scale = 100.0 * discordant / max(images, 1)  # points of error per unit of (2 pi - 1)
    delta = scale * (2 * only_left / discordant - 1) if discordant else 0.0
    if discordant == 0:
        why = "no discordant images (both Votes are right and wrong on the same images)"
        return Difference(delta, None, None, None, images, images, why, "mcnemar")
    low, high = clopper_pearson(only_left, discordant, confidence)
    lc = _log_choose(discordant)

    def tails(threshold: float) -> tuple[float, float]:
        pi0 = min(1.0, max(0.0, (threshold / scale + 1) / 2))
        return binom_tails(only_left, discordant, pi0, lc)

    return Difference(
        delta, scale * (2 * low - 1), scale * (2 * high - 1), None, images, images, None, "mcnemar", tails
    )


def error_vs_reference(wrong: np.ndarray, reference: float, confidence: float = 0.95) -> Difference:
    """error - reference in points, for one Vote's (N,) per-image mistakes against a quoted error (%)."""
    wrong = np.asarray(wrong, bool)
    errors, images = int(wrong.sum()), len(wrong)
    delta = 100.0 * errors / max(images, 1) - reference
    if images == 0:
        return Difference(delta, None, None, None, 0, 0, "no test images", "binomial")
    low, high = clopper_pearson(errors, images, confidence)
    lc = _log_choose(images)

    def tails(threshold: float) -> tuple[float, float]:
        return binom_tails(errors, images, min(1.0, max(0.0, (reference + threshold) / 100)), lc)

    return Difference(
        delta, 100 * low - reference, 100 * high - reference, None, images, 0, None, "binomial", tails
    )
