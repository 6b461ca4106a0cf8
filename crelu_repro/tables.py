"""Render a paper table from a sweep: our numbers beside the paper's, the difference, and for every
non-baseline row its difference to the baseline with a 95% Welch interval.

    python -m crelu_repro.tables convpool [--sweep-dir multirun/convpool] [--out results] [--quick]

A table's rows are its experiment's (configs/experiment/<table>.yaml), its planned models per row the
runs' eval.models; the paper's numbers come from crelu_repro/paper/tables.yaml.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from . import runio
from .cli_paths import fail, input_dir, output_dir, write_error
from .config import compose
from .errors import CreluError
from .models import Variant, baseline, label, load_variant
from .paper import tables as paper_tables
from .results import Result, ResultError, results_under
from .stats import vote_error, welch_difference
from .sweep import failed_runs


@dataclass(frozen=True)
class TableSpec:
    title: str
    paper_key: str | None  # section of tables.yaml; None: a study of ours (no paper column)
    datasets: tuple[str, ...]
    metrics: tuple[tuple[str, str], ...]  # (result.json key, column title); the first gets Average ± std
    quotes: str | None = None  # tables.yaml section of comparison rows quoted as static references
    vote: bool = False  # the paper prints a Vote column

    @functools.cached_property
    def experiment(self) -> DictConfig:
        """The table's sweep as `train.py -m experiment=<name>` composes it (its hydra node included)."""
        name = next(k for k, v in TABLES.items() if v is self)
        return compose([f"experiment={name}"], return_hydra_config=True)

    @functools.cached_property
    def _sweep(self) -> dict[str, list]:
        """The experiment's model choices: `model` names, `model.acts` / `model.widths` tables."""
        params = self.experiment.hydra.sweeper.params or {}
        sweep = {k: _choices(k, params[k]) for k in ("model", "model.acts", "model.widths") if k in params}
        return {"model": [self.experiment.model.name], "model.acts": [{}], "model.widths": [{}], **sweep}

    @functools.cached_property
    def rows(self) -> list[str]:
        """The model labels the sweep trains, in its order: the experiment's `model` x `model.acts` x
        `model.widths` choices (configs/experiment/<table>.yaml is where a table's rows are listed)."""
        return list(self.variants())

    def variants(self) -> dict[str, Variant]:
        """label -> the description of each row."""
        out = {}
        for name, acts, widths in itertools.product(*self._sweep.values()):
            v = load_variant(name)
            v = replace(v, acts={**v.acts, **acts}, widths={**v.widths, **widths})
            out.setdefault(label(v), v)
        return out

    @property
    def baseline(self) -> str:
        """The family's baseline (the registered variant that is the plain layer table)."""
        return baseline(load_variant(self._sweep["model"][0]).family)

    @property
    def planned(self) -> int:
        return int(self.experiment.eval.models)


def _choices(key: str, value: str) -> list:
    override = OverridesParser.create().parse_overrides([f"{key}={value}"])[0]
    return list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]


