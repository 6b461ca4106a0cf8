"""Evidence from the tables' sweeps: one Check per (claim, dataset, metric, comparison), with its verdict.

Runs are read through the tables' collector (`tables.collect`: exactly the planned runs with their planned
identity) and `tables.build_rows` (the tables' own Average, Vote and paper numbers). Two rows' runs:
paired by (seed, fold) where they can be, Welch beside (`claims.paired`); runs against a quoted number: the
one-sample t interval (`stats.reference_difference`); Votes: intervals over the test images
(`claims.votes`). Each check keeps the interval that decided it (`interval`, with what it covers) and the
p-value of the verdict's own test, which Holm's adjustment (`claims.family`) reads.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..paper import tables as paper_tables
from ..params import param_rows
from ..stats import Difference, reference_difference
from ..tables import Evidence as TableEvidence
from ..tables import RunRecord, Table, build_rows, collect
from ..tables.render import command
from .paired import compare_runs
from .spec import VOTE, Claim, Comparison, Evidence
from .verdict import INCONCLUSIVE, NOT_RUN, p_value, verdict_of
from .votes import TEST_SET_ONLY, VoteImages, discordant, vote_images, vote_interval

# What each interval covers, by what it is over (the check's unit; a Vote's methods: the test images).
RUNS_COVER = "training randomness and the choice of fold, on a fixed test set (not test-set sampling)"
COVERS = {
    "runs": RUNS_COVER,
    "images (test set)": TEST_SET_ONLY + ": the sampling of the test images, the Vote's models fixed",
    "filters": "the layer's filters of one trained model",
    "units": "the layer's units on the figure's images (not the choice of images)",
    "images": "the figure's images",
}


@dataclass
class Check:
    """One comparison and its verdict: an object of claims.json."""

    id: str
    claim: str  # the slide's words
    claim_id: str
    table: str  # a table's config name, or the figure's name
    dataset: str  # a dataset's config name, or the figure set
    metric: str  # a result.json field, vote_error, or <figure>_<layer>
    left: str
    right: str
    expect: str  # the paper's direction, left vs right
    kind: str  # better | not_worse
    verdict: str = NOT_RUN
    why: str = ""
    effect: float | None = None  # left - right (a Vote: the difference of the two votes)
    ci: list[float] | None = None  # the effect's 95% interval
    n_left: int = 0
    n_right: int | None = 0  # None for a fixed reference (a quoted result, a threshold)
    paper_effect: float | None = None  # the paper's own left - right, where it prints both
    unit: str = "runs"  # what n counts: runs, filters, units, images, images (test set)
    margin: float | None = None  # not_worse
    reference: float | None = None  # the fixed number `right` stands for
    counts: bool = True  # False: shown, not part of the claim's verdict (Vote, approximate reconstructions)
    make: str | None = None  # not run: the command that produces the evidence
    claim_verdict: str = field(default=NOT_RUN)  # filled in once all of the claim's checks are known
    interval: dict | None = None  # the interval that decided: method, low, high, n, unit, covers
    welch: dict | None = None  # Welch's interval beside the paired one that decided (same fields)
    unmatched: list[dict] = field(default_factory=list)  # {row, seed, fold}: runs without a partner
    p_value: float | None = None  # the verdict's own test: two-sided at 0, or at the margin (not_worse)
    holm: dict | None = None  # {family, size, p_adjusted, verdict}: after Holm within the claim's family

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def new_check(claim: Claim, group: Evidence, comp: Comparison, dataset: str, metric: str, **kw) -> Check:
    left, right = kw.pop("left", comp.left), kw.pop("right", comp.right)
    kw.setdefault("counts", metric != VOTE)  # a Vote is shown, never counted
    return Check(
        id=f"{claim.id}:{dataset}:{metric}:{comp.left}{comp.expect}{comp.right}",  # as claims.yaml names it
        claim=claim.quote,
        claim_id=claim.id,
        table=group.source,
        dataset=dataset,
        metric=metric,
        left=left,
        right=right,
        expect=comp.expect,
        kind=comp.kind,
        margin=group.margin if comp.kind == "not_worse" else None,
        **kw,
    )


def decide(check: Check, diff: Difference | None) -> Check:
    """Fill in the effect, interval, sizes and verdict of `check` from `diff` (None: a side has no values).
    A `why` already set is kept as a prefix of the verdict's reason."""
    check.verdict, why = verdict_of(diff, check.expect, check.kind, check.margin or 0.0)
    check.why += why
    if diff is not None:
        check.effect, check.ci = diff.delta, list(diff.interval) if diff.interval else None
        check.n_left, check.n_right = diff.n_a, (None if check.reference is not None else diff.n_b)
        check.interval = interval_record(diff, check.unit)
        check.p_value = p_value(diff, check.expect, check.kind, check.margin or 0.0)
    return check


