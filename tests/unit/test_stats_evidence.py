"""Paired intervals, test-set intervals for Votes, Holm's adjustment and the power behind `make plan`."""

import math

import numpy as np
import pytest

from crelu_repro.evidence.claims.verdict import INCONCLUSIVE, REPRODUCED, holm_verdict, p_value, verdict_of
from crelu_repro.evidence.stats import holm, paired_difference, t_quantile, welch_difference
from crelu_repro.evidence.stats.exact import (
    binom_tails,
    clopper_pearson,
    error_vs_reference,
    tango_interval,
    vote_difference,
)
from crelu_repro.evidence.stats.power import paired_power, runs_needed, welch_power


def _fold_offset_runs(rng: np.random.Generator, folds: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Fold offsets of +-2 points shared by both rows; left is 0.5 better on every fold (noise 0.05)."""
    offsets = rng.uniform(-2, 2, folds)
    right = 10 + offsets + rng.normal(0, 0.05, folds)
    return right - 0.5 + rng.normal(0, 0.05, folds), right


def test_pairing_finds_a_difference_that_fold_spread_hides_from_welch():
    left, right = _fold_offset_runs(np.random.default_rng(0))
    welch, paired = welch_difference(left, right), paired_difference(left, right)
    assert welch.low < 0 < welch.high  # the folds' spread swamps 0.5 points
    assert paired.high < 0 and paired.method == "paired" and (paired.n_a, paired.n_b) == (10, 10)
    assert paired.delta == pytest.approx(np.mean(left - right))
    half = t_quantile(0.975, 9) * np.std(left - right, ddof=1) / math.sqrt(10)
    assert (paired.low, paired.high) == (
        pytest.approx(paired.delta - half),
        pytest.approx(paired.delta + half),
    )


def test_paired_needs_two_pairs_with_spread_and_matched_lengths():
    assert paired_difference([], []) is None
    assert paired_difference([1.0], [2.0]).why_no_interval == "fewer than 2 pairs"
    assert paired_difference([1.0, 2.0], [0.5, 1.5]).interval is None  # identical differences
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


def test_p_values_invert_the_intervals():
    d = welch_difference([10.1, 10.3, 10.2, 10.25], [9.3, 9.5, 9.4, 9.35])
    assert d.p_value(0.0) < 0.05  # the interval excludes 0
    assert d.p_value(d.low) == pytest.approx(0.05, abs=1e-6)  # and its ends are where p = 5%
    assert d.p_value(d.high) == pytest.approx(0.05, abs=1e-6)
    assert welch_difference([1.0], [2.0, 3.0]).p_value() is None


def test_clopper_pearson_matches_closed_forms():
    # k = 0: upper = 1 - (alpha/2)^(1/n); k = n: lower = (alpha/2)^(1/n).
    assert clopper_pearson(0, 10) == (0.0, pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-12))
    assert clopper_pearson(10, 10) == (pytest.approx(0.025 ** (1 / 10), abs=1e-12), 1.0)
    low, high = clopper_pearson(3, 10)
    assert binom_tails(3, 10, low)[0] == pytest.approx(0.025, abs=1e-9)  # P(X >= 3; low)
    assert binom_tails(3, 10, high)[1] == pytest.approx(0.025, abs=1e-9)  # P(X <= 3; high)


def _votes(only_left: int, only_right: int, both: int, images: int = 10_000) -> tuple[np.ndarray, ...]:
    wrong_left, wrong_right = np.zeros(images, bool), np.zeros(images, bool)
    wrong_left[:only_left] = True
    wrong_right[only_left : only_left + only_right] = True
    wrong_left[images - both :] = wrong_right[images - both :] = True
    return wrong_left, wrong_right


Z = 1.959963984540054  # the normal 97.5% quantile


def test_votes_with_many_discordant_images_get_a_verdict_and_few_do_not():
    many = vote_difference(*_votes(60, 150, 800))
    assert many.delta == pytest.approx(100 * (60 - 150) / 10_000) and many.high < 0
    assert many.method == "tango" and many.n_a == 10_000
    few = vote_difference(*_votes(1, 4, 800))
    assert few.delta < 0 and few.low < 0 < few.high
    # At 0, Tango's statistic is McNemar's (b - c) / sqrt(b + c) = -3 / sqrt(5); p = erfc(|z| / sqrt(2)).
    assert few.p_value() == pytest.approx(math.erfc(3 / math.sqrt(5) / math.sqrt(2)))


def _wilson_upper(k: int, n: int) -> float:
    """Wilson's score upper bound for k of n."""
    return (k + Z * Z / 2 + Z * math.sqrt(k * (n - k) / n + Z * Z / 4)) / (n + Z * Z)


def test_the_vote_interval_matches_closed_forms_at_its_edges():
    # No image discordant the right way: the restricted p21 is 0 above b / (2N - b), so the upper end is
    # Wilson's for b of N.
    one_way = vote_difference(*_votes(15, 0, 800))
    assert one_way.high == pytest.approx(100 * _wilson_upper(15, 10_000), rel=1e-9)
    # All discordant one way: p21 = (1 - d) / 2, Z^2 = N (1 - d) / (1 + d): low = (N - z^2) / (N + z^2).
    every = vote_difference(np.ones(20, bool), np.zeros(20, bool))
    assert (every.low, every.high) == (pytest.approx(100 * (20 - Z * Z) / (20 + Z * Z)), 100.0)
    # No discordant image: Z^2 = N |d| / (1 - |d|), so N agreeing images bound it at +-z^2 / (N + z^2).
    same = vote_difference(*_votes(0, 0, 800))
    half = 100 * Z * Z / (10_000 + Z * Z)
    assert same.interval == (pytest.approx(-half), pytest.approx(half)) and same.p_value() == 1.0
    assert vote_difference(np.zeros(0, bool), np.zeros(0, bool)).why_no_interval == "no test images"


@pytest.mark.parametrize(
    "p12, p21", [(0.02, 0.015), (0.03, 0.03), (0.002, 0.0005), (0.005, 0.001), (0.0015, 0.0)]
)
def test_the_vote_interval_covers_its_95_percent(p12, p21):
    """Issue 28's settings at N = 10,000 images, where exact McNemar (conditional on the discordant images)
    covered 0.954, 0.955, 0.888, 0.875 and 0.48. 10,000 simulated tables: a standard error of 0.002."""
    cells = np.random.default_rng(28).multinomial(10_000, [p12, p21, 1 - p12 - p21], size=10_000)
    low, high = tango_interval(cells[:, 0], cells[:, 1], 10_000)
    coverage = np.mean((low <= p12 - p21) & (p12 - p21 <= high))
    assert 0.93 <= coverage <= 0.97  # and not bought by needless width


def test_the_fifteen_image_example_is_decided_alike_by_interval_and_p():
    """Issue 28: the left Vote errs alone on 15 of 10,000 images, the right never alone; "not worse" at
    0.2 points. McNemar's conditional interval (0.085, 0.15) said reproduced, its p-value (1.0) not."""
    d = vote_difference(*_votes(15, 0, 800))
    for margin, expected in [(0.2, INCONCLUSIVE), (0.3, REPRODUCED)]:  # the upper end is 0.247
        raw = verdict_of(d, "<", "not_worse", margin)[0]
        adjusted = holm([p_value(d, "<", "not_worse", margin)])[0]
        assert raw == holm_verdict(raw, adjusted) == expected


@pytest.mark.parametrize(
    "only_left, only_right, both, images",
    [(15, 0, 0, 10_000), (60, 150, 800, 10_000), (1, 4, 800, 10_000), (0, 0, 5, 10_000), (3, 7, 10, 50),
     (20, 0, 0, 20), (0, 20, 0, 20)],
)  # fmt: skip
def test_the_vote_interval_excludes_a_margin_exactly_where_its_p_is_below_5_percent(
    only_left, only_right, both, images
):
    d = vote_difference(*_votes(only_left, only_right, both, images))
    assert d.interval == tuple(pytest.approx(100 * x) for x in tango_interval(only_left, only_right, images))
    near_ends = [end + step for end in d.interval for step in (-1e-7, 1e-7)]
    for t in [*np.linspace(-150, 150, 601), *near_ends]:  # beyond +-100 points too
        assert (t < d.low or t > d.high) == (d.p_value(t) < 0.05), t
    for end in d.interval:
        assert d.p_value(end) == pytest.approx(0.05, abs=1e-6) or abs(end) == 100


def test_a_vote_against_a_quoted_number_is_binomial_over_the_test_set():
    wrong = np.zeros(10_000, bool)
    wrong[:700] = True  # 7.00% error
    d = error_vs_reference(wrong, 8.0)
    low, high = clopper_pearson(700, 10_000)
    assert d.delta == pytest.approx(-1.0) and (d.low, d.high) == (
        pytest.approx(100 * low - 8),
        pytest.approx(100 * high - 8),
    )
    assert d.high < 0 and d.method == "binomial" and d.n_b == 0
    assert error_vs_reference(wrong, 7.05).low < 0  # 0.05 points are within the test set's noise


def test_holm_matches_a_hand_computation():
    # Sorted: 0.005, 0.01, 0.03, 0.04 of m = 4 -> 4*0.005, 3*0.01, 2*0.03, max(that, 1*0.04).
    assert holm([0.01, 0.04, 0.03, None, 0.005]) == [
        pytest.approx(0.03),
        pytest.approx(0.06),
        pytest.approx(0.06),
        None,
        pytest.approx(0.02),
    ]
    assert holm([0.2, 0.9]) == [pytest.approx(0.4), pytest.approx(0.9)]
    assert holm([]) == [] and holm([None]) == [None]


def _welch_rejects(rng: np.random.Generator, delta: float, sd: float, runs: int, sims: int) -> float:
    """Monte Carlo: the share of simulated sweeps whose Welch 95% interval excludes 0."""
    a = rng.normal(delta, sd, (sims, runs))
    b = rng.normal(0.0, sd, (sims, runs))
    va, vb = a.var(1, ddof=1) / runs, b.var(1, ddof=1) / runs
    df = (va + vb) ** 2 / (va**2 / (runs - 1) + vb**2 / (runs - 1))
    grid = np.geomspace(1.0, 1e4, 80)  # t quantiles on a df grid, interpolated (df varies per sweep)
    crit = np.interp(np.log(df), np.log(grid), [t_quantile(0.975, g) for g in grid])
    return float(np.mean(np.abs(a.mean(1) - b.mean(1)) > crit * np.sqrt(va + vb)))


@pytest.mark.parametrize("delta, sd", [(0.81, 0.15), (0.3, 0.3)])
def test_runs_per_side_match_a_monte_carlo_power_estimate_within_one_run(delta, sd):
    planned = runs_needed(lambda n: welch_power(delta, sd, sd, n))
    rng = np.random.default_rng(1)
    candidates = range(max(2, planned - 3), planned + 4)
    simulated = next(n for n in candidates if _welch_rejects(rng, delta, sd, n, 20_000) >= 0.8)
    assert abs(simulated - planned) <= 1
    assert welch_power(delta, sd, sd, planned) >= 0.8 > welch_power(delta, sd, sd, planned - 1)


def test_paired_power_needs_fewer_runs_when_folds_share_their_spread():
    # Per-run spread 1.2 (fold offsets) but differences spread only 0.07: pairing needs far fewer runs.
    welch = runs_needed(lambda n: welch_power(0.5, 1.2, 1.2, n))
    paired = runs_needed(lambda n: paired_power(0.5, 0.07, n))
    assert paired < welch and paired >= 2
    assert runs_needed(lambda n: welch_power(0.0, 1.0, 1.0, n)) is None  # no difference: never powered
