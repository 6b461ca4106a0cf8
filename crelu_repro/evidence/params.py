"""Parameter table, paper vs ours: `python -m crelu_repro.params [--json] [--write DIR]`.

`params` counts every trainable parameter; `conv_weights` only conv and linear weights (no biases, no
BN), which is what the paper's counts are: its All-CNN-B numbers reproduce to the weight.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import nn

from ..core import files
from ..core.errors import CreluError, fail
from ..core.files import output_dir
from ..core.paths import dataset_classes
from ..models import baseline, build_model, load_variant
from ..run.identity import code_version
from .paper import parse_count, reported_models


def count(model: nn.Module) -> tuple[int, int]:
    """(all trainable parameters, conv + linear weights only)."""
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    return params, weights


def _count_model(name: str, dataset: str) -> tuple[int, int]:
    with torch.device("meta"):  # shapes only: no memory, no initialization cost
        return count(build_model(name, dataset_classes(dataset)))


def param_rows() -> list[dict]:
    """One row per (model, dataset) that the paper reports."""
    rows = []
    for model, dataset, printed in reported_models():
        params, weights = _count_model(model, dataset)
        variant = load_variant(model)
        baseline_weights = _count_model(baseline(variant.family), dataset)[1]
        rows.append(
            {
                "model": model,
                "dataset": dataset,
                "params": params,
                "conv_weights": weights,
                "conv_weights_m": round(weights / 1e6, 2),
                "paper_params": parse_count(printed),
                "ratio_to_baseline": round(weights / baseline_weights, 3),
                "note": " ".join(variant.note.split()),
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    def m(x: int | None) -> str:
        return "-" if x is None else f"{x / 1e6:.2f}M"

    lines = [
        "# Parameters: paper vs ours",
        "",
        "`ours (conv+fc weights)` counts conv and linear weights only (the paper's convention);",
        "`ours (all)` adds biases and BN. Ratio: conv weights against the family's ReLU baseline.",
        "",
        f"Written by `make table-params` (`python -m crelu_repro.params --write DIR`), code "
        f"`{code_version()}`.",
        "",
        "| model | dataset | paper | ours (conv+fc weights) | ours (all) | ratio | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['dataset']} | {m(r['paper_params'])} | {m(r['conv_weights'])} | "
            f"{m(r['params'])} | {r['ratio_to_baseline']:.2f}x | {r['note']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--write", metavar="DIR", help="also write DIR/table_params.md and .json")
    args = parser.parse_args(argv)
    try:  # before the counting: a bad folder fails at once
        out = output_dir(Path(args.write), "--write") if args.write else None
    except CreluError as err:
        return fail(err)
    rows = param_rows()
    if out:
        try:
            files.write_text(out / "table_params.md", markdown(rows))  # atomic, never through a link
            files.write_text(out / "table_params.json", json.dumps(rows, indent=1) + "\n")
        except CreluError as err:  # a link in the place of a file, a full disk: one line, nothing followed
            return fail(err)
    sys.stdout.write(json.dumps(rows, indent=1) + "\n" if args.json else markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
