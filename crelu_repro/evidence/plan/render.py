"""results/plan.md and plan.json, written atomically (core/files.py)."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ...core import files
from ...run.identity import code_version
from ...train.eta import EVAL_COST
from .cost import RowCost, TableCost
from .sizes import ALPHA, POWER, ClaimPlan, Side, SizedCheck


def machine(device: str) -> dict:
    """This machine (whose stored probes count: `device` is probe.device_name) and the plan's date and code;
    the load is each probe's own (the plan measures nothing)."""
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return {"date": date, "device": device, "torch": torch.__version__, "code": code_version()}


def write(out: Path, meta: dict, tables: list[TableCost], claims: list[ClaimPlan]) -> Path:
    payload = {**meta, "power": POWER, "alpha": ALPHA, "eval_cost": EVAL_COST,
               "tables": [t.to_json() for t in tables], "claims": [c.to_json() for c in claims]}  # fmt: skip
    files.write_json(out / "plan.json", payload)
    files.write_text(out / "plan.md", markdown(meta, tables, claims))
    return out / "plan.md"


def _h(hours: float | None) -> str:
    return "-" if hours is None else f"{hours:,.2f}" if hours < 10 else f"{hours:,.0f}"


def _intro(meta: dict) -> str:
    m, card = meta["machine"], meta["card"]
    return (
        f"Written by `make plan` (`python -m crelu_repro.evidence.plan`), code `{m['code']}`, {m['date']}. "
        "Hours are device-hours: each run's epochs x steps at a step time, evaluation added at "
        f"{EVAL_COST:.2f} of a training step per image (crelu_repro/train/eta.py), the datasets' official "
        "image counts (limits applied). Step times are read, not measured: on the "
        f"{card}, the benchmark report's row for the same network, data, image size, batch and runtime "
        f"({meta['benchmarks']}), else a stored probe taken on that card, else an estimate from the "
        "network's multiply-accumulates at a stated reference throughput "
        "(crelu_repro/evidence/plan/figures.py); "
        f"each row says which. Here ({m['device']}, torch {m['torch']}): a probe stored in "
        f"{meta['probes']} for this device and torch version, taken by `make plan PROBE=1` (its date shown)."
    )


def markdown(meta: dict, tables: list[TableCost], claims: list[ClaimPlan]) -> str:
    card = meta["card"]
    quick = " (QUICK)" if meta["quick"] else ""
    lines = ["# What the tables and claims cost", "", _intro(meta), "",
             f"Recipe overrides: `{' '.join(meta['overrides']) or 'none'}`{quick}.", "", "## Tables", "",
             f"| table | planned runs | hours on {card} | from | hours here |",
             "|---|---|---|---|---|"]  # fmt: skip
    for t in tables:
        here = _h(t.hours(here=True))
        lines.append(f"| {t.name} | {t.runs} | {_h(t.hours())} | {', '.join(t.sources())} | {here} |")
    for t in tables:
        lines += ["", f"### {t.name}: {t.title}", "", f"Recipe: {t.recipe}.", ""]
        lines += [f"| row | dataset | runs | steps a run | {card}: s a step | {card}: hours | from | "
                  "here: s a step | here: hours | here: from |",
                  "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        lines += [_row_line(r) for r in t.rows]
    lines += ["", "## Claims", "", _claims_intro(card), ""]
    lines += [f"| claim | runs it needs | hours on {card} | hours still to run |", "|---|---|---|---|"]
    for c in claims:
        needs = ", ".join(f"{k}: {n}" for k, n in c.runs.items()) or c.why or "-"
        lines.append(f"| {c.id} | {needs} | {_h(c.hours)} | {_h(c.hours_to_go)} |")
    for c in claims:
        if c.checks:
            lines += ["", f"### {c.id}", "", f"> {c.quote}", ""]
            lines += ["| check | paper Δ | to detect | left spread | right spread | runs a side | hours | "
                      "to run | why |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
            lines += [_check_line(k) for k in c.checks]
    return "\n".join(lines) + "\n"


def _row_line(r: RowCost) -> str:
    here = f"- | - | {r.here_why}"
    if r.here is not None:
        here = f"{r.here.step_s:.3g} | {_h(r.hours(here=True))} | {r.here.source}"
    return (f"| {r.row} | {r.dataset} | {r.runs} | {r.shape.total_steps:,} | {r.card.step_s:.3g} | "
            f"{_h(r.hours())} | {r.card.source} | {here} |")  # fmt: skip


def _side(s: Side | None, sized: bool) -> str:
    if s is None:
        return "quoted number" if sized else "-"
    return "-" if s.sd is None else f"{s.sd:.3g} ({s.source}; {s.have} ours)"


def _check_line(k: SizedCheck) -> str:
    pe = "-" if k.paper_effect is None else f"{k.paper_effect:+.2f}"
    det = "-" if k.detect is None else f"{k.detect:.2f}"
    what, sized = f"{k.dataset} {k.metric}: {k.comparison}", k.left is not None
    sides = f"{_side(k.left, sized)} | {_side(k.right, sized)}"
    return (f"| {what} | {pe} | {det} | {sides} | {k.runs_per_side or '-'} | {_h(k.hours)} | "
            f"{_h(k.hours_to_go)} | {k.why or '-'} |")  # fmt: skip


def _claims_intro(card: str) -> str:
    return (
        f"Per check: the fewest runs a side for {POWER:.0%} power at {ALPHA:.0%} (two-sided) to detect the "
        "paper's own difference (turned so that positive is the claimed direction; a not-worse check adds "
        "its margin), from the noncentral t (crelu_repro/stats/power.py: Welch between two rows, its power "
        "averaged over the sample variances; one-sample against a quoted number). A side's spread is our "
        "runs' std where it has at least 2, else the "
        "paper's printed spread, else the other side's. Per claim: each row needs the most runs any of its "
        f"checks asks; those runs' hours on the {card} (the tables' figures), and those still to run "
        "beyond the runs we have. Each check has this power alone: a claim that needs all its checks to hold "
        "has less."
    )
