"""The claims' verdicts: the rules on known differences, then every verdict kind from synthetic run
directories and discussion-figure JSON with known numbers."""

from __future__ import annotations

import pytest

from crelu_repro.evidence.claims import Figures, Sweeps, assess, combine, load_claims, spec, verdict_of
from crelu_repro.evidence.stats import Difference, welch_difference
from crelu_repro.evidence.stats.exact import tango_interval
from tests.helpers import REPO
from tests.helpers.claims import spread, write_figure, write_runs


def diff(delta: float, low: float | None, high: float | None) -> Difference:
    return Difference(
        delta, low, high, None if low is None else 5.0, 3, 3, None if low is not None else "why"
    )


@pytest.mark.parametrize(
    ("d", "expect", "verdict"),
    [
        (diff(-1.0, -1.5, -0.5), "<", "reproduced"),
        (diff(1.0, 0.5, 1.5), "<", "contradicted"),
        (diff(1.0, 0.5, 1.5), ">", "reproduced"),
        (diff(-0.1, -0.5, 0.3), "<", "inconclusive"),
        (diff(-1.0, None, None), "<", "inconclusive"),
        (None, "<", "not run"),
    ],
)
def test_better_needs_the_interval_to_exclude_zero_on_the_papers_side(d, expect, verdict):
    assert verdict_of(d, expect)[0] == verdict


@pytest.mark.parametrize(
    ("low", "high", "expect", "verdict"),
    [
        (-0.3, 0.05, "<", "reproduced"),  # at worst 0.05 the wrong way: within the margin of 0.1
        (0.02, 0.08, "<", "reproduced"),  # significantly worse, but by less than the margin
        (0.05, 0.3, "<", "inconclusive"),  # reaches past the margin
        (-0.2, 0.3, "<", "inconclusive"),
        (0.2, 0.4, "<", "contradicted"),  # wholly more than the margin the wrong way
        (-0.4, -0.2, ">", "contradicted"),
        (-0.05, 0.4, ">", "reproduced"),
    ],
)
def test_not_worse_is_non_inferiority_with_the_stated_margin(low, high, expect, verdict):
    assert verdict_of(diff((low + high) / 2, low, high), expect, "not_worse", 0.1)[0] == verdict


def test_no_interval_says_why():
    d = welch_difference([1.0], [2.0, 3.0])
    assert verdict_of(d, "<") == ("inconclusive", "no interval: fewer than 2 runs on a side")


def test_a_claim_holds_when_every_counted_check_holds():
    assert combine(["reproduced", "reproduced"]) == "reproduced"
    assert combine(["reproduced", "contradicted", "not run"]) == "contradicted"
    assert combine(["reproduced", "not run"]) == "inconclusive"
    assert combine(["not run", "not run"]) == "not run"
    assert combine([]) == "inconclusive"


@pytest.fixture
def convpool(tmp_path):
    """CIFAR-10: crelu clearly below relu and clearly above avr, crelu_half indistinguishable from relu.
    CIFAR-100: one run each of relu and crelu, no avr or crelu_half."""
    sweeps = tmp_path / "multirun"
    write_runs(sweeps, "convpool", "relu", "cifar10", [10.0, 10.5, 11.0])
    write_runs(sweeps, "convpool", "crelu", "cifar10", [5.0, 5.5, 6.0])
    write_runs(sweeps, "convpool", "avr", "cifar10", [2.0, 2.5, 3.0])
    write_runs(sweeps, "convpool", "crelu_half", "cifar10", [9.0, 11.0, 12.0])
    write_runs(sweeps, "convpool", "relu", "cifar100", [40.0])
    write_runs(sweeps, "convpool", "crelu", "cifar100", [35.0])
    found = assess(load_claims()[0], Sweeps(sweeps, False), Figures(tmp_path / "none", False))
    return {**{c.id: c for a in found for c in a.checks}, **{a.claim.id: a for a in found}}


def test_each_verdict_from_synthetic_runs(convpool):
    better = convpool["convpool_crelu:cifar10:test_error:crelu<relu"]
    assert better.verdict == "reproduced" and better.counts
    assert better.effect == pytest.approx(-5.0) and better.ci[0] < -5.0 < better.ci[1] < 0
    assert (better.n_left, better.n_right, better.unit) == (3, 3, "runs")
    assert better.paper_effect == pytest.approx(9.39 - 10.20)
    worse = convpool["convpool_crelu:cifar10:test_error:crelu<avr"]
    assert worse.verdict == "contradicted" and worse.effect == pytest.approx(3.0)
    noise = convpool["convpool_half:cifar10:test_error:crelu_half<relu"]
    assert noise.verdict == "inconclusive" and noise.why == "the 95% interval contains 0"
    single = convpool["convpool_crelu:cifar100:test_error:crelu<relu"]
    assert single.verdict == "inconclusive" and single.ci is None
    assert single.why == "no interval: fewer than 2 runs on a side" and single.effect == pytest.approx(-5.0)
    missing = convpool["convpool_crelu:cifar100:test_error:crelu<avr"]
    assert missing.verdict == "not run" and missing.make == "make table-convpool"
    assert missing.why == "no finished runs of avr on cifar100"


