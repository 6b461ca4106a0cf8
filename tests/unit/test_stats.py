import numpy as np
import pytest

from crelu_repro.data.evaluate import error_rate, vote, vote_error
from crelu_repro.evidence.stats import reference_difference, t_quantile, welch_difference


def test_vote_is_the_plurality_of_top1():
    # 3 models, 2 images, 3 classes: image 0 -> votes 2, 2, 0 -> class 2; image 1 -> 1, 1, 1.
    scores = np.array([
        [[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]],
        [[0.2, 0.1, 0.7], [0.3, 0.6, 0.1]],
        [[0.9, 0.05, 0.05], [0.2, 0.7, 0.1]],
    ])  # fmt: skip
    assert vote(scores).tolist() == [2, 1]


def test_vote_ties_are_broken_by_summed_scores_among_tied_classes():
    # 2 models disagree (1 vote each for class 0 and class 1); class 2 has the largest summed score but no
    # vote, so it must not win; class 1's summed score (0.45 + 0.5) beats class 0's (0.5 + 0.05).
    scores = np.array([[[0.5, 0.45, 0.05]], [[0.05, 0.5, 0.45]]])
    assert vote(scores).tolist() == [1]
    swapped = np.array([[[0.6, 0.35, 0.05]], [[0.3, 0.4, 0.3]]])  # class 0 sums 0.9 > class 1's 0.75
    assert vote(swapped).tolist() == [0]


def test_single_model_vote_is_its_argmax_and_errors_are_percentages():
    rng = np.random.default_rng(0)
    scores = rng.random((1, 50, 10))
    labels = rng.integers(0, 10, 50)
    assert np.array_equal(vote(scores), scores[0].argmax(-1))
    assert vote_error(scores, labels) == pytest.approx(100 * np.mean(scores[0].argmax(-1) != labels))
    assert error_rate([1, 2, 3, 4], [1, 2, 0, 0]) == 50.0


@pytest.mark.parametrize("df, value", [(1, 12.7062), (2, 4.3027), (9, 2.2622), (30, 2.0423), (1e6, 1.9600)])
def test_t_quantiles_match_tables(df, value):
    assert t_quantile(0.975, df) == pytest.approx(value, abs=1e-3)


def test_welch_interval():
    d = welch_difference([10.1, 10.3, 10.2, 10.25], [9.3, 9.5, 9.4, 9.35])
    assert d.delta == pytest.approx(0.825) and d.low > 0 and d.significant
    # Hand computation: both variances/4, df from Welch-Satterthwaite.
    a, b = np.array([10.1, 10.3, 10.2, 10.25]), np.array([9.3, 9.5, 9.4, 9.35])
    va, vb = a.var(ddof=1) / 4, b.var(ddof=1) / 4
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 3)
    assert d.df == pytest.approx(df)
    assert d.high - d.delta == pytest.approx(t_quantile(0.975, df) * np.sqrt(va + vb))
    overlap = welch_difference([1.0, 2.0, 3.0], [1.5, 2.5, 3.5])
    assert overlap.low < 0 < overlap.high and not overlap.significant
    assert welch_difference([], [1.0, 2.0]) is None


@pytest.mark.parametrize(
    "a, b, why",
    [([1.0], [1.0, 2.0], "fewer than 2"), ([10.2, 10.2], [10.0, 10.0], "zero spread")],
)
def test_no_interval_and_never_significant_without_spread_or_runs(a, b, why):
    # Two identical QUICK errors per side used to give "+0.20 [+0.20, +0.20] *": certainty from nothing.
    d = welch_difference(a, b)
    assert d.delta == pytest.approx(np.mean(a) - np.mean(b))
    assert d.low is None and d.high is None and d.interval is None and not d.significant
    assert why in d.why_no_interval and (d.n_a, d.n_b) == (len(a), len(b))


def test_reference_difference_is_a_one_sample_t_interval():
    # Against a fixed number (a quoted result, a threshold): mean - reference, t with n - 1 df.
    a = [6.2, 6.5, 6.4, 6.3]
    d = reference_difference(a, 6.05)
    half = t_quantile(0.975, 3) * np.std(a, ddof=1) / 2
    assert d.delta == pytest.approx(np.mean(a) - 6.05) and d.df == 3 and (d.n_a, d.n_b) == (4, 0)
    assert (d.low, d.high) == (pytest.approx(d.delta - half), pytest.approx(d.delta + half))
    assert d.significant and d.low > 0
    assert reference_difference([6.0], 6.05).why_no_interval == "fewer than 2 values"
    assert reference_difference([6.0, 6.0], 6.05).interval is None
    assert reference_difference([], 6.05) is None
