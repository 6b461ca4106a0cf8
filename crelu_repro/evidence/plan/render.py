"""results/plan.md and plan.json, written atomically (runio)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import torch

from ...core import files
from ...run import provenance
from ...train.eta import EVAL_COST
from .cost import REFERENCE_CARD, RowCost, TableCost
from .sizes import ALPHA, POWER, ClaimPlan, Side, SizedCheck


def machine(device: str) -> dict:
    card = torch.cuda.get_device_name() if device.startswith("cuda") else None
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "device": device or "none probed",
            "card": card, "cpu": platform.processor() or platform.machine(), "load": os.getloadavg()[0],
            "torch": torch.__version__, "code": provenance.code_version()}  # fmt: skip


def write(out: Path, meta: dict, tables: list[TableCost], claims: list[ClaimPlan]) -> Path:
    payload = {**meta, "power": POWER, "alpha": ALPHA, "eval_cost": EVAL_COST,
               "tables": [t.to_json() for t in tables], "claims": [c.to_json() for c in claims]}  # fmt: skip
    files.write_json(out / "plan.json", payload)
    files.write_text(out / "plan.md", markdown(meta, tables, claims))
    return out / "plan.md"


def _h(hours: float | None) -> str:
    return "-" if hours is None else f"{hours:,.2f}" if hours < 10 else f"{hours:,.0f}"


def markdown(meta: dict, tables: list[TableCost], claims: list[ClaimPlan]) -> str:
    m, probe = meta["machine"], meta["probe"]
    where = m["card"] or m["device"]
    lines = [
        "# What the tables and claims cost",
        "",
        "Written by `make plan` (`python -m crelu_repro.evidence.plan`). Hours are device-hours on this "
        f"machine ({where}; {m['cpu']}, load average {m['load']:.1f} at the end, torch {m['torch']}, code "
        f"`{m['code']}`, {m['date']}), from a probe of "
        f"{probe['steps']} training steps per network after {probe['warmup']} warm-up steps, through the "
        "trainer's own build and step, times each run's epochs x steps; evaluation is added at "
        f"{EVAL_COST:.2f} of a training step per image. {REFERENCE_CARD}: the same from the reference "
        "card's measured img/s in results/benchmarks.json, where it has the row.",
        "",
        f"Recipe overrides: `{' '.join(meta['overrides']) or 'none'}`{' (QUICK)' if meta['quick'] else ''}.",
        "",
        "## Tables",
        "",
        "| table | planned runs | hours here | hours on " + REFERENCE_CARD + " |",
        "|---|---|---|---|",
    ]
    for t in tables:
        lines.append(f"| {t.name} | {t.runs} | {_h(t.hours())} | {_h(t.hours(reference=True))} |")
    for t in tables:
        lines += ["", f"### {t.name}: {t.title}", "", f"Recipe: {t.recipe}.", ""]
        lines += [f"| row | dataset | runs | s a step | steps a run | hours a run | hours | {REFERENCE_CARD} "
                  "hours | probed on |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        lines += [_row_line(r) for r in t.rows]
    lines += ["", "## Claims", "", _claims_intro(), ""]
    lines += ["| claim | runs it needs | hours here | hours still to run |", "|---|---|---|---|"]
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
    steps = "-" if r.shape is None else f"{r.shape.total_steps:,}"
    step = "-" if r.step_s is None else f"{r.step_s:.3g}"
    ref = _h(None if r.reference_run_hours is None else r.runs * r.reference_run_hours)
    hours = _h(None if r.run_hours is None else r.runs * r.run_hours)
    ref = ref if r.reference_run_hours is not None else r.reference_why
    return (f"| {r.row} | {r.dataset} | {r.runs} | {step} | {steps} | {_h(r.run_hours)} | {hours} | {ref} | "
            f"{r.data or r.why} |")  # fmt: skip


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


def _claims_intro() -> str:
    return (
        f"Per check: the fewest runs a side for {POWER:.0%} power at {ALPHA:.0%} (two-sided) to detect the "
        "paper's own difference (turned so that positive is the claimed direction; a not-worse check adds "
        "its margin), from the noncentral t (crelu_repro/evidence/stats/power.py: Welch between two rows, "
        "its power averaged over the sample variances; one-sample against a quoted number). A side's spread "
        "is our runs' std where it has at least 2, else the "
        "paper's printed spread, else the other side's. Per claim: each row needs the most runs any of its "
        "checks asks; hours on this machine, and those still to run beyond the runs we have. Each check "
        "has this power alone: a claim that needs all its checks to hold has less."
    )