def test_vote_gets_a_test_set_interval_and_is_not_counted(convpool):
    vote = convpool["convpool_crelu:cifar10:vote_error:crelu<relu"]
    assert vote.verdict == "inconclusive" and not vote.counts
    assert vote.effect == pytest.approx(5.0 - 10.0)  # 19 of 20 right vs 18 of 20, every run agreeing
    # One discordant image of 20 (relu alone errs): Tango's interval for b = 0, c = 1, N = 20, in points.
    assert vote.ci == [pytest.approx(100 * x) for x in tango_interval(0, 1, 20)]
    assert vote.why.startswith("test-set uncertainty only (Tango's score interval, 1 discordant images)")
    assert (vote.n_left, vote.n_right, vote.unit) == (20, 20, "images (test set)")
    assert vote.interval["method"] == "tango" and vote.interval["discordant"] == 1
    assert vote.paper_effect == pytest.approx(7.09 - 7.55)


def test_claims_combine_their_checks_per_dataset_and_overall(convpool):
    crelu = convpool["convpool_crelu"]
    assert crelu.by_dataset == {"cifar10": "contradicted", "cifar100": "inconclusive"}
    assert crelu.verdict == "contradicted"
    assert all(c.claim_verdict == "contradicted" for c in crelu.checks)
    assert convpool["vgg_gradual"].verdict == "not run"
    assert (
        convpool["convpool_half"].params[0]
        == "crelu_half / relu on cifar10: 0.40x conv weights (paper 0.50x)"
    )


@pytest.fixture
def discussion(tmp_path):
    """Figure JSON with known numbers (pairing and reconstruction on imagenet, invariance on cifar10, a
    reconstruction through max-pooling on cifar10) and the placement runs; the checks by id."""
    figures, sweeps = tmp_path / "figures", tmp_path / "multirun"
    gauss = spread(-0.30, 384, 0.05)
    write_figure(figures, "imagenet", "pairing", {
        "allcnnb_relu": {"conv1": {"mu": spread(-0.60, 96, 0.05), "gauss_mu": gauss}},
        "allcnnb_crelu_conv1_7": {"conv1": {"mu": spread(-0.31, 96, 0.05), "gauss_mu": gauss}},
    })  # fmt: skip
    scores = {k: spread(10, 50, 5) for k in ("translation", "rotation", "scale")}
    higher = {k: spread(20, 50, 5) for k in scores}
    lower = {k: [None, *spread(5, 49, 4)] for k in scores}  # a unit without enough events is left out
    write_figure(figures, "cifar10", "invariance", {
        "relu": {f"conv{i}": {"unit_scores": scores} for i in (1, 2, 3)},
        "crelu": {"conv1": {"unit_scores": higher}, "conv2": {"unit_scores": scores},
                  "conv3": {"unit_scores": lower}},
    })  # fmt: skip
    write_figure(figures, "imagenet", "reconstruction", {"allcnnb_crelu_conv1_4": {
        "conv1": {"exact": True, "rel_error": [1e-7, 2e-7, 1.5e-7, 1.2e-7]},
        "conv2": {"exact": True, "rel_error": [0.6, 0.7, 0.65, 0.62]},
    }})  # fmt: skip
    write_figure(figures, "cifar10", "reconstruction", {"crelu": {
        "conv3": {"exact": False, "rel_error": [0.2, 0.3, 0.25, 0.22]},
    }})  # fmt: skip
    write_runs(sweeps, "placement", "relu+crelu@conv1", "cifar10", [9.0, 9.02], quick=True)
    write_runs(sweeps, "placement", "crelu", "cifar10", [9.0, 9.02], quick=True)
    found = assess(load_claims()[0], Sweeps(sweeps, True), Figures(figures, True))
    return {c.id: c for a in found for c in a.checks}


def test_pairing_compares_filters_with_their_gaussian_baseline(discussion):
    relu = discussion["pairing_relu:imagenet:pairing_mu_conv1:relu<gaussian"]  # ids name the file's roles
    assert (relu.left, relu.right) == ("allcnnb_relu", "gaussian")  # left and right, the models
    assert relu.verdict == "reproduced" and (relu.n_left, relu.n_right, relu.unit) == (96, 384, "filters")
    crelu = discussion["pairing_crelu:imagenet:pairing_mu_conv1:crelu>gaussian"]
    assert crelu.verdict == "reproduced" and crelu.effect == pytest.approx(-0.01, abs=1e-6)  # within 0.05
    unseen = discussion["pairing_relu:cifar10:pairing_mu_conv1:relu<gaussian"]
    assert unseen.verdict == "not run" and unseen.make == "make table-convpool QUICK=1; make figures QUICK=1"


