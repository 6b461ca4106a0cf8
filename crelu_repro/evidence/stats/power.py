"""How many runs a comparison needs: the power of the t tests behind the verdicts, from the noncentral t.

A verdict of `make claims` is "reproduced" when the 95% interval of left - right excludes 0 on the paper's
side, i.e. a two-sided t test at 5%. With true difference `delta` and per-run spreads `sd_a`, `sd_b`, the
statistic follows a noncentral t with noncentrality delta / se; its power at n runs per side is

    P(|T'| > c) = E_W[ Phi(lambda - c W / sqrt(df)) + Phi(-lambda - c W / sqrt(df)) ],  W^2 ~ chi2(df)

with c the t quantile. The expectation is a one-dimensional integral over W, computed on a grid (no SciPy).
Welch's df is taken at its expected value for equal n (Welch-Satterthwaite with the true spreads).
"""

from __future__ import annotations

import math

import numpy as np

from . import normal_cdf, t_quantile

_GRID = 4001  # points of the integral over W; the integrand is smooth, the error is far below 1e-4


def t_test_power(noncentrality: float, df: float, alpha: float = 0.05) -> float:
    """Power of the two-sided t test at level alpha: P(|T'| > t_{1-alpha/2, df}), T' noncentral t."""
    c = t_quantile(1 - alpha / 2, df)
    w = np.linspace(0.0, math.sqrt(df) + 12.0, _GRID)[1:]  # (GRID - 1,): W = sqrt(chi2(df))
    log_density = (
        (df - 1) * np.log(w) - w**2 / 2 - (df / 2 - 1) * math.log(2) - math.lgamma(df / 2)
    )  # the density of W: w^(df-1) e^(-w^2/2) / (2^(df/2-1) Gamma(df/2))
    scaled = c * w / math.sqrt(df)
    reject = normal_cdf(noncentrality - scaled) + normal_cdf(-noncentrality - scaled)
    return float(np.clip(np.trapezoid(np.exp(log_density) * reject, w), 0.0, 1.0))


def welch_power(delta: float, sd_a: float, sd_b: float, runs: int, alpha: float = 0.05) -> float:
    """Power of the Welch interval to exclude 0 with `runs` per side, for a true difference `delta`."""
    if runs < 2:
        return 0.0  # no interval from one run
    va, vb = sd_a**2, sd_b**2
    if va + vb == 0:
        return 1.0 if delta else alpha
    df = (va + vb) ** 2 * (runs - 1) / (va**2 + vb**2)
    return t_test_power(abs(delta) / math.sqrt((va + vb) / runs), df, alpha)


def paired_power(delta: float, sd_diff: float, pairs: int, alpha: float = 0.05) -> float:
    """Power of the paired interval with `pairs` matched pairs whose differences spread by `sd_diff`."""
    if pairs < 2:
        return 0.0
    if sd_diff == 0:
        return 1.0 if delta else alpha
    return t_test_power(abs(delta) / (sd_diff / math.sqrt(pairs)), pairs - 1, alpha)


def runs_needed(power_at, target: float = 0.8, limit: int = 10_000) -> int | None:
    """The fewest n >= 2 with power_at(n) >= target (power grows with n), or None beyond `limit`."""
    if power_at(limit) < target:
        return None
    low, high = 2, limit
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if power_at(mid) >= target else (mid + 1, high)
    return low


def welch_power_exact(delta: float, sd_a: float, sd_b: float, runs: int, alpha: float = 0.05) -> float:
    """Power of the Welch interval with `runs` per side, averaged over both sample variances (and so over
    the df Welch estimates from them), where `welch_power` fixes the df at its expected value. That
    overstates the power at few runs: with 2 a side the estimated df falls anywhere in [1, 2], whose t
    quantiles are 12.7 and 4.3 (for a difference of 0.81 with spreads 0.11 and 0.09: 0.68, not 0.95).

    Given the sample variances, the difference of the means is normal (independent of them), so the power
    is E[Phi((|delta| - c(df) se) / sigma) + Phi((-|delta| - c(df) se) / sigma)] over two independent
    chi2(runs - 1) draws, computed on a grid; c(df) is interpolated in 1/df between exact t quantiles.
    """
    if runs < 2:
        return 0.0
    va, vb, k = sd_a**2, sd_b**2, runs - 1
    if va + vb == 0:
        return 1.0 if delta else alpha
    w = np.linspace(0.0, math.sqrt(k) + 12.0, 241)[1:]  # (G,): W = sqrt(chi2(k)), as in t_test_power
    p = np.exp((k - 1) * np.log(w) - w**2 / 2 - (k / 2 - 1) * math.log(2) - math.lgamma(k / 2))
    p /= p.sum()  # (G,) probability weights of the grid points
    sa2, sb2 = (va * w**2 / k)[:, None], (vb * w**2 / k)[None, :]  # (G, 1), (1, G): sample variances
    se2 = (sa2 + sb2) / runs  # (G, G)
    df = np.clip(se2**2 * k / ((sa2 / runs) ** 2 + (sb2 / runs) ** 2), k, 2 * k)  # Welch's, in [k, 2k]
    inverse = np.linspace(1 / (2 * k), 1 / k, 17)  # (17,) 1/df: t quantiles are smooth in it
    c = np.interp(1 / df, inverse, [t_quantile(1 - alpha / 2, 1 / x) for x in inverse])  # (G, G)
    sigma, se = math.sqrt((va + vb) / runs), np.sqrt(se2)
    reject = normal_cdf((abs(delta) - c * se) / sigma) + normal_cdf((-abs(delta) - c * se) / sigma)
    return float(np.clip((p[:, None] * p[None, :] * reject).sum(), 0.0, 1.0))
