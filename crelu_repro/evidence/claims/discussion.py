"""Evidence from the discussion figures' JSON (`make figures`: <figures>/<set>/<figure>.json).

How each figure's numbers become a difference with a 95% interval (claims.yaml states the same per claim):
- pairing: a layer's mu per trained filter against the Gaussian baseline's mu samples (`gauss_mu`);
  Welch over filters.
- invariance: each unit's score L/G averaged over the three kinds of transformation; each model's top 20%
  units of the layer (as the figure's layer score); CReLU minus ReLU, Welch over those units. The interval
  covers the units, not the choice of test images.
- reconstruction: the relative error ||x' - x|| / ||x|| per image against a fixed threshold, one-sample
  interval over images. Layers reached through max-pooling (`"exact": false`) are shown, not counted.
- placement: the `suggested` row of the placement table is CReLU up to the deepest layer where the
  invariance check (CReLU above ReLU) is reproduced, rounded up to the next row the table has.
"""

from __future__ import annotations

import math
from pathlib import Path

from ...core import files
from ..analysis.invariance import TOP_FRAC
from ..analysis.sets import FIGURE_SETS
from ..stats import Difference, reference_difference, welch_difference
from .checks import Check, decide, new_check
from .spec import METRIC_PREFIX, Claim, Evidence, placement_rows
from .verdict import INCONCLUSIVE, REPRODUCED, verdict_of


class Figures:
    """The analysis JSON `make figures` wrote under `root` (<root>/<set>/<figure>.json), each read once."""

    def __init__(self, root: Path, quick: bool) -> None:
        self.root, self.quick = Path(root), quick
        self._cache: dict[tuple[str, str], dict | None] = {}

    def load(self, figure_set: str, figure: str) -> dict | None:
        key = (figure_set, figure)
        if key not in self._cache:
            self._cache[key] = files.read_json(self.root / figure_set / f"{figure}.json")
        return self._cache[key]

    def make(self, figure_set: str) -> str:
        q = " QUICK=1" if self.quick else ""
        return f"make table-{FIGURE_SETS[figure_set].sweep}{q}; make figures{q}"


def role_model(role: str, figure_set: str) -> str:
    """The model that plays `role` (relu, crelu, invert) in a figure set; other names are kept."""
    fs = FIGURE_SETS[figure_set]
    return {"relu": fs.compare[0], "crelu": fs.compare[1], "invert": fs.invert}.get(role, role)


def figure_checks(claim: Claim, group: Evidence, figures: Figures) -> list[Check]:
    """Every (figure set, comparison, layer) of a figure group, with its verdict."""
    out = []
    for figure_set in group.datasets:
        data = figures.load(figure_set, group.source)
        for comp in group.compare:
            for layer in group.metrics:
                left, right = role_model(comp.left, figure_set), role_model(comp.right, figure_set)
                check = new_check(
                    claim,
                    group,
                    comp,
                    figure_set,
                    f"{METRIC_PREFIX[group.source]}_{layer}",
                    left=left,
                    right=right,
                    make=figures.make(figure_set),
                )
                if data is None:
                    check.why = f"no {group.source}.json for the {figure_set} set"
                else:
                    check.make = None
                    _apply(group.source, check, data, layer, group)
                out.append(check)
    return out


def _run(data: dict, model: str) -> dict | None:
    return next((r for r in data.get("runs", []) if r.get("model") == model), None)


def _layer(data: dict, model: str, layer: str) -> tuple[dict | None, str]:
    """The run's numbers for `layer`, or None and why they are absent."""
    run = _run(data, model)
    found = None if run is None else (run.get("layers") or {}).get(layer)
    if found is not None:
        return found, ""
    skipped = f" ({run['skipped']})" if run and run.get("skipped") else ""
    return None, f"the figure has no {layer} of {model}{skipped}"


def _pairing(check: Check, data: dict, layer: str, group: Evidence) -> None:
    trained, check.why = _layer(data, check.left, layer)
    if trained is None:
        check.verdict = INCONCLUSIVE
    elif trained.get("gauss_mu") is None:  # drawn by an older version of the analysis
        check.verdict, check.why = INCONCLUSIVE, "pairing.json lacks the Gaussian samples: rerun make figures"
    else:
        check.unit = "filters"
        decide(check, welch_difference([v for v in trained["mu"] if v is not None], trained["gauss_mu"]))


