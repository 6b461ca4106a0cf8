"""Evidence II in the claims: paired intervals over runs matched by (seed, fold), Votes' intervals over the
test images, and Holm's adjustment within each claim, on synthetic sweeps written by the runs' own writer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crelu_repro.evidence.claims import Figures, Sweeps, assess, load_claims
from crelu_repro.evidence.claims.render import markdown
from crelu_repro.evidence.stats.exact import clopper_pearson, tango_interval
from tests.helpers.claims import write_run, write_runs


def _assess(tmp_path, sweeps, quick: bool = False):
    found = assess(load_claims()[0], Sweeps(sweeps, quick), Figures(tmp_path / "none", quick))
    return found, {**{c.id: c for a in found for c in a.checks}, **{a.claim.id: a for a in found}}


def test_fold_offsets_hide_a_constant_difference_from_welch_but_not_from_pairs(tmp_path):
    """Fold offsets of +-2 points shared by both rows; crelu 0.5 better on every fold (noise 0.05); crelu's
    last fold not run, so relu's is unmatched."""
    rng = np.random.default_rng(0)
    relu = 10 + rng.uniform(-2, 2, 10) + rng.normal(0, 0.05, 10)
    crelu = relu - 0.5 + rng.normal(0, 0.05, 10)
    sweeps = tmp_path / "multirun"
    write_runs(sweeps, "convpool", "relu", "cifar10", relu.round(4).tolist())
    write_runs(sweeps, "convpool", "crelu", "cifar10", crelu[:9].round(4).tolist())
    found, checks = _assess(tmp_path, sweeps)
    check = checks["convpool_crelu:cifar10:test_error:crelu<relu"]
    assert check.verdict == "reproduced" and check.interval["method"] == "paired"
    assert (check.interval["n"], check.interval["unit"]) == (9, "pairs of runs")
    assert check.interval["covers"].startswith("training randomness and the choice of fold")
    assert "not test-set sampling" in check.interval["covers"]
    d = crelu[:9].round(4) - relu[:9].round(4)
    assert check.effect == pytest.approx(d.mean()) and check.ci[1] < 0
    assert check.welch["method"] == "welch" and check.welch["low"] < 0 < check.welch["high"]  # inconclusive
    assert check.welch["n"] == 19 and (check.n_left, check.n_right) == (9, 10)
    assert check.unmatched == [{"row": "relu", "seed": 0, "fold": 9}]
    report = markdown(found, [], {"sweeps": sweeps, "figures": tmp_path}, False, Sweeps(sweeps, False))
    row = next(
        line for line in report.splitlines() if line.startswith("| cifar10 | test_error | crelu < relu")
    )
    assert "paired, 9 pairs of runs; Welch [" in row and "| reproduced |" in row
    assert "- convpool_crelu:cifar10:test_error:crelu<relu: relu (seed 0, fold 9)" in report


def test_pairs_without_spread_leave_the_verdict_to_welch(tmp_path):
    sweeps = tmp_path / "multirun"
    write_runs(sweeps, "convpool", "relu", "cifar10", [10.0, 10.5, 11.0])
    write_runs(sweeps, "convpool", "crelu", "cifar10", [9.0, 9.5, 10.0])  # 1.0 better on every fold
    check = _assess(tmp_path, sweeps)[1]["convpool_crelu:cifar10:test_error:crelu<relu"]
    assert check.interval["method"] == "welch" and check.welch is None and not check.unmatched
    assert check.why.startswith("3 pairs whose differences have no spread: Welch decides")


def test_votes_get_tangos_score_interval_over_the_test_images(tmp_path):
    """20 test images per run (tests/helpers/claims.py). crelu's Vote errs on none, relu's on 10, avr's on 1:
    10 discordant images decide, 1 does not."""
    sweeps = tmp_path / "multirun"
    write_runs(sweeps, "convpool", "relu", "cifar10", [50.0, 50.0])
    write_runs(sweeps, "convpool", "crelu", "cifar10", [0.0, 0.0])
    write_runs(sweeps, "convpool", "avr", "cifar10", [5.0, 5.0])
    found, checks = _assess(tmp_path, sweeps)
    many = checks["convpool_crelu:cifar10:vote_error:crelu<relu"]
    low, high = tango_interval(0, 10, 20)  # the left Vote errs alone on 0, the right alone on 10, of 20
    assert many.verdict == "reproduced" and not many.counts and many.effect == pytest.approx(-50.0)
    assert many.ci == [pytest.approx(100 * low), pytest.approx(100 * high)]
    assert many.interval["method"] == "tango" and many.interval["discordant"] == 10
    assert many.interval["covers"].startswith("test-set uncertainty only")
    few = checks["convpool_crelu:cifar10:vote_error:crelu<avr"]
    assert few.verdict == "inconclusive" and few.interval["discordant"] == 1
    # At 0 Tango's statistic is McNemar's (b - c) / sqrt(b + c): -1 here, two-sided p = erfc(1 / sqrt(2)).
    assert few.p_value == pytest.approx(math.erfc(1 / math.sqrt(2)))
    claim = checks["convpool_crelu"]
    assert claim.vote == "inconclusive" and claim.vote_holm == "inconclusive"  # one Vote check of two holds
    assert many.holm["family"] == "vote" and many.holm["size"] == 2
    assert many.holm["p_adjusted"] == pytest.approx(2 * many.p_value)  # the family's smaller p
    assert many.p_value == pytest.approx(math.erfc(math.sqrt(10) / math.sqrt(2)))  # z = -10 / sqrt(10)
    report = markdown(found, [], {"sweeps": sweeps, "figures": tmp_path}, False, Sweeps(sweeps, False))
    summary = next(line for line in report.splitlines() if "`convpool_crelu`" in line)
    assert "| inconclusive (Holm: inconclusive) |" in summary


