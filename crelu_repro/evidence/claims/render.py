"""claims.md (for people) and claims.json (one object per check, for programs)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

from ...core import files
from ...run.identity import code_version
from ..tables.render import not_counted_lines
from .assess import Assessment
from .checks import Check, Sweeps
from .paired import unmatched_text
from .spec import FIGURES, NotChecked
from .verdict import VERDICTS

QUICK_BANNER = (
    "> **QUICK smoke run** (CPU settings: a data subset, one epoch, two models per row). These verdicts "
    "mean nothing about the paper; they only show that the machinery works."
)
RULES = (
    "**Verdicts.** *reproduced*: our difference (left − right) has the paper's sign and its 95% interval "
    "excludes 0. *contradicted*: the interval excludes 0 on the other side. *inconclusive*: the interval "
    "contains 0, or there is no interval (fewer than 2 runs on a side, or zero spread). *not run*: the "
    "evidence does not exist yet; the command that makes it is named. *Not worse* checks (non-inferiority "
    "with a stated margin) are reproduced when the whole interval is at worst the margin the wrong way, "
    "contradicted when it is wholly beyond, inconclusive when it straddles the margin. A claim holds when "
    "all its counted checks hold; Votes and reconstructions through max-pooling are shown, not counted.",
    "**Intervals** (the *interval* column says which decided, and over what). Two rows' runs: the *paired* "
    "t interval over the runs matched by (seed, fold) when at least 2 pairs give one (each pair shares its "
    "training data and order, so fold-to-fold spread cancels), with *Welch*'s over all runs beside it; "
    "else Welch's. Runs without a partner are listed under the claim. Runs against a quoted number: "
    "one-sample t. All of these cover training randomness and the choice of fold on a fixed test set, "
    "not the sampling of the test set. *Votes*: intervals over the test images, **test-set uncertainty "
    "only** (the voting models fixed): two Votes get Tango's score interval (unconditional, over the test "
    "images; the discordant ones, where exactly one Vote errs, carry the difference), a Vote against a "
    "quoted number the exact binomial (Clopper-Pearson) interval. A Vote's verdict is its own kind: the "
    "*Vote (test set)* column, never part of the runs' verdict. Figures: Welch over filters (pairing) or "
    "units (invariance), one-sample over images against a reconstruction threshold.",
    "**Holm.** Within each claim, its counted checks form one family and its Votes another; each check's "
    "p-value is its verdict's own test (two-sided at 0; for *not worse*, twice the one-sided p at the "
    "margin, which is below 5% exactly when the interval clears the margin), adjusted by Holm's step-down "
    "method at 5%. The *Holm* column keeps a reproduced or contradicted verdict only where the adjusted p "
    "is at most 5%: it bounds the chance of any false verdict in the claim, where the raw column bounds "
    "each check's alone. Checks without an interval are not tested and do not enlarge the family.",
)


def write_json(path: Path, assessments: list[Assessment]) -> None:
    checks = [c.to_json() for a in assessments for c in a.checks]
    files.atomic_write(path, lambda f: f.write((json.dumps(checks, indent=1) + "\n").encode()))


def _args(args: str | None) -> str:
    return f' ARGS="{args}"' if args else ""


def markdown(
    assessments: list[Assessment], unchecked: list[NotChecked], sources: dict, quick: bool, sweeps: Sweeps
) -> str:
    """The report: banner, rules, a summary table, one section per claim, the unchecked sentences, the
    failed runs and what was found but not counted."""
    lines = ["# Does the paper hold up? The slides' claims against our runs", ""]
    lines += [QUICK_BANNER, ""] if quick else []
    lines += [
        f"Generated {date.today().isoformat()} by `make claims{' QUICK=1' if quick else ''}"
        f"{_args(sources.get('args'))}` (code `{code_version()}`) from the sweeps in `{sources['sweeps']}` "
        f"and the figures in `{sources['figures']}`.",
        "",
    ]
    lines += [line for rule in RULES for line in (rule, "")]
    lines += [
        "## Summary",
        "",
        "| claim | slide | verdict | Holm | Vote (test set) | per dataset | checks |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in assessments:
        per = ", ".join(f"{d}: {v}" for d, v in a.by_dataset.items())
        vote = "–" if a.vote is None else f"{a.vote} (Holm: {a.vote_holm})"
        lines.append(
            f"| “{a.claim.quote}” (`{a.claim.id}`) | {a.claim.slide} | **{a.verdict}** | {a.holm} | {vote} | "
            f"{per} | {_tally(a.checks)} |"
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
    vote = "" if a.vote is None else f"; its Votes (test set only): **{a.vote}** (Holm: {a.vote_holm})"
    lines += [
        f"Verdict: **{a.verdict}** ({per}), after Holm: **{a.holm}**{vote}; the claim holds when all "
        f"{sum(k.counts for k in a.checks)} counted checks hold.",
        "",
    ]
    lines += [
        "| dataset | metric | comparison | effect [95% CI] | interval | n | paper | verdict | Holm | why |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k in a.checks:
        lines.append(
            f"| {k.dataset} | {k.metric} | {_comparison(k)} | {_effect(k)} | {_interval(k)} | {_n(k)} | "
            f"{_num(k.paper_effect, k)} | {_verdict(k)} | {_holm(k)} | {_why(k)} |"
        )
    unmatched = [k for k in a.checks if k.unmatched]
    lines += (
        ["", "Runs without a partner at the same (seed, fold), in Welch's interval only:"]
        if unmatched
        else []
    )
    lines += [f"- {k.id}: {unmatched_text(k.unmatched)}" for k in unmatched]
    return [*lines, ""]


METHODS = {"welch": "Welch", "paired": "paired", "one-sample": "one-sample t", "tango": "Tango score",
           "binomial": "exact binomial"}  # fmt: skip


def _interval(k: Check) -> str:
    """Which interval decided, over how many of what; Welch's beside a paired one."""
    i = k.interval
    if i is None:
        return "–"
    text = f"{METHODS[i['method']]}, {i['n']} {i['unit']}"
    if "discordant" in i:
        text += f" ({i['discordant']} discordant)"
    if k.welch is not None:
        w = k.welch
        text += "; Welch " + ("none" if w["low"] is None else f"[{_num(w['low'], k)}, {_num(w['high'], k)}]")
    return text


def _holm(k: Check) -> str:
    if k.holm is None:
        return "–"
    p = k.holm["p_adjusted"]
    return k.holm["verdict"] + ("" if p is None else f" (p {_p(p)})")


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


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
