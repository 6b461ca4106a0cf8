"""The statistics behind the paper's protocols: intervals for a difference. (Error rates and the Vote
itself are the evaluation protocol: crelu_repro/data/evaluate.py.)

Intervals over runs (this module): Welch (two independent sets of runs), paired (runs matched by seed and
fold, so each pair shares its training data and order), one-sample (runs against a fixed number). They
cover training randomness and the choice of fold on a fixed test set, not the sampling of the test set.
Intervals over test images: `stats.exact` (Votes). Family-wise control: `holm`. Planning: `stats.power`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Difference:
    """mean(a) - mean(b), with a 95% Welch interval when the data can support one.

    `low`/`high` are None (and the difference is never significant) when a side has fewer than 2 values or
    both sides have zero spread: an interval from such data would claim a certainty it does not have.
    `why_no_interval` then says which.
    """

    delta: float
    low: float | None
    high: float | None
    df: float | None
    n_a: int
    n_b: int  # 0 for a fixed reference (reference_difference)
    why_no_interval: str | None = None
    method: str = "welch"  # welch | paired | one-sample (runs); tango | binomial (test images)
    # tails(t) -> (p_above, p_below): one-sided p-values against "the true difference is at most t" and
    # "at least t". The interval is their inversion: low > t exactly when 2 * p_above < 1 - confidence.
    tails: Callable[[float], tuple[float, float]] | None = field(default=None, compare=False, repr=False)

    @property
    def significant(self) -> bool:
        return self.low is not None and (self.low > 0 or self.high < 0)

    def p_value(self, threshold: float = 0.0) -> float | None:
        """Two-sided p-value against "the true difference is `threshold`" (None without an interval)."""
        if self.tails is None or self.low is None:
            return None
        return min(1.0, 2 * min(self.tails(threshold)))

    @property
    def interval(self) -> tuple[float, float] | None:
        return None if self.low is None else (self.low, self.high)


def welch_difference(a: list[float], b: list[float], confidence: float = 0.95) -> Difference | None:
    """mean(a) - mean(b) with Welch's t interval; None only when a side is empty."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        return None
    delta = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return Difference(delta, None, None, None, len(a), len(b), "fewer than 2 runs on a side")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Difference(delta, None, None, None, len(a), len(b), "zero spread on both sides")
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return _t_difference(delta, se, float(df), len(a), len(b), "welch", confidence)


def paired_difference(a: list[float], b: list[float], confidence: float = 0.95) -> Difference | None:
    """mean(a - b) over matched pairs (a[i] and b[i] share a seed and fold) with the paired t interval
    (n - 1 df). Fold-to-fold spread that both sides share cancels in a - b. None when there are no pairs;
    no interval from fewer than 2 pairs or differences without spread."""
    if len(a) != len(b):
        raise ValueError(f"paired_difference needs matched pairs, got {len(a)} and {len(b)} values")
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if len(d) == 0:
        return None
    delta, n = float(d.mean()), len(d)
    if n < 2:
        return Difference(delta, None, None, None, n, n, "fewer than 2 pairs", "paired")
    se = math.sqrt(d.var(ddof=1) / n)
    if se == 0:
        return Difference(delta, None, None, None, n, n, "the pairs' differences have zero spread", "paired")
    return _t_difference(delta, se, float(n - 1), n, n, "paired", confidence)


def _t_difference(
    delta: float, se: float, df: float, n_a: int, n_b: int, method: str, confidence: float
) -> Difference:
    """A t-based Difference: the interval delta ± t(df) se and its one-sided p-values."""
    half = t_quantile(0.5 + confidence / 2, df) * se

    def tails(threshold: float) -> tuple[float, float]:
        below = _t_cdf((delta - threshold) / se, df)
        return 1 - below, below

    return Difference(delta, delta - half, delta + half, df, n_a, n_b, None, method, tails)


def reference_difference(a: list[float], reference: float, confidence: float = 0.95) -> Difference | None:
    """mean(a) - reference, for a fixed number (a quoted result, a threshold), with a one-sample t interval.

    This is Welch's interval with no spread on the reference's side (df = n - 1). None when `a` is empty;
    no interval from fewer than 2 values or zero spread, for the reasons `welch_difference` gives.
    """
    a = np.asarray(a, dtype=np.float64)
    if len(a) == 0:
        return None
    delta = float(a.mean() - reference)
    if len(a) < 2:
        return Difference(delta, None, None, None, len(a), 0, "fewer than 2 values", "one-sample")
    se = math.sqrt(a.var(ddof=1) / len(a))
    if se == 0:
        return Difference(delta, None, None, None, len(a), 0, "zero spread", "one-sample")
    return _t_difference(delta, se, float(len(a) - 1), len(a), 0, "one-sample", confidence)


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values for one family (None: no test, not counted in the family).

    Sorted ascending, the i-th smallest (0-based) of m becomes max over j <= i of min(1, (m - j) p_(j)); a
    hypothesis is rejected at level alpha when its adjusted p-value is at most alpha. This controls the
    chance of any false rejection in the family at alpha, whatever the dependence between the tests.
    """
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted


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


_erfc = np.frompyfunc(math.erfc, 1, 1)  # elementwise math.erfc: no SciPy


def normal_cdf(x: np.ndarray | float) -> np.ndarray:
    """The standard normal CDF, elementwise; a 0-d array for a number."""
    return 0.5 * np.asarray(_erfc(np.negative(x) / math.sqrt(2)), dtype=np.float64)


def normal_quantile(p: float) -> float:
    """The p-quantile of the standard normal (bisection on the CDF)."""
    low, high = -40.0, 40.0
    for _ in range(100):  # 80 / 2^100: far below a double's spacing
        mid = (low + high) / 2
        low, high = (mid, high) if normal_cdf(mid) < p else (low, mid)
    return (low + high) / 2


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df degrees of freedom (bisection on the CDF; no SciPy needed)."""
    low, high = -1e3, 1e3
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if _t_cdf(mid, df) < p else (low, mid)
    return (low + high) / 2
