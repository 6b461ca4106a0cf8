"""claims.md (for people) and claims.json (one object per check, for programs)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

from .. import runio
from ..tables.render import not_counted_lines
from .assess import Assessment
from .checks import Check, Sweeps
from .spec import FIGURES, NotChecked
from .verdict import VERDICTS

QUICK_BANNER = (
    "> **QUICK smoke run** (CPU settings: a data subset, one epoch, two models per row). These verdicts "
    "mean nothing about the paper; they only show that the machinery works."
)
RULES = (
    "**Verdicts.** *reproduced*: our difference (left − right) has the paper's sign and its 95% interval "
    "excludes 0. *contradicted*: the interval excludes 0 on the other side. *inconclusive*: the interval "
    "contains 0, or there is no interval (fewer than 2 runs on a side, or zero spread); Vote is one number "
    "per row, so it gives a direction and never a verdict. *not run*: the evidence does not exist yet; "
    "the command that makes it is named. *Not worse* checks (non-inferiority with a stated margin) are "
    "reproduced when the whole interval is at worst the margin the wrong way, contradicted when it is wholly "
    "beyond, inconclusive when it straddles the margin. A claim holds when all its "
    "counted checks hold; Vote and reconstructions through max-pooling are shown, not counted. Intervals: "
    "Welch over runs (tables), filters (pairing) or units (invariance); one-sample over runs against a "
    "quoted number, over images against a reconstruction threshold."
)


def write_json(path: Path, assessments: list[Assessment]) -> None:
    checks = [c.to_json() for a in assessments for c in a.checks]
    runio.atomic_write(path, lambda f: f.write((json.dumps(checks, indent=1) + "\n").encode()))


def markdown(
    assessments: list[Assessment], unchecked: list[NotChecked], sources: dict, quick: bool, sweeps: Sweeps
) -> str:
    """The report: banner, rules, a summary table, one section per claim, the unchecked sentences, the
    failed runs and what was found but not counted."""
    lines = ["# Does the paper hold up? The slides' claims against our runs", ""]
    lines += [QUICK_BANNER, ""] if quick else []
    lines += [
        f"Generated {date.today().isoformat()} by `make claims{' QUICK=1' if quick else ''}` from the "
        f"sweeps in `{sources['sweeps']}` and the figures in `{sources['figures']}`.",
        "",
        RULES,
        "",
    ]
    lines += ["## Summary", "", "| claim | slide | verdict | per dataset | checks |", "|---|---|---|---|---|"]
    for a in assessments:
        per = ", ".join(f"{d}: {v}" for d, v in a.by_dataset.items())
        lines.append(
            f"| “{a.claim.quote}” (`{a.claim.id}`) | {a.claim.slide} | **{a.verdict}** | {per} | "
            f"{_tally(a.checks)} |"
        )
    lines.append("")
    for a in assessments:
        lines += _section(a)
    lines += ["## Sentences not checked", ""]
    lines += [f"- “{n.quote}” ({n.slide}): {n.why}" for n in unchecked] + [""]
    lines += _failures(sweeps)
    lines += _not_counted(sweeps)
    return "\n".join(lines)


def _tally(checks: list[Check]) -> str:
    counted = Counter(c.verdict for c in checks if c.counts)
    parts = [f"{counted[v]} {v}" for v in VERDICTS if counted[v]]
    shown = sum(not c.counts for c in checks)
    return ", ".join(parts) + (f" (+{shown} shown, not counted)" if shown else "")


def _section(a: Assessment) -> list[str]:
    c = a.claim
    sources = ", ".join(
        dict.fromkeys(f"figure {g.source}" if g.is_figure else f"table {g.source}" for g in c.evidence)
    )
    lines = [f"## `{c.id}`: “{c.quote}”", "", f"Slide: *{c.slide}*. Evidence: {sources}.", ""]
    lines += [f"How we read it: {c.note}", ""] if c.note else []
    lines += [f"Parameters: {'; '.join(a.params)}.", ""] if a.params else []
    per = ", ".join(f"{d}: {v}" for d, v in a.by_dataset.items())
    lines += [
        f"Verdict: **{a.verdict}** ({per}); the claim holds when all {sum(k.counts for k in a.checks)} "
        "counted checks hold.",
        "",
    ]
    lines += [
        "| dataset | metric | comparison | effect [95% CI] | n | paper | verdict | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k in a.checks:
        lines.append(
            f"| {k.dataset} | {k.metric} | {_comparison(k)} | {_effect(k)} | {_n(k)} | "
            f"{_num(k.paper_effect, k)} | {_verdict(k)} | {_why(k)} |"
        )
    return [*lines, ""]


def _digits(check: Check) -> int:
    return 3 if check.table in FIGURES else 2  # cosines, scores, relative errors; errors in % points


def _num(x: float | None, check: Check) -> str:
    return "–" if x is None else f"{x:+.{_digits(check)}f}"


def _effect(k: Check) -> str:
    if k.effect is None:
        return "–"
    if k.ci is None:
        return _num(k.effect, k)
    return f"{_num(k.effect, k)} [{_num(k.ci[0], k)}, {_num(k.ci[1], k)}]"


def _comparison(k: Check) -> str:
    right = k.right if k.reference is None else f"{k.right} = {k.reference:g}"
    text = f"{k.left} {k.expect} {right}"
    return text + (f", not worse by > {k.margin:g}" if k.kind == "not_worse" else "")


def _n(k: Check) -> str:
    if k.verdict == "not run" or (k.effect is None and not k.n_left):
        return "–"
    if k.n_right is None:
        return f"{k.n_left} {k.unit} vs a fixed number"
    return f"{k.n_left} / {k.n_right} {k.unit}"


def _verdict(k: Check) -> str:
    return k.verdict if k.counts else f"{k.verdict} (not counted)"


def _why(k: Check) -> str:
    text = k.why.replace("|", "/")
    return f"{text}; run `{k.make}`" if k.make else text


def _failures(sweeps: Sweeps) -> list[str]:
    found = [(e.table.name, e.relative(d), m) for e in sweeps.read() for d, m in e.failed]
    if not found:
        return []
    lines = ["## Failed runs (their checks are not run; rerun the table's sweep to retry them)", ""]
    return lines + [f"- {t}: `{d}`: {m}" for t, d, m in found] + [""]


def _not_counted(sweeps: Sweeps) -> list[str]:
    """Per table, every result found under its sweep folder that no check counts, with the reason."""
    found = [e for e in sweeps.read() if e.not_counted]
    if not found:
        return []
    why = "a result counts only at its planned place with its planned configuration"
    lines = [
        "## Not counted",
        "",
        f"Found under the tables' sweep folders and left out of every number: {why}.",
        "",
    ]
    for evidence in found:
        lines += not_counted_lines(evidence, heading=f"### {evidence.table.name}:")
    return lines
