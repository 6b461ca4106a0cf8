"""Render a paper table from a sweep: our numbers beside the paper's, the difference, and for every
non-baseline row its difference to the baseline with a 95% Welch interval.

    python -m crelu_repro.tables convpool [--sweep-dir multirun/convpool] [--out results] [--planned 10]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from . import runio
from .cli_paths import fail, input_dir, output_dir, write_error
from .errors import CreluError
from .paper import tables as paper_tables
from .results import Result, ResultError, results_under
from .stats import vote_error, welch_difference
from .sweep import failed_runs


@dataclass(frozen=True)
class TableSpec:
    title: str
    paper_key: str  # section of tables.yaml
    datasets: tuple[str, ...]
    baseline: str
    metrics: tuple[tuple[str, str], ...]  # (result.json key, column title); the first gets Average ± std
    quotes: str | None = None  # tables.yaml section of comparison rows quoted as static references


CIFAR = ("cifar10", "cifar100")
TABLES = {
    "convpool": TableSpec(
        "ConvPool-CNN-C on CIFAR (test error %)", "convpool_cifar", CIFAR, "relu", (("test_error", "test"),)
    ),
    "vgg": TableSpec(
        "VGG-style 13 conv + 2 FC on CIFAR (test error %)", "vgg_cifar", CIFAR, "vgg_relu",
        (("test_error", "test"),), quotes="sota_cifar",
    ),
    "regularization": TableSpec(
        "Regularization: train vs test error (%), full training set", "regularization", CIFAR, "relu",
        (("test_error", "test"), ("train_error", "train")),
    ),
    "imagenet": TableSpec(
        "All-CNN-B on ImageNet (error %; 10p = 10-patch)", "allcnnb_imagenet", ("imagenet",), "allcnnb_relu",
        (("test_error", "top1"), ("test_error_top5", "top5"), ("test_error_10patch", "top1_10patch"),
         ("test_error_top5_10patch", "top5_10patch")),
        quotes="sota_imagenet",
    ),
}  # fmt: skip


def collect(sweep_dir: Path) -> dict[tuple[str, str], list[tuple[Path, Result]]]:
    """(model, dataset) -> [(run dir, result)] for every complete run under `sweep_dir` (a malformed
    result.json is named in a warning and left out)."""
    groups: dict[tuple[str, str], list[tuple[Path, Result]]] = defaultdict(list)
    for run_dir, result in results_under(sweep_dir):
        if isinstance(result, ResultError):
            print(f"warning: {result}", file=sys.stderr)
            continue
        groups[(result.model, result.dataset)].append((run_dir, result))
    return groups


def _vote(runs: list[tuple[Path, dict]]) -> float | None:
    """The error of the runs' vote, if every run kept scores for the same test labels."""
    scores, labels = [], None
    for run_dir, _ in runs:
        s, l_path = run_dir / runio.SCORES, run_dir / runio.LABELS
        if not (s.exists() and l_path.exists()):
            return None
        lab = np.load(l_path)
        if labels is not None and not np.array_equal(labels, lab):
            return None
        scores.append(np.load(s).astype(np.float32))
        labels = lab
    return vote_error(np.stack(scores), labels) if scores else None


def _paper(spec: TableSpec, model: str, dataset: str, key: str) -> dict:
    entry = paper_tables()[spec.paper_key].get(model, {})
    if spec.paper_key == "regularization":
        return {"average": entry.get(dataset, {}).get(key.removesuffix("_error"))}
    if spec.paper_key == "allcnnb_imagenet":
        return {"average": entry.get(dict(spec.metrics)[key])}
    cell = entry.get(dataset, {})
    return {"average": cell.get("average"), "spread": cell.get("spread"), "vote": cell.get("vote")}


def build_rows(spec: TableSpec, groups: dict, planned: int) -> list[dict]:
    rows = []
    for dataset in spec.datasets:
        base = [getattr(r, spec.metrics[0][0]) for _, r in groups.get((spec.baseline, dataset), [])]
        for model in paper_tables()[spec.paper_key]:
            runs = groups.get((model, dataset), [])
            row = {"model": model, "dataset": dataset, "models": len(runs), "planned": planned,
                   "params": runs[0][1].params if runs else None,
                   "paper_params": paper_tables()[spec.paper_key].get(model, {}).get("params")}  # fmt: skip
            for key, _ in spec.metrics:
                values = [getattr(r, key) for _, r in runs if getattr(r, key) is not None]
                paper = _paper(spec, model, dataset, key)
                ours = float(np.mean(values)) if values else None
                row[key] = {
                    "average": ours, "std": float(np.std(values, ddof=1)) if len(values) > 1 else None,
                    "values": values, "paper": paper,
                    "diff": None if ours is None or paper["average"] is None else ours - paper["average"],
                }  # fmt: skip
            main = row[spec.metrics[0][0]]
            if spec.paper_key in ("convpool_cifar", "vgg_cifar"):
                main["vote"] = _vote(runs)
                paper_vote = main["paper"].get("vote")
                main["vote_diff"] = (
                    None if main["vote"] is None or paper_vote is None else main["vote"] - paper_vote
                )
            if model != spec.baseline:
                d = welch_difference(main["values"], base)
                row["vs_baseline"] = d and {"delta": d.delta, "low": d.low, "high": d.high,
                                            "significant": d.significant,
                                            "no_interval": d.why_no_interval}  # fmt: skip
            rows.append(row)
    return rows


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


