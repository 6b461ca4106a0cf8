"""How many runs each claim needs: per check of claims.yaml on a table, the fewest runs per side that give
80% power at 5% (two-sided) to detect the paper's own difference, and what those runs cost.

The difference to detect is the paper's left - right, turned so that positive is the claimed direction
(`better`); for a `not_worse` check it is that plus the margin (how far the truth is from the bound the
interval must stay within; the interval's one relevant bound is a one-sided test at 2.5%, whose power is
the main term of the two-sided formula). Power is `stats.power`: Welch's t for two sets of runs (its power
averaged over the sample variances: at few runs its estimated df matters), the one-sample t against a
quoted number. Each side's spread is the std of our counted runs
where it has at least 2 (read through the tables' collector), else the paper's printed spread, else the
other side's (assumed equal), and the report says which.

Vote checks are not priced in runs (a Vote is one number per row; its uncertainty is over test images),
nor are the discussion figures (their spread is over filters or units of trained models).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..claims.checks import best_quoted
from ..claims.spec import VOTE, Claim, Comparison, Evidence
from ..stats.power import paired_power, runs_needed, welch_power, welch_power_exact
from ..tables import Evidence as TableEvidence
from .cost import TableCost

POWER, ALPHA = 0.8, 0.05  # issue 21: 80% power at 5%, two-sided


@dataclass
class Side:
    row: str
    have: int  # our counted runs with the metric
    sd: float | None
    source: str  # where `sd` came from


@dataclass
class SizedCheck:
    id: str
    table: str
    dataset: str
    metric: str
    comparison: str  # "crelu < relu" (better) or "... not worse than ..."
    paper_effect: float | None = None  # the paper's left - right
    detect: float | None = None  # the difference to detect, positive in the claimed direction
    left: Side | None = None
    right: Side | None = None  # None against a quoted number
    runs_per_side: int | None = None
    why: str = ""
    hours: float | None = None  # runs_per_side runs on each side
    hours_to_go: float | None = None  # beyond the runs we have


@dataclass
class ClaimPlan:
    id: str
    quote: str
    checks: list[SizedCheck] = field(default_factory=list)
    runs: dict[str, int] = field(default_factory=dict)  # "row on dataset" -> runs it needs (max over checks)
    hours: float | None = None
    hours_to_go: float | None = None
    why: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def plan_claim(claim: Claim, evidence: dict[str, TableEvidence], costs: dict[str, TableCost]) -> ClaimPlan:
    """`claim` sized over the tables in `evidence` (collected) and priced by `costs`; groups on other
    tables or on figures are listed with the reason they are not sized."""
    plan = ClaimPlan(claim.id, claim.quote)
    for group in claim.evidence:
        if group.is_figure or group.source not in evidence:
            continue
        for dataset in group.datasets:
            for comp in group.compare:
                for metric in group.metrics:
                    plan.checks.append(size(claim, group, comp, dataset, metric, evidence[group.source]))
    _price(plan, costs)
    if not plan.checks:
        plan.why = "rests on figures or on tables not planned here"
    return plan


def size(
    claim: Claim, group: Evidence, comp: Comparison, dataset: str, metric: str, ev: TableEvidence
) -> SizedCheck:
    word = comp.expect if comp.kind == "better" else f"not worse ({comp.expect}, margin {group.margin:g})"
    check = SizedCheck(f"{claim.id}:{dataset}:{metric}:{comp.left}{comp.expect}{comp.right}", group.source,
                       dataset, metric, f"{comp.left} {word} {comp.right}")  # fmt: skip
    if metric == VOTE:
        check.why = "a Vote is one number per row: its uncertainty is over test images, not runs"
        return check
    if comp.left == "suggested":
        check.why = "the row is the one the invariance figure suggests: known once the figure exists"
        return check
    spec_metric = next(m for m in ev.table.spec.metrics if m.key == metric)
    paper = {r: ev.table.spec.paper_numbers(r, dataset, spec_metric) for r in (comp.left, comp.right)}
    reference = best_quoted(group, dataset)[1] if comp.right == "best_quoted" else None
    left_avg = paper[comp.left]["average"]
    right_avg = reference if reference is not None else paper[comp.right]["average"]
    if left_avg is None or right_avg is None:
        check.why = "the paper prints no number for a side: no difference of its own to detect"
        return check
    check.paper_effect = round(left_avg - right_avg, 4)
    gain = -check.paper_effect if comp.expect == "<" else check.paper_effect
    check.detect = round(gain + (group.margin if comp.kind == "not_worse" else 0.0), 4)
    sides = [_side(ev, r, dataset, metric, paper[r].get("spread")) for r in (comp.left, comp.right)]
    check.left, check.right = sides[0], None if reference is not None else sides[1]
    _fill_spreads(check)
    if check.detect <= 0:
        check.why = f"the paper's own numbers differ by {check.paper_effect:+g}, not in the claimed direction"
    elif check.left.sd is None:
        check.why = "no spread: fewer than 2 of our runs and no printed spread on either side"
    else:
        check.runs_per_side = runs_per_side(check.detect, check.left.sd, check.right and check.right.sd)
        check.why = "" if check.runs_per_side else "more than 10,000 runs a side"
    return check


def runs_per_side(detect: float, sd_left: float, sd_right: float | None) -> int | None:
    """The fewest runs a side (at least 2) whose interval excludes 0 with 80% power at 5% when the true
    difference is `detect`; `sd_right` None: against a fixed number (one-sample t, df n - 1)."""
    if sd_right is None:
        return runs_needed(lambda n: paired_power(detect, sd_left, n, ALPHA), POWER)
    # Welch's df fixed at its expectation overstates the power at few runs: its answer is where to start;
    # then up, with the power averaged over the sample variances (one or two steps; it agrees from ~10 runs)
    start = runs_needed(lambda n: welch_power(detect, sd_left, sd_right, n, ALPHA), POWER)
    if start is None:
        return None
    n = max(start - 1, 2)
    while n < 10_000 and welch_power_exact(detect, sd_left, sd_right, n, ALPHA) < POWER:
        n += 1
    return n


def _side(ev: TableEvidence, row: str, dataset: str, metric: str, printed: float | None) -> Side:
    values = [getattr(r.result, metric) for r in ev.counted(row, dataset)]
    values = [v for v in values if v is not None]
    if len(values) >= 2:
        return Side(row, len(values), float(np.std(values, ddof=1)), f"our {len(values)} runs")
    if printed is not None:
        return Side(row, len(values), float(printed), "the paper's spread")
    return Side(row, len(values), None, "")


def _fill_spreads(check: SizedCheck) -> None:
    """A side without a spread takes the other's (the same network family, assumed equal)."""
    sides = [s for s in (check.left, check.right) if s is not None]
    known = next((s for s in sides if s.sd is not None), None)
    for s in sides:
        if s.sd is None and known is not None:
            s.sd, s.source = known.sd, f"assumed equal to {known.row}'s ({known.source})"


