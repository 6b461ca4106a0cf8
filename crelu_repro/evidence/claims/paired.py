"""Two rows' runs compared: paired by (seed, fold) where both rows have them, Welch beside.

The k-fold protocol trains every row on the same folds, and the seeds protocol on the same seeds, so the
run of row A and the run of row B at one (seed, fold) share their training data and order. A fold that is
easy for one row tends to be easy for the other; the paired t interval over the matched pairs' differences
cancels that shared spread, where Welch counts it as noise. The paired interval decides when at least 2
pairs give one (differences with some spread); else Welch's over all runs of both sides decides. Runs
without a partner on the other side are named: they enter Welch, never the pairs.

Both intervals cover training randomness and the choice of fold, on a fixed test set: not the sampling of
the test set (the Votes' intervals, claims.votes, cover that).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..stats import Difference, paired_difference, welch_difference
from ..tables import RunRecord

Key = tuple[int, int | None]  # (seed, fold) of a run


@dataclass
class RunComparison:
    decides: Difference | None  # the paired interval where it exists, else Welch's; None: a side is empty
    welch: Difference | None = None  # Welch's beside the paired interval that decided (None: Welch decided)
    pairs: int = 0  # runs matched by (seed, fold) with a value on both sides
    unmatched: list[dict] = field(default_factory=list)  # {row, seed, fold} of each run without a partner
    note: str = ""  # why pairs exist but Welch decided


def compare_runs(
    left: str, lruns: list[RunRecord], right: str, rruns: list[RunRecord], metric: str
) -> RunComparison:
    """left's runs minus right's on `metric` (a result field): paired where it can be, Welch beside."""
    lv, rv = _values(lruns, metric), _values(rruns, metric)
    welch = welch_difference(list(lv.values()), list(rv.values()))
    common = [k for k in lv if k in rv]  # in left's plan order
    unmatched = [
        {"row": row, "seed": seed, "fold": fold}
        for row, mine, theirs in ((left, lv, rv), (right, rv, lv))
        for seed, fold in mine
        if (seed, fold) not in theirs
    ]
    paired = paired_difference([lv[k] for k in common], [rv[k] for k in common])
    if paired is not None and paired.interval is not None:
        return RunComparison(paired, welch, len(common), unmatched)
    note = f"{len(common)} pairs whose differences have no spread: Welch decides; " if len(common) > 1 else ""
    return RunComparison(welch, None, len(common), unmatched, note)


def _values(runs: list[RunRecord], metric: str) -> dict[Key, float]:
    """(seed, fold) -> the run's value of `metric`, for the runs that have one."""
    values = {(r.plan.seed, r.plan.fold): getattr(r.result, metric) for r in runs}
    return {k: float(v) for k, v in values.items() if v is not None}


def unmatched_text(unmatched: list[dict]) -> str:
    """'relu (seed 0, fold 3), crelu (seed 1)': the runs without a partner, as the report names them."""
    return ", ".join(
        f"{u['row']} (seed {u['seed']}" + ("" if u["fold"] is None else f", fold {u['fold']}") + ")"
        for u in unmatched
    )
