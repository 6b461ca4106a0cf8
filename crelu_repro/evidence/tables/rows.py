"""A table's rows from its evidence: per (dataset, row) the Average ± std of the counted runs, the Vote
where the table prints one, the paper's numbers and the difference, and for every non-baseline row its
difference to the baseline with a 95% Welch interval. Only counted runs enter any number."""

from __future__ import annotations

import numpy as np

from ...data.evaluate import error_rate, vote
from ..stats import welch_difference
from .evidence import Evidence, RunRecord
from .scores import ScoresError, load_scores


def build_rows(evidence: Evidence) -> list[dict]:
    table, spec = evidence.table, evidence.table.spec
    main_key = spec.metrics[0].key
    rows = []
    for dataset in table.datasets:
        base = [getattr(r.result, main_key) for r in evidence.counted(table.baseline, dataset)]
        base = [v for v in base if v is not None]
        for model in table.rows:
            runs = evidence.counted(model, dataset)
            planned = table.planned(model, dataset)
            row = {"model": model, "dataset": dataset, "models": len(runs), "planned": planned,
                   "runs": [{"seed": r.plan.seed, "fold": r.plan.fold, "dir": str(r.plan.path)}
                            for r in runs],
                   "params": runs[0].result.params if runs else None,
                   "paper_params": spec.paper_params(model)}  # fmt: skip
            for metric in spec.metrics:
                values = [getattr(r.result, metric.key) for r in runs]
                values = [v for v in values if v is not None]
                paper = spec.paper_numbers(model, dataset, metric)
                ours = float(np.mean(values)) if values else None
                row[metric.key] = {
                    "average": ours, "std": float(np.std(values, ddof=1)) if len(values) > 1 else None,
                    "values": values, "paper": paper,
                    "diff": None if ours is None or paper["average"] is None else ours - paper["average"],
                }  # fmt: skip
            main = row[main_key]
            if spec.vote:
                main["vote"], main["voters"], main["vote_note"] = vote_of(runs)
                paper_vote = main["paper"].get("vote")
                main["vote_diff"] = (
                    None if main["vote"] is None or paper_vote is None else main["vote"] - paper_vote
                )
            if table.baseline is not None and model != table.baseline:
                d = welch_difference(main["values"], base)
                row["vs_baseline"] = d and {"delta": d.delta, "low": d.low, "high": d.high,
                                            "significant": d.significant,
                                            "no_interval": d.why_no_interval}  # fmt: skip
            rows.append(row)
    return rows


def vote_of(runs: list[RunRecord]) -> tuple[float | None, int, str]:
    """(the Vote's error, how many runs voted, a note): over the counted runs whose scores can vote (the
    others are listed as not counted), if they all scored the same test labels."""
    predicted, labels, voters, note = vote_predictions(runs)
    return (None if predicted is None else error_rate(predicted, labels)), voters, note


def vote_predictions(runs: list[RunRecord]) -> tuple[np.ndarray | None, np.ndarray | None, int, str]:
    """(the Vote's (N,) labels, the (N,) test labels, how many runs voted, a note), by `vote_of`'s rules:
    the per-image Vote that the test-set intervals of the claims compare. (None, None, 0, why) without one."""
    scores, labels = [], None
    for run in runs:
        if run.scores_why:
            continue
        try:
            s, lab = load_scores(run.plan.path, run.result.num_test, run.plan.classes)
        except ScoresError:  # changed since the collector read it: leave it out too
            continue
        if labels is not None and not np.array_equal(labels, lab):
            return None, None, 0, "the runs scored different test labels"
        scores.append(s)
        labels = lab
    if not scores:
        return None, None, 0, "no run kept usable test scores" if runs else ""
    note = f"{len(scores)} of {len(runs)} runs voted" if len(scores) < len(runs) else ""
    return vote(np.stack(scores)), labels, len(scores), note