def interval_record(diff: Difference, unit: str) -> dict:
    """claims.json's `interval`: the method, the 95% interval, what n counts and what the interval covers."""
    n, what = {
        "paired": (diff.n_a, "pairs of runs"),
        "tango": (diff.n_a, "test images"),
        "binomial": (diff.n_a, "test images"),
    }.get(diff.method, (diff.n_a + diff.n_b, unit))
    cover = COVERS.get(unit.split(" (top")[0], "")  # "units (top 20%)" covers what "units" does
    return {"method": diff.method, "low": diff.low, "high": diff.high, "n": n, "unit": what, "covers": cover}


@dataclass
class Row:
    """One (model, dataset) row of a table: the values per metric over its counted runs, and the paper's."""

    runs: int
    values: dict[str, list[float]]  # metric -> one value per counted run (vote_error: the Vote, one number)
    paper: dict[str, float | None]
    records: list[RunRecord] = field(default_factory=list)  # the counted runs: seed, fold, result
    vote: VoteImages | None = None  # the Vote per test image (tables that print a Vote)


class Sweeps:
    """The tables' planned runs under a sweep root (<root>/<table>), of the declared recipe, its QUICK one,
    or the one `overrides` make (as `make table-<table> ARGS=` gave them); each table collected once."""

    def __init__(self, root: Path, quick: bool, overrides: Sequence[str] = ()) -> None:
        self.root, self.quick, self.overrides = Path(root), quick, tuple(overrides)
        self._evidence: dict[str, TableEvidence] = {}
        self._rows: dict[str, dict[tuple[str, str], Row]] = {}

    def make(self, table: str) -> str:
        """The command that trains and renders `table`'s runs of this recipe."""
        return command(self.table(table))

    def table(self, name: str) -> Table:
        return self.evidence(name).table

    def evidence(self, name: str) -> TableEvidence:
        if name not in self._evidence:
            table = Table(name, self.overrides, self.quick, self.root / name)
            self._evidence[name] = collect(table)
        return self._evidence[name]

    def read(self) -> list[TableEvidence]:
        """The evidence of every table read so far."""
        return list(self._evidence.values())

    def rows(self, table: str) -> dict[tuple[str, str], Row]:
        if table not in self._rows:
            self._rows[table] = _rows(self.evidence(table))
        return self._rows[table]


def _rows(evidence: TableEvidence) -> dict[tuple[str, str], Row]:
    out = {}
    keys = [m.key for m in evidence.table.spec.metrics]
    for row in build_rows(evidence):
        values = {k: row[k]["values"] for k in keys}
        paper = {k: row[k]["paper"].get("average") for k in keys}
        main = row[keys[0]]
        if "vote" in main:  # the tables that print a Vote (convpool, vgg)
            values[VOTE] = [] if main["vote"] is None else [main["vote"]]
            paper[VOTE] = main["paper"].get("vote")
        records = evidence.counted(row["model"], row["dataset"])
        vote = vote_images(records) if VOTE in values else None
        out[(row["model"], row["dataset"])] = Row(row["models"], values, paper, records, vote)
    return out


def table_checks(claim: Claim, group: Evidence, sweeps: Sweeps, suggested: dict | None = None) -> list[Check]:
    """Every (dataset, comparison, metric) of a table group. `suggested`: dataset -> (row, why), the
    placement row the invariance figure points to, or (None, why, the command that draws the figure)."""
    rows = sweeps.rows(group.source)
    return [
        _table_check(claim, group, comp, dataset, metric, rows, sweeps.make(group.source), suggested or {})
        for dataset in group.datasets
        for comp in group.compare
        for metric in group.metrics
    ]


