"""Paired intervals, test-set intervals for Votes, Holm's adjustment and the power behind `make plan`."""

import math

import numpy as np
import pytest

from crelu_repro.evidence.stats import holm, paired_difference, t_quantile, welch_difference
from crelu_repro.evidence.stats.exact import binom_tails, clopper_pearson, error_vs_reference, vote_difference
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
    wrong_left[-both:] = wrong_right[-both:] = True
    return wrong_left, wrong_right


def test_votes_with_many_discordant_images_get_a_verdict_and_few_do_not():
    many = vote_difference(*_votes(60, 150, 800))
    assert many.delta == pytest.approx(100 * (60 - 150) / 10_000) and many.high < 0
    assert many.method == "mcnemar" and many.n_a == 10_000
    few = vote_difference(*_votes(1, 4, 800))
    assert few.delta < 0 and few.low < 0 < few.high
    # Exact McNemar by hand: b = 1 of n = 5 discordant, two-sided = 2 P(X <= 1; 5, 1/2) = 2 * 6/32.
    assert few.p_value() == pytest.approx(2 * (math.comb(5, 0) + math.comb(5, 1)) / 32)
    same = vote_difference(*_votes(0, 0, 800))
    assert same.interval is None and "no discordant" in same.why_no_interval


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