def top_unit_scores(layer: dict, top_frac: float = TOP_FRAC) -> list[float]:
    """Each unit's score averaged over the kinds of transformation; the layer's top `top_frac` of them."""
    per_unit = zip(*layer["unit_scores"].values(), strict=True)  # (kinds,) per unit; None: too few events
    means = sorted((sum(s) / len(s) for s in per_unit if None not in s), reverse=True)
    return means[: max(1, math.ceil(top_frac * len(means)))] if means else []


def invariance_difference(data: dict, left: str, right: str, layer: str) -> tuple[Difference | None, str]:
    """(left's top unit scores minus right's with a Welch interval, or None; why it is None)."""
    scores = []
    for model in (left, right):
        found, why = _layer(data, model, layer)
        if found is None:
            return None, why
        scores.append(top_unit_scores(found))
        if not scores[-1]:
            return None, f"no unit of {model}'s {layer} fired often enough to be scored"
    return welch_difference(*scores), ""


def _invariance(check: Check, data: dict, layer: str, group: Evidence) -> None:
    diff, why = invariance_difference(data, check.left, check.right, layer)
    if diff is None:
        check.verdict, check.why = INCONCLUSIVE, why
        return
    check.unit = f"units (top {TOP_FRAC:.0%})"
    decide(check, diff)


def _reconstruction(check: Check, data: dict, layer: str, group: Evidence) -> None:
    found, check.why = _layer(data, check.left, layer)
    if found is None:
        check.verdict = INCONCLUSIVE
        return
    check.unit, check.reference = "images", group.threshold
    if not found.get("exact", False):
        check.counts = False
        check.why = "through max-pooling: our approximation, not the paper's algorithm; "
    decide(check, reference_difference(found["rel_error"], group.threshold))


_FIGURE_RULES = {"pairing": _pairing, "invariance": _invariance, "reconstruction": _reconstruction}


def _apply(figure: str, check: Check, data: object, layer: str, group: Evidence) -> None:
    """The figure's rule on its JSON; a file of another shape is named instead of failing the report."""
    try:
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        _FIGURE_RULES[figure](check, data, layer, group)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        check.verdict = INCONCLUSIVE
        check.why = f"{figure}.json is not what make figures writes ({type(exc).__name__}: {exc}); rerun it"


def suggested_rows(group: Evidence, figures: Figures) -> dict[str, tuple]:
    """dataset -> (the placement row the invariance figure suggests, why), or (None, why, the command that
    draws the figure), for a placement group."""
    out: dict[str, tuple] = {}
    rows = placement_rows()
    for dataset in group.datasets:
        data = figures.load(dataset, "invariance") if dataset in FIGURE_SETS else None
        if data is None:
            draw = figures.make(dataset) if dataset in FIGURE_SETS else "make figures"
            out[dataset] = (None, f"no invariance figure for {dataset} (it suggests the placement)", draw)
            continue
        try:
            deepest = _deepest_gain(data, dataset, max(rows))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            out[dataset] = (
                None,
                f"invariance.json is not what make figures writes ({exc})",
                figures.make(dataset),
            )
            continue
        row = rows[min(k for k in rows if k >= deepest)]
        where = f"up to conv{deepest}" if deepest else "at no layer"
        out[dataset] = (row, f"suggested {row}: CReLU's invariance is above ReLU's {where}")
    return out


def _deepest_gain(data: dict, figure_set: str, layers: int) -> int:
    """The deepest k <= layers whose invariance check (CReLU above ReLU at conv<k>) is reproduced; 0: none."""
    relu, crelu = role_model("relu", figure_set), role_model("crelu", figure_set)
    deepest = 0
    for k in range(1, layers + 1):
        diff, _ = invariance_difference(data, crelu, relu, f"conv{k}")
        if verdict_of(diff, ">")[0] == REPRODUCED:
            deepest = k
    return deepest
