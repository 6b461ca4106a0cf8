"""results/<table>.md and .json: the rows, the recipe they show, the failed runs and what was not counted.
Both files are written atomically (core/files.py)."""

from __future__ import annotations

import shlex
from datetime import date
from pathlib import Path

from ...core import files
from ..paper import tables as paper_tables
from .evidence import Evidence, collect
from .planned import Table
from .rows import build_rows


def render(table: Table, out_dir: Path) -> Path:
    """Collect `table`'s runs and write <out_dir>/<table>.md and .json; return the .md path."""
    evidence = collect(table)
    rows = build_rows(evidence)
    md = out_dir / f"{table.name}.md"
    files.write_text(md, markdown(evidence, rows))
    files.write_json(out_dir / f"{table.name}.json", payload(evidence, rows))
    return md


def payload(evidence: Evidence, rows: list[dict]) -> dict:
    t = evidence.table
    return {
        "table": t.name, "title": t.spec.title, "sweep_dir": str(t.sweep_dir), "quick": t.quick,
        "overrides": list(t.args), "recipe": t.recipe, "recipe_text": t.recipe_text(), "rows": rows,
        "failed": [list(f) for f in evidence.failed],
        "not_counted": [n.to_json() for n in evidence.not_counted],
    }  # fmt: skip


def command(table: Table) -> str:
    """The make command that trains and renders this table."""
    args = f' ARGS="{shlex.join(table.args)}"' if table.args else ""
    return f"make table-{table.name}{' QUICK=1' if table.quick else ''}{args}"


def markdown(evidence: Evidence, rows: list[dict]) -> str:
    t = evidence.table
    spec, counted = t.spec, [r.result for r in evidence.runs if r.counts]
    lines = [f"# {spec.title}{' — QUICK (CPU smoke settings, not comparable)' if t.quick else ''}", "",
             f"Generated {date.today().isoformat()} by `{command(t)}` from exactly the runs that "
             f"`configs/experiment/{t.name}.yaml` plans in `{t.sweep_dir}`."]  # fmt: skip
    recipe = f", with `{' '.join(t.recipe)}`" if t.recipe else ""
    lines.append(f"Recipe: the experiment file's{recipe}: {t.recipe_text()}.")
    if counted:
        versions = ", ".join(sorted({r.code_version for r in counted}))
        devices = ", ".join(sorted({r.device for r in counted}))
        images = ", ".join(str(n) for n in sorted({r.num_train for r in counted}))
        lines.append(f"Runs: device {devices}; code {versions}; training images per run {images}.")
    base = f"`{t.baseline}`" if t.baseline else "the baseline row (none: no row is its family's plain table)"
    intro = (
        "Our runs only: the paper has no such table. "
        if spec.paper is None
        else ("Ours − paper: positive means our error is higher. ")
    )
    lines += [
        "",
        intro + f"vs baseline: difference of the mean error to {base} with a 95% Welch interval (* = the "
        "interval excludes 0). Models: runs counted / planned (! = fewer than planned); a run counts only "
        "at its planned place with its planned configuration (see Not counted).",
        "",
    ]
    for dataset in t.datasets:
        lines += [f"## {dataset}", "", *_table_lines(t, [r for r in rows if r["dataset"] == dataset]), ""]
    if spec.quotes:
        lines += ["## Comparison rows quoted by the paper (static references, not re-run)", ""]
        for who, numbers in paper_tables()[spec.quotes].items():
            lines.append(f"- {who}: " + ", ".join(f"{k} {v}" for k, v in numbers.items()))
        lines.append("")
    if evidence.failed:
        lines += ["## Failed runs (rerun the sweep to retry them)", ""]
        lines += [f"- `{evidence.relative(d)}`: {e}" for d, e in evidence.failed] + [""]
    lines += not_counted_lines(evidence)
    return "\n".join(lines)


def not_counted_lines(evidence: Evidence, heading: str = "##") -> list[str]:
    if not evidence.not_counted:
        return []
    lines = [f"{heading} Not counted (found in `{evidence.table.sweep_dir}`, left out of every number)", ""]
    return lines + [f"- `{evidence.relative(n.path)}`: {n.reason}" for n in evidence.not_counted] + [""]


def _f(x: float | None, signed: bool = False) -> str:
    return "–" if x is None else (f"{x:+.2f}" if signed else f"{x:.2f}")


def _avg(cell: dict) -> str:
    if cell["average"] is None:
        return "–"
    return _f(cell["average"]) + (f" ± {cell['std']:.2f}" if cell["std"] is not None else "")


def _paper_avg(paper: dict) -> str:
    if paper.get("average") is None:
        return "–"
    return _f(paper["average"]) + (f" ± {paper['spread']:.2f}" if paper.get("spread") is not None else "")


def _versus(row: dict, baseline: str | None) -> str:
    vs = row.get("vs_baseline")
    if row["model"] == baseline:
        return "baseline"
    if vs is None:
        return "–"
    if vs["low"] is None:  # n < 2 or zero spread: a difference, but no interval and no claim
        return f"{vs['delta']:+.2f} (no interval: {vs['no_interval']})"
    star = " *" if vs["significant"] else ""
    return f"{vs['delta']:+.2f} [{vs['low']:+.2f}, {vs['high']:+.2f}]{star}"


def _vote(main: dict) -> str:
    return _f(main["vote"]) + (
        f" ({main['vote_note']})" if main["vote"] is not None and main["vote_note"] else ""
    )


def _table_lines(table: Table, rows: list[dict]) -> list[str]:
    spec = table.spec
    paper = spec.paper is not None
    head = ["model", "models"]
    for metric in spec.metrics:
        head += [f"{metric.title} ours", f"{metric.title} paper", "ours − paper"] if paper else [metric.title]
    head += ["vote ours", "vote paper", "ours − paper"] if spec.vote else []
    head += ["vs baseline (95% CI)", "params ours"] + (["params paper"] if paper else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        mark = "" if row["models"] >= row["planned"] else " !"
        cells = [row["model"], f"{row['models']}/{row['planned']}{mark}"]
        for metric in spec.metrics:
            cell = row[metric.key]
            cells += (
                [_avg(cell), _paper_avg(cell["paper"]), _f(cell["diff"], signed=True)]
                if paper
                else [_avg(cell)]
            )
        main = row[spec.metrics[0].key]
        if spec.vote:
            cells += [_vote(main), _f(main["paper"].get("vote")), _f(main["vote_diff"], signed=True)]
        cells += [_versus(row, table.baseline), f"{row['params'] / 1e6:.2f}M" if row["params"] else "–"]
        cells += [str(row["paper_params"] or "–")] if paper else []
        lines.append("| " + " | ".join(cells) + " |")
    return lines
