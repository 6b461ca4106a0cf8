"""A Vote's interval over the test images: test-set uncertainty only.

A row's Vote (tables.vote_predictions: its counted runs' plurality vote) is one prediction per test image.
Two rows' Votes on the same images get Tango's score interval (stats.exact.vote_difference: unconditional,
over all N images, of which the discordant ones, where exactly one Vote errs, carry the difference); a
Vote against a quoted number gets the exact binomial (Clopper-Pearson) interval over the test images.
These cover the sampling of the test set with the voting models fixed: not training randomness (the runs'
intervals, claims.paired, cover that), so a Vote's verdict is its own kind and never enters the runs'
verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..stats import Difference
from ..stats.exact import error_vs_reference, vote_difference
from ..tables import RunRecord, vote_predictions

TEST_SET_ONLY = "test-set uncertainty only"


@dataclass(frozen=True)
class VoteImages:
    """A row's Vote per test image."""

    wrong: np.ndarray  # (N,) bool: the Vote misclassified the image
    labels: np.ndarray  # (N,) the test labels it was scored on
    voters: int

    @property
    def error(self) -> float:
        return float(100.0 * self.wrong.mean())


def vote_images(runs: list[RunRecord]) -> VoteImages | None:
    """The Vote of these counted runs per test image; None when none of them can vote."""
    predicted, labels, voters, _ = vote_predictions(runs)
    return None if predicted is None else VoteImages(predicted != labels, labels, voters)


def vote_interval(left: VoteImages, right: VoteImages | None, reference: float | None) -> Difference:
    """left's Vote error minus right's (Tango's score) or minus `reference` (exact binomial), in points."""
    if reference is not None:
        return error_vs_reference(left.wrong, reference)
    if not np.array_equal(left.labels, right.labels):
        n = len(left.labels)
        why = "the two Votes were scored on different test labels"
        return Difference(left.error - right.error, None, None, None, n, len(right.labels), why, "tango")
    return vote_difference(left.wrong, right.wrong)


def discordant(left: VoteImages, right: VoteImages) -> int:
    """The images where exactly one of the two Votes errs: those that carry the difference."""
    return int(np.sum(left.wrong != right.wrong)) if left.wrong.shape == right.wrong.shape else 0