def _table_check(
    claim: Claim,
    group: Evidence,
    comp: Comparison,
    dataset: str,
    metric: str,
    rows: dict[tuple[str, str], Row],
    make: str,
    suggested: dict,
) -> Check:
    left, right, reference, note = comp.left, comp.right, None, ""
    if right == "best_quoted":
        right, reference = best_quoted(group, dataset)
    if left == "suggested":
        left, note, *draw = suggested.get(dataset, (None, "no invariance figure for this dataset"))
        if left is None:
            return new_check(claim, group, comp, dataset, metric, why=note, make="; ".join([*draw, make]))
    check = new_check(
        claim, group, comp, dataset, metric, left=left, right=right, reference=reference, make=make
    )
    lrow, rrow = rows.get((left, dataset)), rows.get((right, dataset))
    a = lrow.values.get(metric, []) if lrow else []
    b = [reference] if reference is not None else (rrow.values.get(metric, []) if rrow else [])
    check.paper_effect = _paper_effect(lrow, rrow, metric, reference)
    missing = _missing(((left, lrow, a), (right, rrow, b)), metric, dataset)
    if missing:
        check.why = missing
        return check
    check.make, note = None, f"{note}: " if note else ""
    if left == right:
        check.verdict, check.why = INCONCLUSIVE, f"{note}the same row on both sides, nothing to compare"
        return check
    check.why = note
    if metric == VOTE:
        return _vote_check(check, lrow, rrow)
    if reference is not None:
        return decide(check, reference_difference(a, reference))
    runs = compare_runs(left, lrow.records, right, rrow.records, metric)
    check.why += runs.note
    decide(check, runs.decides)
    check.n_left, check.n_right = len(a), len(b)  # runs per side; the interval says how many pairs
    check.welch = runs.welch and interval_record(runs.welch, check.unit)
    check.unmatched = runs.unmatched
    return check


def _vote_check(check: Check, lrow: Row, rrow: Row | None) -> Check:
    """The Vote of `left` against `right`'s or the quoted number, over the test images."""
    right = None if check.reference is not None else rrow.vote
    check.unit = "images (test set)"
    diff = vote_interval(lrow.vote, right, check.reference)
    method = (
        f"Tango's score interval, {discordant(lrow.vote, right)} discordant images"
        if right is not None
        else "exact binomial over the test images"
    )
    check.why += f"{TEST_SET_ONLY} ({method}): "
    decide(check, diff)
    if right is not None and check.interval is not None:
        check.interval["discordant"] = discordant(lrow.vote, right)
    return check


def _missing(sides: tuple, metric: str, dataset: str) -> str:
    """Why a side has no values ("" when both have some): no runs at all, or runs without the metric."""
    no_runs = [m for m, row, values in sides if not values and (row is None or not row.runs)]
    no_value = [m for m, row, values in sides if not values and row is not None and row.runs]
    parts = [f"no finished runs of {', '.join(no_runs)} on {dataset}"] if no_runs else []
    if no_value:
        vote = " (no test scores to vote with)" if metric == VOTE else ""
        parts.append(f"the runs of {', '.join(no_value)} on {dataset} have no {metric}{vote}")
    return "; ".join(parts)


def best_quoted(group: Evidence, dataset: str) -> tuple[str, float]:
    """The lowest quoted result for `dataset` outside `quoted_except`: ("<name> (quoted)", its value)."""
    quoted = paper_tables()[group.quoted]
    name, value = min(
        ((n, v[dataset]) for n, v in quoted.items() if n not in group.quoted_except and dataset in v),
        key=lambda nv: nv[1],
    )
    return f"{name} (quoted)", float(value)


def _paper_effect(lrow: Row | None, rrow: Row | None, metric: str, reference: float | None) -> float | None:
    """The paper's left - right for the same metric (Average, or Vote), where it prints both numbers."""
    left = lrow.paper.get(metric) if lrow else None
    right = reference if reference is not None else (rrow.paper.get(metric) if rrow else None)
    return None if left is None or right is None else round(left - right, 4)


@functools.cache
def _param_index() -> dict[tuple[str, str], dict]:
    return {(r["model"], r["dataset"]): r for r in param_rows()}


def param_ratios(claim: Claim) -> list[str]:
    """'crelu / relu on cifar10: 2.00x conv weights (paper 2.00x)' for each pair the claim names."""
    lines = []
    for model, base in claim.params:
        for dataset in dict.fromkeys(d for g in claim.evidence if not g.is_figure for d in g.datasets):
            m, b = _param_index().get((model, dataset)), _param_index().get((base, dataset))
            if not (m and b):
                continue
            paper = (
                ""
                if not (m["paper_params"] and b["paper_params"])
                else f" (paper {m['paper_params'] / b['paper_params']:.2f}x)"
            )
            lines.append(
                f"{model} / {base} on {dataset}: {m['conv_weights'] / b['conv_weights']:.2f}x conv "
                f"weights{paper}"
            )
    return lines