def _versus(row: dict, baseline: str) -> str:
    vs = row.get("vs_baseline")
    if row["model"] == baseline:
        return "baseline"
    if vs is None:
        return "–"
    if vs["low"] is None:  # n < 2 or zero spread: a difference, but no interval and no claim
        return f"{vs['delta']:+.2f} (no interval: {vs['no_interval']})"
    star = " *" if vs["significant"] else ""
    return f"{vs['delta']:+.2f} [{vs['low']:+.2f}, {vs['high']:+.2f}]{star}"


def markdown(name: str, spec: TableSpec, rows: list[dict], sweep_dir: Path, groups: dict, quick: bool) -> str:
    any_result = next((r for runs in groups.values() for _, r in runs), None)
    lines = [f"# {spec.title}{' — QUICK (CPU smoke settings, not comparable)' if quick else ''}", "",
             f"Generated {date.today().isoformat()} from `{sweep_dir}` by `make table-{name}`."]  # fmt: skip
    if any_result:
        c = any_result.config
        versions = sorted({r.code_version for runs in groups.values() for _, r in runs})
        lines.append(
            f"Recipe: {c['trainer']['epochs']} epochs, batch {c['trainer']['batch_size']}, "
            f"{c['optim']['name']} lr {c['optim']['lr']}, {c['sched']['name']} schedule, "
            f"protocol {c['eval']['protocol']}, "
            f"crop padding {c['dataset']['crop_padding']}, flip {c['dataset']['flip']}; device "
            f"{any_result.device}; code {', '.join(versions)}; training images per run "
            f"{any_result.num_train}."
        )
    lines += ["", "Ours − paper: positive means our error is higher. vs baseline: difference of the mean "
              f"error to `{spec.baseline}` with a 95% Welch interval (* = the interval excludes 0). "
              "Models: runs found / planned (! = fewer than planned).", ""]  # fmt: skip
    for dataset in spec.datasets:
        lines += [f"## {dataset}", ""]
        head = ["model", "models"]
        for key, title in spec.metrics:
            head += [f"{title} ours", f"{title} paper", "ours − paper"]
            if key == "test_error" and spec.paper_key in ("convpool_cifar", "vgg_cifar"):
                head += ["vote ours", "vote paper", "ours − paper"]
        head += ["vs baseline (95% CI)", "params ours", "params paper"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in (r for r in rows if r["dataset"] == dataset):
            mark = "" if row["models"] >= row["planned"] else " !"
            cells = [row["model"], f"{row['models']}/{row['planned']}{mark}"]
            for key, _ in spec.metrics:
                cell = row[key]
                cells += [_avg(cell), _paper_avg(cell["paper"]), _f(cell["diff"], signed=True)]
                if "vote" in cell:
                    cells += [
                        _f(cell["vote"]),
                        _f(cell["paper"].get("vote")),
                        _f(cell["vote_diff"], signed=True),
                    ]
            cells.append(_versus(row, spec.baseline))
            cells += [
                f"{row['params'] / 1e6:.2f}M" if row["params"] else "–",
                str(row["paper_params"] or "–"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if spec.quotes:
        lines += ["## Comparison rows quoted by the paper (static references, not re-run)", ""]
        for who, numbers in paper_tables()[spec.quotes].items():
            lines.append(f"- {who}: " + ", ".join(f"{k} {v}" for k, v in numbers.items()))
        lines.append("")
    failures = failed_runs(sweep_dir) if Path(sweep_dir).exists() else []
    if failures:
        lines += ["## Failed runs (rerun the sweep to retry them)", ""]
        lines += [f"- `{d}`: {e}" for d, e in failures] + [""]
    return "\n".join(lines)


def render(name: str, sweep_dir: Path, out_dir: Path, planned: int, quick: bool = False) -> Path:
    spec = TABLES[name]
    groups = collect(sweep_dir)
    rows = build_rows(spec, groups, planned)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"{name}.md"
    md.write_text(markdown(name, spec, rows, sweep_dir, groups, quick))
    payload = {"table": name, "title": spec.title, "sweep_dir": str(sweep_dir), "quick": quick, "rows": rows,
               "failed": failed_runs(sweep_dir) if Path(sweep_dir).exists() else []}  # fmt: skip
    (out_dir / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
    return md


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=sorted(TABLES))
    parser.add_argument("--sweep-dir", type=Path, help="default: multirun/<table>")
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--planned", type=int, default=10, help="models planned per row (eval.models)")
    parser.add_argument("--quick", action="store_true", help="mark the table as a QUICK smoke table")
    args = parser.parse_args(argv)
    sweep_dir = args.sweep_dir or Path("multirun") / args.table
    try:
        input_dir(
            sweep_dir, "--sweep-dir", f"run `make table-{args.table}` first, or give the sweep's folder"
        )
        output_dir(args.out, "--out")
        path = render(args.table, sweep_dir, args.out, args.planned, args.quick)
    except CreluError as err:
        return fail(err)
    except OSError as err:  # after the checks: disk full, permissions
        return fail(write_error(err, f"the {args.table} table"))
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