def _price(plan: ClaimPlan, costs: dict[str, TableCost]) -> None:
    """Each (row, dataset) needs the most runs any of its checks asks for; those runs' hours on the chosen
    card (`TableCost.run_hours`; the runs we have are counted in `hours` and left out of `hours_to_go`)."""
    need: dict[tuple[str, str, str], tuple[int, int]] = {}
    for c in plan.checks:
        if c.runs_per_side is None:
            continue
        for s in (c.left, c.right):
            if s is not None:
                key = (c.table, s.row, c.dataset)
                need[key] = (max(need.get(key, (0, 0))[0], c.runs_per_side), s.have)
        hours = [costs[c.table].run_hours(s.row, c.dataset) for s in (c.left, c.right) if s is not None]
        if None not in hours:
            c.hours = c.runs_per_side * sum(hours)
            have = [s.have for s in (c.left, c.right) if s is not None]
            c.hours_to_go = sum(max(c.runs_per_side - h, 0) * x for h, x in zip(have, hours, strict=True))
    plan.runs = {f"{row} on {dataset}": n for (_, row, dataset), (n, _) in need.items()}
    run_hours = {k: costs[k[0]].run_hours(k[1], k[2]) for k in need}
    if need and None not in run_hours.values():
        plan.hours = sum(n * run_hours[k] for k, (n, _) in need.items())
        plan.hours_to_go = sum(max(n - have, 0) * run_hours[k] for k, (n, have) in need.items())