CIFAR = ("cifar10", "cifar100")
TABLES = {
    "convpool": TableSpec(
        "ConvPool-CNN-C on CIFAR (test error %)", "convpool_cifar", CIFAR, (("test_error", "test"),),
        vote=True,
    ),
    "vgg": TableSpec(
        "VGG-style 13 conv + 2 FC on CIFAR (test error %)", "vgg_cifar", CIFAR, (("test_error", "test"),),
        quotes="sota_cifar", vote=True,
    ),
    "regularization": TableSpec(
        "Regularization: train vs test error (%), full training set", "regularization", CIFAR,
        (("test_error", "test"), ("train_error", "train")),
    ),
    "imagenet": TableSpec(
        "All-CNN-B on ImageNet (error %; 10p = 10-patch)", "allcnnb_imagenet", ("imagenet",),
        (("test_error", "top1"), ("test_error_top5", "top5"), ("test_error_10patch", "top1_10patch"),
         ("test_error_top5_10patch", "top5_10patch")),
        quotes="sota_imagenet",
    ),
    # Ours: where to place CReLU (the paper's discussion: "invariance score gives an idea where to place
    # CReLU"). ConvPool-CNN-C with CReLU on none, conv1, conv1-2, conv1-4, conv1-5 and conv1-7.
    "placement": TableSpec(
        "Where to place CReLU: ConvPool-CNN-C on CIFAR (test error %, ours only)", None, CIFAR,
        (("test_error", "test"), ("train_error", "train")),
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


def _vote(runs: list[tuple[Path, Result]]) -> float | None:
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
    entry = paper_tables()[spec.paper_key].get(model, {}) if spec.paper_key else {}
    if spec.paper_key == "regularization":
        return {"average": entry.get(dataset, {}).get(key.removesuffix("_error"))}
    if spec.paper_key == "allcnnb_imagenet":
        return {"average": entry.get(dict(spec.metrics)[key])}
    cell = entry.get(dataset, {})
    return {"average": cell.get("average"), "spread": cell.get("spread"), "vote": cell.get("vote")}


def planned_models(spec: TableSpec, groups: dict) -> int:
    """Models per row: the runs' own eval.models (what their sweep planned), else the experiment's."""
    found = [r.config.get("eval", {}).get("models") for runs in groups.values() for _, r in runs]
    return max((int(m) for m in found if m), default=spec.planned)


def build_rows(spec: TableSpec, groups: dict, planned: int | None = None) -> list[dict]:
    """One row per (dataset, model label): Average ± std, Vote where the paper prints one, the paper's
    numbers and the difference, and the difference to the baseline row with a Welch interval."""
    planned = planned_models(spec, groups) if planned is None else planned
    rows = []
    for dataset in spec.datasets:
        base = [getattr(r, spec.metrics[0][0]) for _, r in groups.get((spec.baseline, dataset), [])]
        for model in spec.rows:
            runs = groups.get((model, dataset), [])
            paper_entry = paper_tables()[spec.paper_key].get(model, {}) if spec.paper_key else {}
            row = {"model": model, "dataset": dataset, "models": len(runs), "planned": planned,
                   "params": runs[0][1].params if runs else None,
                   "paper_params": paper_entry.get("params")}  # fmt: skip
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
            if spec.vote:
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
    ours_only = spec.paper_key is None
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
    lines += ["", ("Our runs only: the paper has no such table. " if ours_only else "Ours − paper: positive "
              "means our error is higher. ") + "vs baseline: difference of the mean error to "
              f"`{spec.baseline}` with a 95% Welch interval (* = the interval excludes 0). "
              "Models: runs found / planned (! = fewer than planned).", ""]  # fmt: skip
    for dataset in spec.datasets:
        lines += [f"## {dataset}", "", *_table_lines(spec, [r for r in rows if r["dataset"] == dataset]), ""]
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


def _table_lines(spec: TableSpec, rows: list[dict]) -> list[str]:
    paper = spec.paper_key is not None
    head = ["model", "models"]
    for _, title in spec.metrics:
        head += [f"{title} ours", f"{title} paper", "ours − paper"] if paper else [title]
    head += ["vote ours", "vote paper", "ours − paper"] if spec.vote else []
    head += ["vs baseline (95% CI)", "params ours"] + (["params paper"] if paper else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        mark = "" if row["models"] >= row["planned"] else " !"
        cells = [row["model"], f"{row['models']}/{row['planned']}{mark}"]
        for key, _ in spec.metrics:
            cell = row[key]
            cells += (
                [_avg(cell), _paper_avg(cell["paper"]), _f(cell["diff"], signed=True)]
                if paper
                else [_avg(cell)]
            )
        main = row[spec.metrics[0][0]]
        if spec.vote:
            cells += [_f(main["vote"]), _f(main["paper"].get("vote")), _f(main["vote_diff"], signed=True)]
        cells += [_versus(row, spec.baseline), f"{row['params'] / 1e6:.2f}M" if row["params"] else "–"]
        cells += [str(row["paper_params"] or "–")] if paper else []
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render(name: str, sweep_dir: Path, out_dir: Path, quick: bool = False) -> Path:
    spec = TABLES[name]
    groups = collect(sweep_dir)
    rows = build_rows(spec, groups)
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
    parser.add_argument("--quick", action="store_true", help="mark the table as a QUICK smoke table")
    args = parser.parse_args(argv)
    sweep_dir = args.sweep_dir or Path("multirun") / args.table
    try:
        input_dir(
            sweep_dir, "--sweep-dir", f"run `make table-{args.table}` first, or give the sweep's folder"
        )
        output_dir(args.out, "--out")
        path = render(args.table, sweep_dir, args.out, args.quick)
    except CreluError as err:
        return fail(err)
    except OSError as err:  # after the checks: disk full, permissions
        return fail(write_error(err, f"the {args.table} table"))
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
