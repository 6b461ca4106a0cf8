"""Intervals over test images, for Votes: Tango's score interval for two Votes, exact binomial for one.

A Vote is one prediction per test image, so its uncertainty is that of the test set: had other images
been drawn from the same distribution, the error would differ. These intervals cover that and nothing
else (not training randomness: a Vote already averages over its models).

- Two Votes on the same N images (`vote_difference`): the error difference is p12 - p21, the shares of
  images where only the left or only the right Vote errs. Tango's score interval (Tango 1998, Stat Med
  17:891) is unconditional: it treats the four cells as multinomial over N images, so the number of
  discordant images is random too. Conditioning on it (exact McNemar with Clopper-Pearson) under-covers
  when discordant images are few or one-sided (0.48 at p12 = 0.15%, p21 = 0 and N = 10,000), and its
  p-value could disagree with its interval at a margin. Here the interval and the p-values come from one
  statistic, so they agree at every threshold.
- A Vote against a quoted number (`error_vs_reference`): k errors of N images are Binomial(N, e); the
  Clopper-Pearson interval for e, minus the quoted error.
Both report `tails`, so Holm's adjustment (stats.holm) treats them like the t intervals.
"""

from __future__ import annotations

import math

import numpy as np

from . import Difference, normal_cdf, normal_quantile

_BISECTIONS = 64  # halvings of a bracket in [-1, 1]: down to a double's spacing, far below any printed digit


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


def tango_z(
    only_left: np.ndarray, only_right: np.ndarray, images: np.ndarray, delta: np.ndarray
) -> np.ndarray:
    """Tango's score statistic for "p12 - p21 = delta" (proportions in [-1, 1]), elementwise.

    With b = only_left, c = only_right of N images (Tango 1998, Stat Med 17:891):
        Z = (b - c - N delta) / sqrt(N (2 q + delta (1 - delta))),
    q the maximum-likelihood p21 restricted to p12 - p21 = delta: the larger root of 2N q^2 + B q + C = 0,
    B = -b - c + (2N - b + c) delta, C = -c delta (1 - delta). At delta = 0 this is McNemar's
    (b - c) / sqrt(b + c). Z falls as delta rises, so the deltas it does not reject form an interval.
    """
    b, c, n, d = np.broadcast_arrays(
        *(np.asarray(x, np.float64) for x in (only_left, only_right, images, delta))
    )
    big_b = -b - c + (2 * n - b + c) * d
    q = (np.sqrt(np.maximum(big_b**2 + 8 * n * c * d * (1 - d), 0.0)) - big_b) / (4 * n)
    excess = b - c - n * d
    with np.errstate(divide="ignore", invalid="ignore"):  # no variance left at delta = +-1 or a 0-0 table
        z = excess / np.sqrt(np.maximum(n * (2 * q + d * (1 - d)), 0.0))
    return np.where(excess == 0, 0.0, z)  # the data sit exactly at delta: no evidence either way


def tango_interval(
    only_left: np.ndarray, only_right: np.ndarray, images: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Tango's interval for p12 - p21 (proportions): the deltas where |Z| <= the normal quantile.

    Elementwise over many tables at once (the coverage simulation needs thousands). Z falls with delta, so
    each end is one bisection, on [-1, estimate] and [estimate, 1]; the ends returned are the inner points
    of the last bracket, where |Z| <= z still holds, so the interval holds exactly the deltas its p keeps.
    """
    z = normal_quantile(0.5 + confidence / 2)
    b, c, n = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (only_left, only_right, images)))
    estimate = (b - c) / n
    low_out, low_in = np.full(b.shape, -1.0), estimate.copy()  # the low end lies between the two
    high_in, high_out = estimate.copy(), np.full(b.shape, 1.0)
    for _ in range(_BISECTIONS):
        mid = (low_out + low_in) / 2
        past = tango_z(b, c, n, mid) > z  # delta = mid is rejected: too low
        low_out, low_in = np.where(past, mid, low_out), np.where(past, low_in, mid)
        mid = (high_in + high_out) / 2
        past = tango_z(b, c, n, mid) < -z  # too high
        high_in, high_out = np.where(past, high_in, mid), np.where(past, mid, high_out)
    return low_in, high_in


def vote_difference(wrong_left: np.ndarray, wrong_right: np.ndarray, confidence: float = 0.95) -> Difference:
    """error(left) - error(right) in points over the same N test images: Tango's score interval and test.

    `wrong_*`: (N,) booleans, whether each Vote misclassified each image. n_a = n_b = N images. No
    discordant image still gives an interval (about +-z^2 / N): N agreeing images bound the difference.
    """
    wrong_left, wrong_right = np.asarray(wrong_left, bool), np.asarray(wrong_right, bool)
    if wrong_left.shape != wrong_right.shape or wrong_left.ndim != 1:
        raise ValueError(
            f"two Votes on the same images needed, got {wrong_left.shape} and {wrong_right.shape}"
        )
    images = len(wrong_left)
    only_left = int(np.sum(wrong_left & ~wrong_right))  # b: the left Vote errs alone
    only_right = int(np.sum(~wrong_left & wrong_right))  # c
    if images == 0:
        return Difference(0.0, None, None, None, 0, 0, "no test images", "tango")
    low, high = tango_interval(only_left, only_right, images, confidence)

    def tails(threshold: float) -> tuple[float, float]:
        delta = threshold / 100  # points -> a difference of proportions
        if abs(delta) > 1:  # beyond what two error rates can differ by: the side past it is impossible
            return (1.0, 0.0) if delta > 1 else (0.0, 1.0)
        z = float(tango_z(only_left, only_right, images, delta))
        return float(normal_cdf(-z)), float(normal_cdf(z))  # Phi(-z), not 1 - Phi(z): small tails exact

    delta = 100.0 * (only_left - only_right) / images
    return Difference(delta, 100 * float(low), 100 * float(high), None, images, images, None, "tango", tails)


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