def test_invariance_per_layer_and_the_placement_it_suggests(discussion):
    verdicts = [discussion[f"invariance:cifar10:invariance_conv{i}:crelu>relu"].verdict for i in (1, 2, 3, 4)]
    assert verdicts == ["reproduced", "inconclusive", "contradicted", "inconclusive"]  # conv4: absent
    assert discussion["invariance:cifar10:invariance_conv1:crelu>relu"].n_left == 10  # top 20% of 50 units
    placed = discussion["invariance_placement:cifar10:test_error:suggested<crelu"]
    assert placed.left == "relu+crelu@conv1" and placed.n_left == 2  # QUICK: two models per row
    assert placed.verdict == "reproduced" and placed.why.startswith(
        "suggested relu+crelu@conv1: CReLU's invariance is above ReLU's up to conv1"
    )


def test_reconstruction_below_the_threshold_counts_only_in_the_papers_setting(discussion):
    recon = [discussion[f"reconstruction:imagenet:recon_error_conv{i}:invert<threshold"] for i in (1, 2)]
    assert [r.verdict for r in recon] == ["reproduced", "contradicted"] and recon[0].reference == 0.5
    assert recon[0].left == "allcnnb_crelu_conv1_4" and recon[0].n_right is None
    through_pool = discussion["reconstruction:cifar10:recon_error_conv3:invert<threshold"]
    assert through_pool.verdict == "reproduced" and not through_pool.counts


def test_figure_json_from_an_older_or_foreign_writer_is_named_not_fatal(tmp_path):
    write_figure(tmp_path, "cifar10", "pairing", {"relu": {"conv1": {"mu": [-0.5, -0.4]}}})
    foreign = {"conv1": {"scores": {"mean": 3.0}}}  # layer scores only, no unit scores
    write_figure(tmp_path, "cifar10", "invariance", {"relu": foreign, "crelu": foreign})
    found = assess(load_claims()[0], Sweeps(tmp_path / "none", False), Figures(tmp_path, False))
    checks = {c.id: c for a in found for c in a.checks}
    old = checks["pairing_relu:cifar10:pairing_mu_conv1:relu<gaussian"]
    assert old.verdict == "inconclusive" and "rerun make figures" in old.why
    foreign = checks["invariance:cifar10:invariance_conv1:crelu>relu"]
    assert foreign.verdict == "inconclusive"
    assert foreign.why.startswith("invariance.json is not what make figures writes (KeyError")


def test_the_rules_read_the_json_that_the_analysis_really_writes(tmp_path):
    # results/figures/cpu_6ep: real `python -m crelu_repro.evidence.analysis all` output (relu and crelu_half
    # runs), placed as the cifar10 set with crelu_half standing in for crelu.
    for figure in ("invariance", "reconstruction"):
        text = (REPO / "results" / "figures" / "cpu_6ep" / f"{figure}.json").read_text()
        (tmp_path / "cifar10").mkdir(exist_ok=True)
        (tmp_path / "cifar10" / f"{figure}.json").write_text(text.replace('"crelu_half"', '"crelu"'))
    found = assess(load_claims()[0], Sweeps(tmp_path / "none", False), Figures(tmp_path, False))
    checks = {c.id: c for a in found for c in a.checks if c.dataset == "cifar10"}
    invariance = [checks[f"invariance:cifar10:invariance_conv{i}:crelu>relu"] for i in range(1, 8)]
    assert all(c.ci is not None and c.n_left >= 20 for c in invariance)  # 96 units: the top 20
    recon = [checks[f"reconstruction:cifar10:recon_error_conv{i}:invert<threshold"] for i in (1, 2, 3, 4)]
    assert [c.verdict for c in recon[:2]] == ["reproduced"] * 2  # errors 0.00 and 0.12 over 4 images
    assert [c.counts for c in recon] == [True, True, False, False]  # conv3, conv4: through max-pooling
    assert recon[0].n_left == 4 and recon[0].unit == "images"


def test_placement_rows_by_the_deepest_layer_they_change():
    """Read from each row's description against its family's table, not from an activation's name."""
    assert spec.placement_rows() == {
        0: "relu", 1: "relu+crelu@conv1", 2: "relu+crelu@conv1-2", 4: "relu+crelu@conv1-4",
        5: "relu+crelu@conv1-5", 7: "crelu",
    }  # fmt: skip