def test_a_vote_against_a_quoted_number_is_binomial_over_the_test_images(tmp_path):
    sweeps = tmp_path / "multirun"
    write_runs(sweeps, "vgg", "vgg_crelu_conv1_3", "cifar10", [0.0, 0.0])
    check = _assess(tmp_path, sweeps)[1]["vgg_sota:cifar10:vote_error:vgg_crelu_conv1_3<best_quoted"]
    low, high = clopper_pearson(0, 20)
    assert check.reference == 6.05 and check.effect == pytest.approx(-6.05)  # Lee et al., 2016
    assert check.ci == [pytest.approx(100 * low - 6.05), pytest.approx(100 * high - 6.05)]
    assert check.interval["method"] == "binomial" and check.interval["n"] == 20
    assert (check.n_left, check.n_right, check.verdict) == (20, None, "inconclusive")  # 20 images: wide


def _p_two_df(d: list[float]) -> float:
    """Hand computation: the paired t test's two-sided p for 3 pairs (2 df), where the t CDF is
    1/2 + t / (2 sqrt(2 + t^2))."""
    t = abs(np.mean(d)) / (np.std(d, ddof=1) / math.sqrt(len(d)))
    return 1 - t / math.sqrt(2 + t * t)


def test_holm_within_a_claim_matches_a_hand_computation(tmp_path):
    """Two counted checks of convpool_crelu, each reproduced alone (p between 2.5% and 5%); Holm doubles
    the smaller p past 5%, so neither holds after adjustment. cifar100 is not run: not in the family."""
    relu, d_relu, d_avr = np.array([10.0, 10.5, 10.25]), [-1.0, -0.5, -0.75], [-1.0, -0.5, -0.7]
    crelu = relu + d_relu
    sweeps = tmp_path / "multirun"
    write_runs(sweeps, "convpool", "relu", "cifar10", relu.tolist())
    write_runs(sweeps, "convpool", "crelu", "cifar10", crelu.tolist())
    write_runs(sweeps, "convpool", "avr", "cifar10", (crelu - d_avr).tolist())
    checks = _assess(tmp_path, sweeps)[1]
    vs_relu = checks["convpool_crelu:cifar10:test_error:crelu<relu"]
    vs_avr = checks["convpool_crelu:cifar10:test_error:crelu<avr"]
    p_relu, p_avr = _p_two_df(d_relu), _p_two_df(d_avr)
    assert 0.025 < p_relu < p_avr < 0.05
    assert (vs_relu.p_value, vs_avr.p_value) == (pytest.approx(p_relu), pytest.approx(p_avr))
    assert vs_relu.verdict == vs_avr.verdict == "reproduced"
    adjusted = 2 * p_relu  # sorted: p_relu first (x 2), then max(2 p_relu, 1 x p_avr)
    assert vs_relu.holm == {"family": "counted", "size": 2, "p_adjusted": pytest.approx(adjusted),
                            "verdict": "inconclusive"}  # fmt: skip
    assert vs_avr.holm["p_adjusted"] == pytest.approx(max(adjusted, p_avr)) == pytest.approx(0.0702, abs=1e-4)
    assert vs_avr.holm["verdict"] == "inconclusive"
    claim = checks["convpool_crelu"]
    assert claim.verdict == "inconclusive" and claim.holm == "inconclusive"  # cifar100 not run
    assert checks["convpool_crelu:cifar100:test_error:crelu<relu"].holm["verdict"] == "not run"


def test_not_worse_tests_twice_the_one_sided_p_at_the_margin(tmp_path):
    """vgg_gradual's first step (margin 0.2): conv1 is 0.1 worse than relu on every fold, give or take."""
    relu, d = np.array([7.0, 7.4, 6.8]), np.array([0.1, 0.05, 0.12])
    sweeps = tmp_path / "multirun"
    write_runs(sweeps, "vgg", "vgg_relu", "cifar10", relu.tolist())
    write_runs(sweeps, "vgg", "vgg_crelu_conv1", "cifar10", (relu + d).tolist())
    check = _assess(tmp_path, sweeps)[1]["vgg_gradual:cifar10:test_error:vgg_crelu_conv1<vgg_relu"]
    assert check.kind == "not_worse" and check.verdict == "reproduced"  # within 0.2 the wrong way
    # H0: worse by the margin (mean d = 0.2); one-sided p below, doubled: _p_two_df of the shifted pairs.
    assert check.p_value == pytest.approx(_p_two_df((d - 0.2).tolist()))
    assert check.holm["verdict"] == "reproduced"  # the only counted check with an interval: family of 1


def test_claims_json_carries_interval_and_holm(tmp_path):
    sweeps = tmp_path / "multirun"
    write_run(sweeps, "convpool", "relu", "cifar10", 0, 10.0)
    checks = _assess(tmp_path, sweeps)[1]
    one = checks["convpool_crelu:cifar10:test_error:crelu<relu"].to_json()
    assert {"interval", "welch", "unmatched", "p_value", "holm"} <= set(one)
    assert one["interval"] is None and one["holm"]["verdict"] == "not run"
